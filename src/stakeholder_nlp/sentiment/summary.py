"""Sentiment per theme × wave, and its shift between waves, with cluster-robust (CR2) intervals.

:func:`sentiment_levels` -> one row per theme × wave (:data:`SENTIMENT_LEVEL_COLUMNS`): ``theme_id``,
``level`` (``theme`` or ``subtheme``), ``parent`` (a subtheme's theme id; '' for a theme), ``wave``, ``n``, ``mean``, ``mean_lo``, ``mean_hi``, ``share_negative``, ``share_neutral``,
``share_positive`` and a ``_lo``/``_hi`` interval for each share.

:func:`sentiment_shift` -> one row per theme × wave comparison (:data:`SENTIMENT_SHIFT_COLUMNS`, the names
used in ``shifts.csv``): ``theme_id``, ``level``, ``parent``, ``wave_a``, ``wave_b``, ``comparison``, ``sentiment_n_a``/``_b``
(quotes), ``sentiment_speakers_a``/``_b``, ``sentiment_a``, ``sentiment_b`` (means), ``sentiment_diff``,
``sentiment_diff_lo``, ``sentiment_diff_hi``, ``sentiment_p`` (CR2 sandwich t test with Bell-McCaffrey
degrees of freedom, speakers as clusters; the interval is the same t's), ``sentiment_q`` (Benjamini-Hochberg over every
theme × comparison), ``sentiment_significant``, ``sentiment_estimable`` (both cells voiced by 2+ speakers),
``sentiment_underpowered`` (a wave with fewer than 3 of the theme's quotes), ``sentiment_mdd``.

A subtheme's rows (given ``parents``) are the mean sentiment of the quotes placed in it, tested the same way;
its q-value shares one BH family with the themes'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..shift.waves import bh_qvalues
from .scorers import LABELS

SENTIMENT_LEVEL_COLUMNS = ("theme_id", "level", "parent", "wave", "n", "mean", "mean_lo", "mean_hi") + tuple(
    f"share_{lab}{suf}" for lab in LABELS for suf in ("", "_lo", "_hi"))
SENTIMENT_SHIFT_COLUMNS = ("theme_id", "level", "parent", "wave_a", "wave_b", "comparison", "sentiment_n_a", "sentiment_n_b",
                           "sentiment_speakers_a", "sentiment_speakers_b", "sentiment_a", "sentiment_b",
                           "sentiment_diff", "sentiment_diff_lo", "sentiment_diff_hi", "sentiment_p", "sentiment_q",
                           "sentiment_significant", "sentiment_estimable", "sentiment_underpowered",
                           "sentiment_mdd")


def _level(col, parents: Mapping[str, str]) -> dict:
    """``level`` and ``parent`` of a column (as in :data:`stakeholder_nlp.shift.prevalence.LEVEL_COLUMNS`)."""
    return {"level": "subtheme", "parent": parents[col]} if col in parents else {"level": "theme", "parent": ""}


def _score_bound(scores: np.ndarray) -> float:
    """The scores' range is [-bound, bound]: 1 for the scorers' [-1, 1], more if a score lies outside it."""
    finite = np.abs(scores[np.isfinite(scores)])
    return max(1.0, float(finite.max())) if finite.size else 1.0


def sentiment_levels(membership: pd.DataFrame, scores: np.ndarray, labels: Sequence[str], waves: Sequence,
                     speakers: Sequence, *, wave_order=None, level: float = 0.95,
                     parents: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Mean sentiment and the share of each label per theme × wave (:data:`SENTIMENT_LEVEL_COLUMNS`), under
    the same inference rules as the wave comparisons: the mean's interval is the CR2 sandwich t with
    Bell-McCaffrey df under an exchangeable working model (:func:`stakeholder_nlp.shift.inference.cr2_test`,
    intercept only), clipped to the scores' range; each label's share has the Rao-Scott design-effect Wilson
    interval of the theme prevalences (:func:`stakeholder_nlp.shift.inference.share_level_interval`).
    Speakers are the clusters; an unattributed quote is its own. A cell voiced by fewer than 2 speakers gets
    no interval. Closed form and row-order free. ``parents``: subtheme column -> its parent theme."""
    from ..shift.inference import canonical_clusters, cr2_test, share_level_interval
    from ..shift.waves import resolve_order

    order, w_all, rank = resolve_order(waves, wave_order)
    scores = np.asarray(scores, dtype=np.float64)
    onehot = np.stack([np.asarray(labels) == lab for lab in LABELS], axis=1).astype(float)
    bound = _score_bound(scores)  # a mean stays inside the scores' range
    spk = np.asarray(list(speakers), dtype=object)
    rows = []
    parents = parents or {}
    for col in membership.columns:
        has = membership[col].to_numpy(bool)
        if not has.any():
            continue
        for j, w in enumerate(order.levels):
            sel = has & (rank == j)
            row = {"theme_id": col, **_level(col, parents), "wave": w, "n": int(sel.sum()),
                   "mean": float(np.sort(scores[sel]).mean()) if sel.any() else np.nan,  # sorted: row-order free
                   "mean_lo": np.nan, "mean_hi": np.nan}
            for k, lab in enumerate(LABELS):
                row[f"share_{lab}"] = float(onehot[sel, k].mean()) if sel.any() else np.nan
                row[f"share_{lab}_lo"] = row[f"share_{lab}_hi"] = np.nan
            ids, g = canonical_clusters(spk[sel], np.column_stack([scores[sel], onehot[sel]]))
            if g >= 2:  # voiced by fewer than 2 speakers: not estimable
                mean = cr2_test(scores[sel], ids, g, level=level, exchangeable=True)
                if np.isfinite(mean.lo[0]):
                    row["mean_lo"], row["mean_hi"] = max(float(mean.lo[0]), -bound), min(float(mean.hi[0]), bound)
                shares = share_level_interval(onehot[sel], ids, g, level=level)
                for k, lab in enumerate(LABELS):
                    row[f"share_{lab}_lo"], row[f"share_{lab}_hi"] = float(shares.lo[k]), float(shares.hi[k])
            rows.append(row)
    return pd.DataFrame(rows, columns=list(SENTIMENT_LEVEL_COLUMNS))


