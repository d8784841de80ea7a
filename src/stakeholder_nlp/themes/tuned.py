"""A learned codebook coder on an encoder fine-tuned to the researcher's coding (see :mod:`.finetune`).

:class:`TunedFitter` fits, for one set of coded quotes, the encoder's top layers (contrastive, SetFit-style:
:func:`~stakeholder_nlp.themes.finetune.fine_tune_encoder` on the coded quotes and the codebook's own
phrases), re-embeds the quotes, their contexts and the codebook with it, and fits the usual
:class:`~stakeholder_nlp.themes.coder.ThemeCoder` (zero-shot prior + per-theme one-vs-rest head) on the tuned
vectors. Cross-validation calls it once per fold with that fold's training quotes only, so a quote is never
coded by an encoder or a head that learned from it. The lower layers' states are computed once per text and
shared by every fold (:class:`~stakeholder_nlp.themes.finetune.LowerStates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .codebook import Codebook
from .coder import ThemeCoder


@dataclass(frozen=True, slots=True)
class FoldFit:
    """A coder fitted on one training set, its tuned encoder, and that encoder's quote/context vectors (every
    quote)."""

    coder: ThemeCoder
    encoder: object
    x: np.ndarray
    context: np.ndarray | None


class TunedFitter:
    """Fit a coder on an encoder tuned to the coded quotes (``__call__(y, coded, groups) -> FoldFit``).

    ``texts``/``contexts``: every quote of the corpus and its context (``None`` where none); ``steps``,
    ``lr``, ``frozen_layers``: the fine-tune (:func:`~stakeholder_nlp.themes.finetune.fine_tune_encoder`);
    ``coder_params``: passed to :class:`ThemeCoder`. ``states``: shared lower-layer states (built on first
    use from the package's model when not given).
    """

    def __init__(self, codebook: Codebook, texts: Sequence[str], contexts: Sequence[str | None] | None = None, *,
                 steps: int = 200, lr: float = 5e-5, frozen_layers: int = 4, states=None, seed: int = 0,
                 **coder_params) -> None:
        self.codebook = codebook
        self.texts = [str(t) for t in texts]
        self.contexts = list(contexts) if contexts is not None else None
        self.steps = steps
        self.lr = lr
        self.frozen_layers = frozen_layers
        self.states = states
        self.seed = seed
        self.coder_params = coder_params

    def _states(self):
        if self.states is None:
            from .finetune import LowerStates

            self.states = LowerStates(frozen_layers=self.frozen_layers)
        return self.states

    def __call__(self, y: np.ndarray, coded: np.ndarray, groups: Sequence | None = None) -> FoldFit:
        from .coder import context_vectors
        from .finetune import codebook_training_set, fine_tune_encoder

        y = np.asarray(y, dtype=bool)
        coded = np.asarray(coded, dtype=bool)
        if len(y) != len(self.texts):
            raise ValueError(f"y has {len(y)} rows; expected one per text ({len(self.texts)})")
        book_texts, book_y = codebook_training_set(self.codebook)
        rows = np.flatnonzero(coded)
        encoder = fine_tune_encoder([self.texts[i] for i in rows] + book_texts, np.vstack([y[rows], book_y]),
                                    states=self._states(), steps=self.steps, lr=self.lr, seed=self.seed)
        x = encoder.encode(self.texts)
        ctx = context_vectors(self.contexts, encoder) if self.contexts is not None else None
        phrases = ThemeCoder(self.codebook, encoder).phrases()
        coder = ThemeCoder(self.codebook, encoder, phrase_vectors=encoder.encode(phrases), random_state=self.seed,
                           **self.coder_params)
        coder.fit(x, context=ctx, y=np.where(coded[:, None], y, False), coded=coded, groups=groups)
        return FoldFit(coder, encoder, x, ctx)
