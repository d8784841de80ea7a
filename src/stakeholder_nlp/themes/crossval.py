"""Coding a corpus with a codebook, and agreement with the researcher's coding on quotes the coder did not
learn from.

:func:`code_corpus` is what the pipeline calls: zero-shot coding when no quote is coded (or learning is
off), otherwise a :class:`~stakeholder_nlp.themes.coder.ThemeCoder` learned from the coded quotes codes the
rest. Agreement is measured

* for a learned coder, by grouped cross-validation (:func:`cross_validated_predictions`): the coded quotes
  are split into folds by speaker, and each fold is coded by a coder that learned only from the other
  folds, so no quote, and no speaker, is ever scored by a coder that saw it;
* for a zero-shot coder, on every coded quote (it learned from none).

Columns of :func:`agreement_table` (:data:`AGREEMENT_COLUMNS`): ``theme_id``, ``label``, ``n_quotes``
(coded quotes evaluated), ``n_human``, ``n_machine``, ``n_both``, ``human_prevalence``,
``machine_prevalence``, ``kappa`` (Cohen's), ``kappa_lo``/``kappa_hi`` (95% bootstrap interval resampling
speakers), ``precision``, ``recall``, ``evaluation`` (``cross-validated by speaker`` or ``zero-shot``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..embedding import embed_texts
from .codebook import Codebook
from .coder import ThemeCoder

AGREEMENT_COLUMNS = ("theme_id", "label", "n_quotes", "n_human", "n_machine", "n_both", "human_prevalence",
                     "machine_prevalence", "kappa", "kappa_lo", "kappa_hi", "precision", "recall", "evaluation")
CROSS_VALIDATED = "cross-validated by speaker"
ZERO_SHOT = "zero-shot"


def speaker_groups(speakers: Sequence) -> np.ndarray:
    """Cross-validation groups: the speaker, or the quote itself when the speaker is unknown."""
    out = []
    for i, s in enumerate(speakers):
        missing = s is None or (isinstance(s, float) and np.isnan(s)) or (isinstance(s, str) and not s.strip())
        out.append(f"\x00quote{i}" if missing else str(s))
    return np.asarray(out, dtype=object)


def kappa_columns(human: np.ndarray, machine: np.ndarray) -> np.ndarray:
    """Cohen's kappa per column of two boolean matrices (``nan`` where both raters are constant alike)."""
    h, m = np.asarray(human, bool), np.asarray(machine, bool)
    n = h.shape[0]
    if n == 0:
        return np.full(h.shape[1], np.nan)
    po = (h == m).mean(axis=0)
    ph, pm = h.mean(axis=0), m.mean(axis=0)
    pe = ph * pm + (1 - ph) * (1 - pm)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (po - pe) / (1 - pe)
    return np.where(pe >= 1 - 1e-12, np.nan, k)


def agreement_table(human: np.ndarray, machine: np.ndarray, codebook: Codebook, groups: Sequence, *,
                    evaluation: str, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per theme: Cohen's kappa with a speaker-bootstrap interval, and human vs machine prevalence."""
    h, m = np.asarray(human, bool), np.asarray(machine, bool)
    g = np.asarray(list(groups), dtype=object).astype(str)
    kappa = kappa_columns(h, m)
    uniq, inv = np.unique(g, return_inverse=True)
    members = [np.flatnonzero(inv == j) for j in range(len(uniq))]
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot if len(uniq) >= 2 else 0):
        idx = np.concatenate([members[j] for j in rng.integers(0, len(uniq), len(uniq))])
        boots.append(kappa_columns(h[idx], m[idx]))
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = np.nanpercentile(np.array(boots), 2.5, axis=0) if boots else np.full(h.shape[1], np.nan)
            hi = np.nanpercentile(np.array(boots), 97.5, axis=0) if boots else np.full(h.shape[1], np.nan)
    rows = []
    for k, theme in enumerate(codebook.themes):
        both = int((h[:, k] & m[:, k]).sum())
        nh, nm = int(h[:, k].sum()), int(m[:, k].sum())
        rows.append({"theme_id": theme.id, "label": theme.name, "n_quotes": len(h), "n_human": nh, "n_machine": nm,
                     "n_both": both, "human_prevalence": nh / len(h) if len(h) else np.nan,
                     "machine_prevalence": nm / len(h) if len(h) else np.nan, "kappa": float(kappa[k]),
                     "kappa_lo": float(lo[k]), "kappa_hi": float(hi[k]),
                     "precision": both / nm if nm else np.nan, "recall": both / nh if nh else np.nan,
                     "evaluation": evaluation})
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """Out-of-fold coding of the coded quotes.

    ``predictions``: quote × theme booleans (rows of quotes not evaluated are all False); ``evaluated``:
    which quotes were coded out of fold; ``fold``: each quote's fold (-1: not evaluated); ``trained_on``:
    per fold, the positions of the quotes its coder learned from.
    """

    predictions: pd.DataFrame
    evaluated: np.ndarray
    fold: np.ndarray
    trained_on: tuple[np.ndarray, ...]


