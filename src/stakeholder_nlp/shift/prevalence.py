"""Prevalence of each theme per wave, and its shift between two waves, with honest uncertainty.

:func:`prevalence_levels` -> one row per theme × wave (:data:`LEVEL_COLUMNS`):
``theme_id``, ``wave``, ``n_quotes`` (quotes in the wave), ``n_theme`` (of them carrying the theme),
``n_speakers_theme`` (distinct speakers voicing it), ``share``, ``share_lo``, ``share_hi`` (95% cluster
bootstrap interval).

:func:`prevalence_shift` -> one row per theme (:data:`SHIFT_COLUMNS`):
``theme_id``, ``wave_a``, ``wave_b``, ``share_a``, ``share_b``, ``diff`` (b - a), ``diff_lo``, ``diff_hi``,
``ratio`` (b / a), ``ratio_lo``, ``ratio_hi``, ``test`` (``gee-logit`` or ``speaker-fisher``), ``p_value``,
``q_value`` (Benjamini-Hochberg across themes), ``significant``, ``status`` (``present``, ``emerging``: only
in wave b, ``vanished``: only in wave a, ``absent``), ``underpowered``, and, with strata,
``adj_diff``, ``adj_diff_lo``, ``adj_diff_hi``, ``composition_flag``.

The test: a logistic GEE of "quote carries the theme" on wave, clustered by speaker (exchangeable working
correlation, bias-reduced sandwich covariance: few clusters), from statsmodels. When a wave has no quote
with the theme (separation) or the GEE fails, a speaker-level Fisher exact test (did each speaker voice the
theme at all?) is used instead. A theme voiced in fewer than ``min_quotes`` quotes or by fewer than
``min_speakers`` speakers is flagged ``underpowered`` and never called significant.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .bootstrap import bootstrap_means, cluster_ids, cluster_totals, percentile_ci
from .waves import bh_qvalues, wave_pair

LEVEL_COLUMNS = ("theme_id", "wave", "n_quotes", "n_theme", "n_speakers_theme", "share", "share_lo", "share_hi")
SHIFT_COLUMNS = ("theme_id", "wave_a", "wave_b", "share_a", "share_b", "diff", "diff_lo", "diff_hi", "ratio",
                 "ratio_lo", "ratio_hi", "test", "p_value", "q_value", "significant", "status", "underpowered",
                 "adj_diff", "adj_diff_lo", "adj_diff_hi", "composition_flag")


def _as_frame(membership) -> pd.DataFrame:
    return membership if isinstance(membership, pd.DataFrame) else pd.DataFrame(membership)


def prevalence_levels(membership: pd.DataFrame, waves: Sequence, speakers: Sequence, *, n_boot: int = 2000,
                      seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    m = _as_frame(membership).astype(float)
    waves = np.asarray(list(waves), dtype=object)
    wave_levels = sorted(set(waves.tolist()))
    clusters = cluster_ids(list(speakers), waves)
    totals = cluster_totals(m.to_numpy(), clusters, waves)
    reps = bootstrap_means(totals, wave_levels, n_boot=n_boot, seed=seed)
    lo, hi = percentile_ci(reps, level)
    rows = []
    spk = np.asarray([None if s is None or s == "" else s for s in speakers], dtype=object)
    for j, w in enumerate(wave_levels):
        in_w = waves == w
        for t, col in enumerate(m.columns):
            has = in_w & (m[col].to_numpy() > 0)
            rows.append({"theme_id": col, "wave": w, "n_quotes": int(in_w.sum()), "n_theme": int(has.sum()),
                         "n_speakers_theme": len({s for s in spk[has] if s is not None}),
                         "share": float(m.loc[in_w, col].mean()) if in_w.any() else np.nan,
                         "share_lo": float(lo[j, t]), "share_hi": float(hi[j, t])})
    return pd.DataFrame(rows, columns=list(LEVEL_COLUMNS))


def _gee_pvalue(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> float:
    import statsmodels.api as sm
    from statsmodels.genmod.cov_struct import Exchangeable

    design = sm.add_constant(x.astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.GEE(y.astype(float), design, groups=groups, family=sm.families.Binomial(),
                       cov_struct=Exchangeable())
        res = model.fit(cov_type="bias_reduced", maxiter=100)
    p = float(res.pvalues[1])
    if not np.isfinite(p) or not np.isfinite(res.params[1]) or abs(res.params[1]) > 20:
        raise ValueError("GEE did not give a usable estimate")
    return p


def _speaker_fisher(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> float:
    from scipy.stats import fisher_exact

    df = pd.DataFrame({"y": y, "x": x, "g": groups}).groupby("g").agg(y=("y", "max"), x=("x", "first"))
    table = pd.crosstab(df["x"], df["y"]).reindex(index=[0, 1], columns=[0, 1], fill_value=0).to_numpy()
    return float(fisher_exact(table).pvalue)


def prevalence_shift(membership: pd.DataFrame, waves: Sequence, speakers: Sequence, *,
                     wave_a=None, wave_b=None, strata: pd.DataFrame | None = None, n_boot: int = 2000,
                     seed: int = 0, level: float = 0.95, alpha: float = 0.05, min_quotes: int = 5,
                     min_speakers: int = 3) -> pd.DataFrame:
    """Shift of every theme between ``wave_a`` and ``wave_b`` (default: first and last wave)."""
    m = _as_frame(membership).astype(float)
    waves, wave_a, wave_b = wave_pair(waves, wave_a, wave_b)
    keep = (waves == wave_a) | (waves == wave_b)
    m = m.loc[keep].reset_index(drop=True)
    w = waves[keep]
    spk = [s for s, k in zip(speakers, keep, strict=True) if k]
    clusters = cluster_ids(spk, w)
    totals = cluster_totals(m.to_numpy(), clusters, w)
    reps = bootstrap_means(totals, [wave_a, wave_b], n_boot=n_boot, seed=seed)
    diff_reps = reps[:, 1, :] - reps[:, 0, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_reps = reps[:, 1, :] / reps[:, 0, :]
    d_lo, d_hi = percentile_ci(diff_reps, level)
    r_lo, r_hi = percentile_ci(np.where(np.isfinite(ratio_reps), ratio_reps, np.nan), level)
    adj = None
    if strata is not None and len(strata.columns):
        adj = _adjusted_diff(m, w, spk, strata.loc[keep].reset_index(drop=True), wave_a, wave_b, n_boot, seed, level)
    x = (w == wave_b).astype(int)
    rows = []
    for t, col in enumerate(m.columns):
        y = m[col].to_numpy() > 0
        a, b = y[x == 0], y[x == 1]
        share_a, share_b = float(a.mean()), float(b.mean())
        status = ("absent" if not y.any() else "emerging" if not a.any() else "vanished" if not b.any()
                  else "present")
        n_spk = len({s for s, yy in zip(spk, y, strict=True) if yy and s})
        under = int(y.sum()) < min_quotes or n_spk < min_speakers
        test, p = "none", np.nan
        if y.any():
            try:
                if status != "present":
                    raise ValueError("separation")
                p, test = _gee_pvalue(y, x, clusters), "gee-logit"
            except (ValueError, np.linalg.LinAlgError):
                p, test = _speaker_fisher(y.astype(int), x, clusters), "speaker-fisher"
        row = {"theme_id": col, "wave_a": wave_a, "wave_b": wave_b, "share_a": share_a, "share_b": share_b,
               "diff": share_b - share_a, "diff_lo": float(d_lo[t]), "diff_hi": float(d_hi[t]),
               "ratio": share_b / share_a if share_a > 0 else np.inf if share_b > 0 else np.nan,
               "ratio_lo": float(r_lo[t]), "ratio_hi": float(r_hi[t]), "test": test, "p_value": p,
               "status": status, "underpowered": bool(under)}
        if adj is not None:
            row.update(adj[t])
        rows.append(row)
    out = pd.DataFrame(rows)
    out["q_value"] = bh_qvalues(out["p_value"])
    out["significant"] = (out["q_value"] < alpha) & ~out["underpowered"]
    if adj is not None:
        pooled_sig = (out["diff_lo"] > 0) | (out["diff_hi"] < 0)
        adj_sig = (out["adj_diff_lo"] > 0) | (out["adj_diff_hi"] < 0)
        sign_flip = np.sign(out["diff"]) * np.sign(out["adj_diff"]) < 0
        out["composition_flag"] = (sign_flip | (pooled_sig != adj_sig)) & out["adj_diff"].notna()
    else:
        out["adj_diff"] = out["adj_diff_lo"] = out["adj_diff_hi"] = np.nan
        out["composition_flag"] = False
    return out[list(SHIFT_COLUMNS)]


def _adjusted_diff(m: pd.DataFrame, w: np.ndarray, spk: list, strata: pd.DataFrame, wave_a, wave_b,
                   n_boot: int, seed: int, level: float) -> list[dict]:
    """Directly standardised difference: the within-stratum wave difference, weighted by each stratum's
    size over both waves; strata seen in only one wave cannot be compared and are left out."""
    key = strata.astype(str).agg("|".join, axis=1).to_numpy()
    usable = [s for s in np.unique(key) if {wave_a, wave_b} <= set(w[key == s].tolist())]
    weights = np.array([(key == s).sum() for s in usable], dtype=float)
    weights = weights / weights.sum() if len(weights) else weights
    k = m.shape[1]
    est = np.zeros(k)
    reps = np.zeros((n_boot, k))
    for s, wt in zip(usable, weights, strict=True):
        sel = key == s
        ms, ws = m.loc[sel].to_numpy(), w[sel]
        sp = [spk[i] for i in np.flatnonzero(sel)]
        est += wt * (ms[ws == wave_b].mean(0) - ms[ws == wave_a].mean(0))
        cl = cluster_ids(sp, ws)
        r = bootstrap_means(cluster_totals(ms, cl, ws), [wave_a, wave_b], n_boot=n_boot, seed=seed)
        reps += wt * np.nan_to_num(r[:, 1, :] - r[:, 0, :])
    if not usable:
        return [{"adj_diff": np.nan, "adj_diff_lo": np.nan, "adj_diff_hi": np.nan} for _ in range(k)]
    lo, hi = percentile_ci(reps, level)
    return [{"adj_diff": float(est[t]), "adj_diff_lo": float(lo[t]), "adj_diff_hi": float(hi[t])} for t in range(k)]
