"""Sentiment per theme × wave, and its shift between waves, with cluster-bootstrap intervals.

:func:`sentiment_levels` -> one row per theme × wave (:data:`SENTIMENT_LEVEL_COLUMNS`): ``theme_id``,
``wave``, ``n``, ``mean``, ``mean_lo``, ``mean_hi``, ``share_negative``, ``share_neutral``,
``share_positive`` and a ``_lo``/``_hi`` interval for each share.

:func:`sentiment_shift` -> one row per theme (:data:`SENTIMENT_SHIFT_COLUMNS`): ``theme_id``, ``wave_a``,
``wave_b``, ``mean_a``, ``mean_b``, ``diff``, ``diff_lo``, ``diff_hi``, ``p_value`` (Gaussian GEE on wave,
clustered by speaker, bias-reduced covariance), ``q_value`` (Benjamini-Hochberg), ``underpowered``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..shift.bootstrap import bootstrap_means, cluster_ids, cluster_totals, percentile_ci
from ..shift.waves import bh_qvalues, wave_pair
from .scorers import LABELS

SENTIMENT_LEVEL_COLUMNS = ("theme_id", "wave", "n", "mean", "mean_lo", "mean_hi") + tuple(
    f"share_{lab}{suf}" for lab in LABELS for suf in ("", "_lo", "_hi"))
SENTIMENT_SHIFT_COLUMNS = ("theme_id", "wave_a", "wave_b", "mean_a", "mean_b", "diff", "diff_lo", "diff_hi",
                           "p_value", "q_value", "underpowered")


def sentiment_levels(membership: pd.DataFrame, scores: np.ndarray, labels: Sequence[str], waves: Sequence,
                     speakers: Sequence, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    waves = np.asarray(list(waves), dtype=object)
    levels = sorted(set(waves.tolist()))
    scores = np.asarray(scores, dtype=np.float64)
    onehot = np.stack([np.asarray(labels) == lab for lab in LABELS], axis=1).astype(float)
    values = np.column_stack([scores, onehot])  # (n, 4)
    clusters = cluster_ids(list(speakers), waves)
    rows = []
    for col in membership.columns:
        has = membership[col].to_numpy(bool)
        if not has.any():
            continue
        cl = cluster_ids([s for s, h in zip(speakers, has, strict=True) if h], waves[has])
        totals = cluster_totals(values[has], cl, waves[has])
        reps = bootstrap_means(totals, levels, n_boot=n_boot, seed=seed)
        lo, hi = percentile_ci(reps, level)
        for j, w in enumerate(levels):
            sel = has & (waves == w)
            row = {"theme_id": col, "wave": w, "n": int(sel.sum()),
                   "mean": float(scores[sel].mean()) if sel.any() else np.nan,
                   "mean_lo": float(lo[j, 0]), "mean_hi": float(hi[j, 0])}
            for k, lab in enumerate(LABELS, start=1):
                row[f"share_{lab}"] = float(values[sel, k].mean()) if sel.any() else np.nan
                row[f"share_{lab}_lo"], row[f"share_{lab}_hi"] = float(lo[j, k]), float(hi[j, k])
            rows.append(row)
    del clusters
    return pd.DataFrame(rows, columns=list(SENTIMENT_LEVEL_COLUMNS))


def _gee_gaussian_p(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> float:
    import statsmodels.api as sm
    from statsmodels.genmod.cov_struct import Exchangeable

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GEE(y, sm.add_constant(x.astype(float)), groups=groups, family=sm.families.Gaussian(),
                     cov_struct=Exchangeable()).fit(cov_type="bias_reduced", maxiter=100)
    return float(res.pvalues[1])


def sentiment_shift(membership: pd.DataFrame, scores: np.ndarray, waves: Sequence, speakers: Sequence, *,
                    wave_a=None, wave_b=None, n_boot: int = 2000, seed: int = 0, level: float = 0.95,
                    min_per_wave: int = 3) -> pd.DataFrame:
    waves, wave_a, wave_b = wave_pair(waves, wave_a, wave_b)
    scores = np.asarray(scores, dtype=np.float64)
    rows = []
    for col in membership.columns:
        has = membership[col].to_numpy(bool) & ((waves == wave_a) | (waves == wave_b))
        sp = [s for s, h in zip(speakers, has, strict=True) if h]
        w = waves[has]
        y = scores[has]
        na, nb = int((w == wave_a).sum()), int((w == wave_b).sum())
        row = {"theme_id": col, "wave_a": wave_a, "wave_b": wave_b,
               "mean_a": float(y[w == wave_a].mean()) if na else np.nan,
               "mean_b": float(y[w == wave_b].mean()) if nb else np.nan,
               "diff": np.nan, "diff_lo": np.nan, "diff_hi": np.nan, "p_value": np.nan,
               "underpowered": na < min_per_wave or nb < min_per_wave}
        if na and nb:
            cl = cluster_ids(sp, w)
            reps = bootstrap_means(cluster_totals(y, cl, w), [wave_a, wave_b], n_boot=n_boot, seed=seed)
            d = reps[:, 1, 0] - reps[:, 0, 0]
            lo, hi = percentile_ci(d, level)
            row.update(diff=row["mean_b"] - row["mean_a"], diff_lo=float(lo), diff_hi=float(hi))
            if na >= 2 and nb >= 2 and len(np.unique(cl)) > 2:
                try:
                    row["p_value"] = _gee_gaussian_p(y, (w == wave_b).astype(int), cl)
                except (ValueError, np.linalg.LinAlgError):
                    pass
        rows.append(row)
    out = pd.DataFrame(rows)
    out["q_value"] = bh_qvalues(out["p_value"])
    return out[list(SENTIMENT_SHIFT_COLUMNS)]