def cross_validated_predictions(make_coder: Callable[[], ThemeCoder] | None, x: np.ndarray | None, *, y: np.ndarray,
                                coded: np.ndarray, groups: Sequence, context: np.ndarray | None = None,
                                n_splits: int = 5, random_state: int = 0,
                                fit_fold: Callable | None = None, texts: Sequence[str] | None = None) -> CrossValidation:
    """Code every coded quote with a coder that learned from other speakers' coded quotes only.

    The coded quotes are split into ``n_splits`` folds by group (speaker); the coder of a fold learns from
    the coded quotes of the other folds. ``fit_fold`` (instead of ``make_coder`` and ``x``): a callable
    ``(y, coded, groups) -> FoldFit`` that fits a coder and its own quote vectors from the training quotes
    (a coder on a fine-tuned encoder, :class:`~stakeholder_nlp.themes.tuned.TunedFitter`). ``texts``: the
    quotes' texts, for a coder that reads their words (its vocabulary then comes from the fold's training quotes).
    """
    from sklearn.model_selection import GroupKFold

    y = np.asarray(y, dtype=bool)
    coded = np.asarray(coded, dtype=bool)
    g = np.asarray(list(groups), dtype=object).astype(str)
    idx = np.flatnonzero(coded)
    n_groups = len(np.unique(g[idx]))
    if n_groups < 2:
        raise ValueError(f"cross-validation needs coded quotes from at least 2 speakers; found {n_groups}")
    folds = GroupKFold(n_splits=min(n_splits, n_groups), shuffle=True, random_state=random_state)
    pred = np.zeros(y.shape, dtype=bool)
    fold = np.full(len(y), -1, dtype=np.int64)
    trained = []
    ids = None
    for f, (tr, te) in enumerate(folds.split(idx, groups=g[idx])):
        train_mask = np.zeros(len(y), dtype=bool)
        train_mask[idx[tr]] = True
        train_y = np.where(train_mask[:, None], y, False)
        if fit_fold is not None:
            fitted = fit_fold(train_y, train_mask, g)
            coder, xf, cf = fitted.coder, fitted.x, fitted.context
        else:
            coder = make_coder().fit(x, context=context, y=train_y, coded=train_mask, groups=g, texts=texts)
            xf, cf = x, context
        test = idx[te]
        out = coder.predict(xf[test], context=None if cf is None else cf[test],
                            texts=None if texts is None else [texts[i] for i in test])
        ids = list(out.columns)
        pred[test] = out.to_numpy()
        fold[test] = f
        trained.append(np.flatnonzero(train_mask))
    return CrossValidation(pd.DataFrame(pred, columns=ids), fold >= 0, fold, tuple(trained))


@dataclass(frozen=True, slots=True)
class Coding:
    """The codebook coding of a corpus (see :func:`code_corpus`).

    ``membership``/``probability``: quote × theme; ``source``: per quote, ``human`` (its own coding kept)
    or ``machine``; ``agreement``: :data:`AGREEMENT_COLUMNS` table, or ``None`` when no quote is coded;
    ``mode``: ``zero-shot``, ``learned`` or ``learned, fine-tuned encoder``; ``n_coded``: coded quotes.
    """

    membership: pd.DataFrame
    probability: pd.DataFrame
    source: np.ndarray
    agreement: pd.DataFrame | None
    mode: str
    n_coded: int
    coder: ThemeCoder


