"""One theme table for both kinds of theme: codebook (deductive) and topic (inductive), and the modes
that combine them: ``inductive`` (topics only), ``deductive`` (codebook only) and ``hybrid`` (codebook
first, then topics on the quotes no codebook theme claims, so emergent themes still surface).

:class:`ThemeResult` holds

``themes`` (DataFrame, :data:`THEME_COLUMNS`)
    ``theme_id`` (codebook id, or ``topic_<k>`` / ``emergent_<k>``), ``label``, ``kind`` (``codebook`` or
    ``topic``), ``n_quotes``, ``terms`` (list of str), ``representative`` (quote positions).
``membership`` (DataFrame of bool, one row per quote in corpus order, one column per ``theme_id``)
``scores`` (DataFrame of float, same shape: codebook similarity, or 1.0/0.0 for topic membership)
``topic_labels`` (ndarray of int per quote: the inductive topic, -1 where none)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..embedding import Embedder
from .codebook import Codebook
from .topics import TopicModel

THEME_COLUMNS = ("theme_id", "label", "kind", "n_quotes", "terms", "representative")
MODES = ("inductive", "deductive", "hybrid")


@dataclass(frozen=True, slots=True)
class ThemeResult:
    themes: pd.DataFrame
    membership: pd.DataFrame
    scores: pd.DataFrame
    topic_labels: np.ndarray
    mode: str
    threshold: float | None = None
    #: agreement of the codebook coding with the human codes (themes.crossval.AGREEMENT_COLUMNS), or None
    agreement: pd.DataFrame | None = None
    #: how the codebook was applied: "zero-shot" or "learned" (from coded quotes); None without a codebook
    coding: str | None = None

    def theme_ids(self) -> list[str]:
        return self.themes["theme_id"].tolist()

    def primary(self) -> list[str]:
        """Per quote, its highest-scoring theme ('' when it carries none)."""
        n = len(self.membership)
        if self.membership.shape[1] == 0:
            return [""] * n
        s = np.where(self.membership.to_numpy(dtype=bool), self.scores[self.membership.columns].to_numpy(float),
                     -np.inf)
        s[np.isnan(s)] = -np.inf  # as idxmax, which skips NaN
        best = s.argmax(1)  # the first of equal scores, as idxmax
        ok = np.isfinite(s[np.arange(n), best])
        cols = self.membership.columns.tolist()
        return [cols[b] if o else "" for b, o in zip(best.tolist(), ok.tolist(), strict=True)]


def fit_themes(texts: Sequence[str], embeddings: np.ndarray, *, codebook: Codebook | None = None,
               mode: str | None = None, embedder: Embedder | None = None, topic_model: TopicModel | None = None,
               random_state: int = 0, min_uncoded_for_topics: int = 8, context: np.ndarray | None = None,
               codes: Sequence[Sequence[str]] | None = None, speakers: Sequence | None = None, learn: bool = False,
               cache=None, n_boot: int = 1000, contexts: Sequence[str | None] | None = None,
               fine_tune: bool = False) -> ThemeResult:
    """Fit the themes of a corpus. ``mode`` defaults to ``hybrid`` with a codebook, else ``inductive``.

    Codebook themes are coded by :func:`~stakeholder_nlp.themes.crossval.code_corpus` (one decision per
    theme): ``context`` (context embeddings, zeros where none) is used when given; ``codes`` (human codes
    per quote, empty = not coded) give agreement, and with ``learn`` the coder learns from them
    (agreement cross-validated by ``speakers``). ``fine_tune`` (with ``learn``): the learned coder runs on an
    encoder fine-tuned to the coded quotes (``texts`` and, with ``context``, ``contexts``, the context strings,
    are re-embedded by it; minutes per fit, see :mod:`~stakeholder_nlp.themes.tuned`). Codebook scores in the
    result are probabilities."""
    mode = mode or ("hybrid" if codebook is not None else "inductive")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if mode != "inductive" and codebook is None:
        raise ValueError(f"mode {mode!r} needs a codebook")
    if mode != "inductive" and embedder is None:
        raise ValueError("codebook themes need the embedder that made the quote embeddings")
    texts = list(texts)
    emb = np.asarray(embeddings, dtype=np.float32)
    threshold = None
    codebook_part = None
    coding = None
    if mode in ("deductive", "hybrid"):
        from .crossval import code_corpus

        coding = code_corpus(codebook, embedder, emb, context=context, codes=codes, speakers=speakers, learn=learn,
                             seed=random_state, cache=cache, n_boot=n_boot, texts=texts, contexts=contexts,
                             fine_tune=fine_tune)
        threshold = coding.coder.threshold
        codebook_part = (codebook, coding.probability, coding.membership)
    result = _assemble(texts, emb, mode, codebook_part, threshold, topic_model or TopicModel(
        random_state=random_state, embedder=embedder), min_uncoded_for_topics)
    if coding is None:
        return result
    return replace(result, agreement=coding.agreement, coding=coding.mode)


def refit_themes(reference: ThemeResult, rows: Sequence[int], texts: Sequence[str], embeddings: np.ndarray, *,
                 topic_model: TopicModel, codebook: Codebook | None = None,
                 min_uncoded_for_topics: int = 8) -> ThemeResult:
    """What :func:`fit_themes` gives on the quotes at ``rows`` (of ``texts``/``embeddings``), with the
    same mode, without refitting what cannot change: a quote's codebook scores and themes depend on that
    quote alone (its similarity to the prototypes, the threshold calibrated on the codebook, the margin to
    its own best theme), so they are taken from ``reference``; only the topics are refitted (on the quotes
    of ``rows`` no codebook theme claims, in hybrid mode). Needs no embedder: stability reruns use this in
    worker processes."""
    rows = np.asarray(rows, dtype=np.int64)
    sub_texts = [texts[i] for i in rows]
    emb = np.asarray(embeddings, dtype=np.float32)[rows]
    codebook_part = None
    if reference.mode in ("deductive", "hybrid"):
        ids = reference.themes.loc[reference.themes["kind"] == "codebook", "theme_id"].tolist()
        if codebook is None:
            from .codebook import Theme

            codebook = Codebook("reference", tuple(Theme(i, str(lab), "", ()) for i, lab in zip(
                ids, reference.themes.loc[reference.themes["kind"] == "codebook", "label"], strict=True)))
        codebook_part = (codebook, reference.scores[ids].iloc[rows].reset_index(drop=True),
                         reference.membership[ids].iloc[rows].reset_index(drop=True))
    return _assemble(sub_texts, emb, reference.mode, codebook_part, reference.threshold, topic_model,
                     min_uncoded_for_topics)


def _assemble(texts: list[str], emb: np.ndarray, mode: str, codebook_part, threshold: float | None,
              model: TopicModel, min_uncoded_for_topics: int) -> ThemeResult:
    n = len(texts)
    theme_rows: list[dict] = []
    member_cols: dict[str, np.ndarray] = {}
    score_cols: dict[str, np.ndarray] = {}
    topic_labels = np.full(n, -1, dtype=np.int64)
    claimed = np.zeros(n, dtype=bool)
    if codebook_part is not None:
        codebook, scores, indicator = codebook_part
        for theme in codebook.themes:
            s = scores[theme.id].to_numpy()
            m = indicator[theme.id].to_numpy(dtype=bool)
            member_cols[theme.id] = m
            score_cols[theme.id] = s
            claimed |= m
            rep = np.flatnonzero(m)[np.argsort(-s[m], kind="stable")][:5].tolist()
            theme_rows.append({"theme_id": theme.id, "label": theme.name, "kind": "codebook",
                               "n_quotes": int(m.sum()), "terms": [], "representative": rep})
    if mode in ("inductive", "hybrid"):
        pool = np.flatnonzero(~claimed) if mode == "hybrid" else np.arange(n)
        if len(pool) >= min_uncoded_for_topics:
            every = len(pool) == n  # inductive: every quote, so the vectors as they are (no full copy)
            model.fit(list(texts) if every else [texts[i] for i in pool], emb if every else emb[pool])
            topic_labels[pool] = model.labels_
            prefix = "emergent" if mode == "hybrid" else "topic"
            for _, row in model.topic_info_.iterrows():
                t = int(row["topic"])
                tid = f"{prefix}_{t}"
                m = topic_labels == t
                member_cols[tid] = m
                score_cols[tid] = m.astype(float)
                theme_rows.append({"theme_id": tid, "label": row["label"], "kind": "topic",
                                   "n_quotes": int(m.sum()), "terms": list(row["terms"]),
                                   "representative": [int(pool[i]) for i in row["representative"]]})
    themes = pd.DataFrame(theme_rows, columns=list(THEME_COLUMNS))
    membership = pd.DataFrame(member_cols, index=pd.RangeIndex(n)).astype(bool)
    scores_df = pd.DataFrame(score_cols, index=pd.RangeIndex(n))
    return ThemeResult(themes, membership, scores_df, topic_labels, mode, threshold)