def sentiment_shift(membership: pd.DataFrame, scores: np.ndarray, waves: Sequence, speakers: Sequence, *,
                    wave_order=None, wave_a=None, wave_b=None,
                    level: float = 0.95, alpha: float = 0.05, min_per_wave: int = 3,
                    parents: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Mean sentiment of each theme's quotes, between waves: one row per theme × comparison
    (:data:`SENTIMENT_SHIFT_COLUMNS`; same names as in ``shifts.csv``).

    The difference of means is tested with the CR2 (bias-reduced) cluster-robust sandwich and a t with
    Bell-McCaffrey degrees of freedom under an exchangeable working model (Imbens & Kolesar 2016;
    :func:`stakeholder_nlp.shift.inference.cr2_test`), speakers as clusters (a speaker heard in both waves
    is one cluster); the interval is estimate ± t × se from the same t, so it excludes 0 exactly when
    p < 1 - ``level``; the interval is clipped to the possible range of a difference ([-2, 2] for scores on
    [-1, 1]). Closed form, no resampling. A
    theme × wave cell voiced by fewer than 2 speakers is not estimable: no difference, interval or p-value is
    given for a comparison involving it. ``sentiment_underpowered``: a wave with fewer than ``min_per_wave``
    of the theme's quotes. BH family: every theme × comparison; with ``parents`` (subtheme column -> its
    parent theme) every theme and subtheme × comparison, one family across both levels.
    """
    from ..shift.inference import canonical_clusters, cr2_test
    from ..shift.power import mdd
    from ..shift.waves import comparison_rows, resolve_order

    order, w_all, rank = resolve_order(waves, wave_order)
    scores = np.asarray(scores, dtype=np.float64)
    # scores lie on [-1, 1]: a difference cannot leave [-2, 2], so the interval is clipped there (at very few
    # speakers the t quantile alone reaches past it); clipping never moves 0 in or out of the interval
    bound = 2.0 * _score_bound(scores)
    spk = np.asarray(list(speakers), dtype=object)
    rows = []
    parents = parents or {}
    for a, b, kind in comparison_rows(order, wave_a, wave_b):
        ra, rb = order.levels.index(a), order.levels.index(b)
        for col in membership.columns:
            has = membership[col].to_numpy(bool) & ((rank == ra) | (rank == rb))
            is_b = rank[has] == rb
            y = scores[has]
            ids, g = canonical_clusters(spk[has], np.column_stack([is_b, y]))
            na, nb = int((~is_b).sum()), int(is_b.sum())
            ga, gb = len(np.unique(ids[~is_b])), len(np.unique(ids[is_b]))
            estimable = ga >= 2 and gb >= 2
            row = {"theme_id": col, **_level(col, parents), "wave_a": a, "wave_b": b, "comparison": kind, "sentiment_n_a": na,
                   "sentiment_n_b": nb, "sentiment_speakers_a": ga, "sentiment_speakers_b": gb,
                   "sentiment_a": float(np.sort(y[~is_b]).mean()) if na else np.nan,  # sorted: row-order free
                   "sentiment_b": float(np.sort(y[is_b]).mean()) if nb else np.nan,
                   "sentiment_diff": np.nan, "sentiment_diff_lo": np.nan, "sentiment_diff_hi": np.nan,
                   "sentiment_p": np.nan, "sentiment_estimable": estimable,
                   "sentiment_underpowered": na < min_per_wave or nb < min_per_wave, "sentiment_mdd": np.nan}
            if estimable:
                res = cr2_test(y, ids, g, is_b.astype(np.float64), level=level, exchangeable=True)
                row.update(sentiment_diff=float(res.estimate[0]), sentiment_diff_lo=max(float(res.lo[0]), -bound),
                           sentiment_diff_hi=min(float(res.hi[0]), bound), sentiment_p=float(res.p_value[0]),
                           sentiment_mdd=float(mdd(res.se, g, df=res.df)[0]))
            rows.append(row)
    out = pd.DataFrame(rows, columns=[c for c in SENTIMENT_SHIFT_COLUMNS if c not in ("sentiment_q",
                                                                                      "sentiment_significant")])
    out["sentiment_q"] = bh_qvalues(out["sentiment_p"])
    out["sentiment_significant"] = ((out["sentiment_q"] < alpha) & out["sentiment_estimable"]
                                    & ~out["sentiment_underpowered"])
    return out[list(SENTIMENT_SHIFT_COLUMNS)]