def code_corpus(codebook: Codebook, embedder, x: np.ndarray, *, context: np.ndarray | None = None,
                codes: Sequence[Sequence[str]] | None = None, speakers: Sequence | None = None, learn: bool = False,
                keep_human: bool = True, n_splits: int = 5, n_boot: int = 1000, seed: int = 0, cache=None,
                texts: Sequence[str] | None = None, contexts: Sequence[str | None] | None = None,
                fine_tune: bool = False, fine_tune_steps: int = 200, **coder_params) -> Coding:
    """Code a corpus with a codebook.

    ``codes``: each quote's human codes (empty: not coded), mapped to themes by the codebook
    (``human_codes``, or a theme's id or name). With ``learn`` and coded quotes, the coder learns from them
    and codes the rest, coded quotes keep their human coding (``keep_human``), and agreement is
    cross-validated by speaker; otherwise coding is zero-shot and agreement is measured on all coded quotes.
    ``texts`` (one per row of ``x``): a learned coder reads the coded quotes' words beside their embeddings
    (:class:`~stakeholder_nlp.themes.coder.ThemeCoder` ``text_features``).
    ``fine_tune`` (with ``learn``; needs ``texts``, and ``contexts`` when context is used): the learned coder
    runs on an encoder fine-tuned to the coded quotes (:class:`~stakeholder_nlp.themes.tuned.TunedFitter`,
    ``fine_tune_steps`` steps), fitted afresh in every cross-validation fold.
    """
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    groups = speaker_groups(speakers if speakers is not None else [None] * n)

    phrases = ThemeCoder(codebook, embedder).phrases()
    vectors = np.asarray(embed_texts(phrases, embedder, cache=cache).vectors, dtype=np.float32)

    def make() -> ThemeCoder:  # the codebook's phrases are embedded once for every coder
        return ThemeCoder(codebook, embedder, cache=cache, random_state=seed, phrase_vectors=vectors, **coder_params)

    y = codebook.human_matrix(codes) if codes is not None else np.zeros((n, len(codebook.themes)), dtype=bool)
    coded = np.array([len(c) > 0 for c in codes], dtype=bool) if codes is not None else np.zeros(n, dtype=bool)
    learned = learn and coded.any()
    fitter = None
    if learned and fine_tune:
        from .tuned import TunedFitter

        if texts is None or len(texts) != n:
            raise ValueError("fine_tune needs the quotes' texts (texts=, one per row of x)")
        fitter = TunedFitter(codebook, texts, contexts if context is not None else None, steps=fine_tune_steps,
                             seed=seed, **coder_params)
        fitted = fitter(y, coded, groups)
        coder, xv, cv_ = fitted.coder, fitted.x, fitted.context
    elif learned:
        coder, xv, cv_ = make().fit(x, context=context, y=y, coded=coded, groups=groups, texts=texts), x, context
    else:
        coder, xv, cv_ = make().fit(x, context=context), x, context
    proba = coder.predict_proba(xv, context=cv_, texts=texts)
    member = proba.ge(coder.thresholds_, axis=1)
    source = np.full(n, "machine", dtype=object)
    agreement = None
    if learned:
        if len(np.unique(groups[coded])) >= 2:
            cv = cross_validated_predictions(make, x, y=y, coded=coded, groups=groups, context=context,
                                             n_splits=n_splits, random_state=seed, fit_fold=fitter, texts=texts)
            ev = cv.evaluated
            agreement = agreement_table(y[ev], cv.predictions.to_numpy()[ev], codebook, groups[ev],
                                        evaluation=CROSS_VALIDATED, n_boot=n_boot, seed=seed)
        if keep_human:
            member.loc[coded] = y[coded]
            source[coded] = "human"
    elif coded.any():
        agreement = agreement_table(y[coded], member.to_numpy()[coded], codebook, groups[coded],
                                    evaluation=ZERO_SHOT, n_boot=n_boot, seed=seed)
    mode = f"{coder.mode_}, fine-tuned encoder" if fitter is not None else coder.mode_
    return Coding(member.astype(bool), proba, source, agreement, mode, int(coded.sum()), coder)
