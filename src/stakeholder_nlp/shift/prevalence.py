"""Prevalence of each theme per wave, and its shift between waves, with one calibrated procedure.

Every interval and p-value here comes from :mod:`.inference`, speakers as clusters, each interval the
inversion of its test, so "the interval excludes 0" and "p < 0.05" agree: shares and their differences by
Rao-Scott design-effect score intervals (Miettinen-Nurminen for a difference, Wilson for one wave;
Bell-McCaffrey degrees of freedom), trends by the restricted wild cluster bootstrap-t (Webb weights).
Calibration at six speakers per wave: ``benchmarks/bench_inference.py``.

:func:`prevalence_levels` -> one row per theme × wave (:data:`LEVEL_COLUMNS`):
``theme_id``, ``level`` (``theme`` or ``subtheme``), ``parent`` (a subtheme's theme id; '' for a theme), ``wave``,
``n_quotes`` (quotes in the wave), ``n_speakers`` (speakers in the wave; an
unattributed quote counts as one), ``n_theme`` (quotes carrying the theme), ``n_speakers_theme`` (speakers
voicing it), ``share``, ``share_lo``, ``share_hi`` (95% interval, clipped to [0, 1]), ``estimable`` (False when fewer than 2
speakers voice the theme in the wave: the cell then has no interval).

The theme tree: given ``parents`` (subtheme id -> parent theme id), the columns so named are subthemes
(``level`` ``subtheme``). A subtheme's share is that of **all the wave's quotes** placed in it (the same
denominator as a theme's, not the parent's quotes: a subtheme's share is at most its parent's, and its
change is read on the same scale), tested the same way.

:func:`prevalence_shift` -> one row per theme × comparison (:data:`SHIFT_COLUMNS`; the same names as in
``shifts.csv``). Comparisons: every consecutive pair of waves in the researcher's order, plus first → last
when there are three or more (``comparison`` = ``"consecutive"`` or ``"first-last"``); differences are
*later minus earlier* (``wave_b - wave_a``).
``theme_id``, ``level``, ``parent``, ``wave_a``, ``wave_b``, ``comparison``, ``n_speakers_a``/``_b`` (speakers in the wave),
``speakers_theme_a``/``_b`` (speakers voicing the theme), ``share_a``, ``share_b``, ``share_diff``,
``share_diff_lo``, ``share_diff_hi``, ``share_p``, ``share_q`` (Benjamini-Hochberg; the family is every
theme and every subtheme × every comparison of the run: one family across both levels), ``share_significant`` (q < alpha, both cells estimable, not
underpowered), ``share_test``, ``status`` (``present``, ``emerging``: voiced only in wave b, ``vanished``:
only in wave a, ``absent``), ``estimable_a``/``_b``, ``underpowered`` (judged per wave: a wave where the
theme is voiced, but by fewer than ``min_speakers`` speakers or in fewer than ``min_quotes`` quotes),
``share_mdd`` (the smallest difference this design detects with 80% power at alpha = 0.05),
``miss_probability`` (for a theme absent from one wave: the chance that a view held by 20% of that wave's
speakers goes unheard by all of them, Fugard & Potts 2015), ``detectable_share`` (the share of speakers
holding a view that is heard at least once with 80% probability), ``adj_diff``, ``adj_diff_lo``,
``adj_diff_hi`` (strata-adjusted difference, with strata), ``composition`` (pooled and adjusted shifts
disagree in sign or in whether the interval excludes 0).

:func:`prevalence_trend` -> one row per theme (:data:`TREND_COLUMNS`) for three or more waves: the linear
trend of the share per wave step (least squares on the wave's rank, clustered by speaker, the same
procedure), ``share_trend``, ``share_trend_lo``, ``share_trend_hi``, ``share_trend_p``, ``share_trend_q``
(BH family: the themes' trend tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .inference import (
    canonical_clusters,
    cluster_sums,
    compact_ids,
    share_diff_test,
    share_level_interval,
    wild_cluster_test,
    wild_linear_functional,
)
from .power import detectable_share, mdd, miss_probability
from .waves import bh_qvalues, comparison_rows, resolve_order

LEVEL_COLUMNS = ("theme_id", "level", "parent", "wave", "n_quotes", "n_speakers", "n_theme", "n_speakers_theme", "share",
                 "share_lo", "share_hi", "estimable")
SHIFT_COLUMNS = ("theme_id", "level", "parent", "wave_a", "wave_b", "comparison", "n_speakers_a", "n_speakers_b", "speakers_theme_a",
                 "speakers_theme_b", "share_a", "share_b", "share_diff", "share_diff_lo", "share_diff_hi", "share_p",
                 "share_q", "share_significant", "share_test", "status", "estimable_a", "estimable_b",
                 "underpowered", "share_mdd", "miss_probability", "detectable_share", "adj_diff", "adj_diff_lo",
                 "adj_diff_hi", "composition")
TREND_COLUMNS = ("theme_id", "waves", "share_trend", "share_trend_lo", "share_trend_hi", "share_trend_p",
                 "share_trend_q")
TEST_NAME = "rao-scott-score"
MIN_CELL_SPEAKERS = 2
#: ``level`` values: a top-level theme, a subtheme (:mod:`stakeholder_nlp.themes.subthemes`)
LEVELS = ("theme", "subtheme")


def _level_columns(cols: list, parents) -> tuple[list[str], list[str]]:
    """Per column: its level (``subtheme`` when ``parents`` names it) and its parent theme id ('' for a theme)."""
    parents = parents or {}
    return ([LEVELS[1] if c in parents else LEVELS[0] for c in cols], [parents.get(c, "") for c in cols])


def _matrix(membership) -> tuple[np.ndarray, list]:
    """0/1 membership as uint8 (a byte per cell: the share tests take float64 copies of a few columns at a
    time, :data:`~.inference.BLOCK_BYTES`)."""
    m = membership if isinstance(membership, pd.DataFrame) else pd.DataFrame(membership)
    return (m.to_numpy() > 0).astype(np.uint8), list(m.columns)


def _clusters(speakers: np.ndarray, rank: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
    return canonical_clusters(speakers, lambda rows: np.column_stack([rank[rows], y[rows]]))


def _cell_counts(y: np.ndarray, ids: np.ndarray, g: int) -> tuple[int, np.ndarray]:
    """Speakers in the rows and, per column, speakers with at least one positive row."""
    rows, cols = np.nonzero(y)
    cells = np.unique(cols.astype(np.int64) * max(g, 1) + ids[rows])  # distinct (column, speaker) pairs
    return g, np.bincount(cells // max(g, 1), minlength=y.shape[1])


def prevalence_levels(membership: pd.DataFrame, waves: Sequence, speakers: Sequence, *, wave_order=None,
                      n_boot: int = 1999, seed: int = 0, level: float = 0.95,
                      parents: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Share of each column of ``membership`` per wave; ``parents``: subtheme column -> its parent theme."""
    y, cols = _matrix(membership)
    lv, par = _level_columns(cols, parents)
    order, w, rank = resolve_order(waves, wave_order)
    spk = np.asarray(list(speakers), dtype=object)
    ids_all, _ = _clusters(spk, rank, y)
    rows = []
    for j, wv in enumerate(order.levels):
        sel = rank == j
        yw = y[sel]
        ids, g = compact_ids(ids_all[sel])
        _, voiced = _cell_counts(yw, ids, g)
        res = share_level_interval(yw, ids, g, level=level)
        for t, col in enumerate(cols):
            ok = bool(voiced[t] >= MIN_CELL_SPEAKERS)
            rows.append({"theme_id": col, "level": lv[t], "parent": par[t], "wave": wv, "n_quotes": int(sel.sum()), "n_speakers": g,
                         "n_theme": int(yw[:, t].sum()), "n_speakers_theme": int(voiced[t]),
                         "share": float(res.estimate[t]),
                         "share_lo": float(res.lo[t]) if ok else np.nan,  # Wilson form: inside [0, 1]
                         "share_hi": float(res.hi[t]) if ok else np.nan, "estimable": ok})
    return pd.DataFrame(rows, columns=list(LEVEL_COLUMNS))


def prevalence_shift(membership: pd.DataFrame, waves: Sequence, speakers: Sequence, *, wave_order=None,
                     wave_a=None, wave_b=None, strata: pd.DataFrame | None = None, n_boot: int = 1999,
                     seed: int = 0, level: float = 0.95, alpha: float = 0.05, min_quotes: int = 5,
                     min_speakers: int = 3, parents: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Shift of every theme for every comparison of the wave order (or only ``wave_a`` -> ``wave_b``).
    ``parents``: subtheme column -> its parent theme (those columns get ``level`` ``subtheme``); every row,
    at both levels, is in one Benjamini-Hochberg family."""
    y, cols = _matrix(membership)
    lv, par = _level_columns(cols, parents)
    order, w, rank = resolve_order(waves, wave_order)
    spk = np.asarray(list(speakers), dtype=object)
    key = None
    if strata is not None and len(strata.columns):
        parts = [strata[c].astype(str) for c in strata.columns]  # vectorised: no row-wise join
        key = parts[0].str.cat(parts[1:], sep="|").to_numpy() if len(parts) > 1 else parts[0].to_numpy()
        code = np.unique(key, return_inverse=True)[1].astype(np.float64)  # sorted: row-order free
        ids_all, _ = canonical_clusters(spk, lambda rows: np.column_stack([rank[rows], code[rows], y[rows]]))
    else:
        ids_all, _ = _clusters(spk, rank, y)
    frames = []
    for a, b, kind in comparison_rows(order, wave_a, wave_b):
        ra, rb = order.levels.index(a), order.levels.index(b)
        sel = (rank == ra) | (rank == rb)
        ys, is_b = y[sel], (rank[sel] == rb)
        ids, g = compact_ids(ids_all[sel])
        res = share_diff_test(ys, ids, g, is_b, level=level)
        ia, ga = compact_ids(ids[~is_b])
        ib, gb = compact_ids(ids[is_b])
        _, va = _cell_counts(ys[~is_b], ia, ga)
        _, vb = _cell_counts(ys[is_b], ib, gb)
        qa, qb = ys[~is_b].sum(0), ys[is_b].sum(0)
        share_a, share_b = ys[~is_b].mean(0), ys[is_b].mean(0)
        status = np.where((qa == 0) & (qb == 0), "absent", np.where(qa == 0, "emerging",
                          np.where(qb == 0, "vanished", "present")))
        short_a = (qa > 0) & ((va < min_speakers) | (qa < min_quotes))
        short_b = (qb > 0) & ((vb < min_speakers) | (qb < min_quotes))
        absent_n = np.where(qa == 0, ga, np.where(qb == 0, gb, 0))
        # a cell voiced by fewer than 2 speakers is not estimable: its change gets no interval or test
        # (README, benchmarks/bench_inference.py: the calibration is judged on the intervals published)
        ok = (va >= MIN_CELL_SPEAKERS) & (vb >= MIN_CELL_SPEAKERS)
        lo, hi, p = (np.where(ok, v, np.nan) for v in (res.lo, res.hi, res.p_value))
        df = pd.DataFrame({
            "theme_id": cols, "level": lv, "parent": par, "wave_a": [a] * len(cols), "wave_b": [b] * len(cols), "comparison": kind,
            "n_speakers_a": ga, "n_speakers_b": gb, "speakers_theme_a": va, "speakers_theme_b": vb,
            "share_a": share_a, "share_b": share_b, "share_diff": res.estimate, "share_diff_lo": lo,
            "share_diff_hi": hi, "share_p": p, "share_test": np.where(status == "absent", "none",
                                                                                      TEST_NAME),
            "status": status, "estimable_a": va >= MIN_CELL_SPEAKERS, "estimable_b": vb >= MIN_CELL_SPEAKERS,
            "underpowered": short_a | short_b,
            "share_mdd": np.where(np.isfinite(p), mdd(res.se, g), np.nan),
            "miss_probability": np.where(absent_n > 0, miss_probability(0.2, absent_n), np.nan),
            "detectable_share": np.where(absent_n > 0, detectable_share(absent_n), np.nan),
        })
        if key is not None:
            adj = _adjusted_diff(ys, is_b, ids, g, key[sel], n_boot=n_boot, seed=seed, level=level)
        else:
            adj = (np.full(len(cols), np.nan),) * 3
        df["adj_diff"], df["adj_diff_lo"], df["adj_diff_hi"] = adj
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["share_q"] = bh_qvalues(out["share_p"])
    out["share_significant"] = ((out["share_q"] < alpha) & out["estimable_a"] & out["estimable_b"]
                                & ~out["underpowered"])
    pooled_sig = (out["share_diff_lo"] > 0) | (out["share_diff_hi"] < 0)
    adj_sig = (out["adj_diff_lo"] > 0) | (out["adj_diff_hi"] < 0)
    flip = np.sign(out["share_diff"]) * np.sign(out["adj_diff"]) < 0
    out["composition"] = (flip | (pooled_sig != adj_sig)) & out["adj_diff"].notna()
    return out[list(SHIFT_COLUMNS)]


def prevalence_trend(membership: pd.DataFrame, waves: Sequence, speakers: Sequence, *, wave_order=None,
                     n_boot: int = 1999, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Linear trend of each theme's share across all waves (per wave step); empty with two waves."""
    y, cols = _matrix(membership)
    order, w, rank = resolve_order(waves, wave_order)
    if len(order.levels) < 3:
        return pd.DataFrame(columns=list(TREND_COLUMNS))
    ids, g = _clusters(np.asarray(list(speakers), dtype=object), rank, y)
    res = wild_cluster_test(y, ids, g, rank.astype(np.float64), n_boot=n_boot, seed=seed, level=level)
    out = pd.DataFrame({"theme_id": cols, "waves": " → ".join(map(str, order.levels)),
                        "share_trend": res.estimate, "share_trend_lo": res.lo, "share_trend_hi": res.hi,
                        "share_trend_p": res.p_value})
    out["share_trend_q"] = bh_qvalues(out["share_trend_p"])
    return out[list(TREND_COLUMNS)]


def _adjusted_diff(y: np.ndarray, is_b: np.ndarray, ids: np.ndarray, g: int, key: np.ndarray, *, n_boot: int,
                   seed: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directly standardised difference: within-stratum wave differences weighted by each stratum's size
    over both waves (strata seen in one wave only are left out), with a wild cluster bootstrap interval.
    Vectorised over strata: cell sums by ``np.add.at`` on a (stratum, wave) cell index."""
    strata_u, s_idx = np.unique(key, return_inverse=True)
    cell = s_idx * 2 + is_b.astype(np.int64)
    n_cells = 2 * len(strata_u)
    cnt = np.bincount(cell, minlength=n_cells).astype(np.float64)
    sums = np.zeros((n_cells, y.shape[1]))
    np.add.at(sums, cell, y)
    cnt2 = cnt.reshape(-1, 2)
    usable = (cnt2 > 0).all(1)
    k = y.shape[1]
    if not usable.any():
        return (np.full(k, np.nan),) * 3
    weight = np.where(usable, cnt2.sum(1), 0.0)
    weight = weight / weight.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / cnt[:, None]
    means = np.nan_to_num(means)
    est = (weight[:, None] * (means[1::2] - means[0::2])).sum(0)
    coef = np.zeros(n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        coef[1::2] = np.where(usable, weight / cnt2[:, 1], 0.0)
        coef[0::2] = np.where(usable, -weight / cnt2[:, 0], 0.0)
    resid = (y - means[cell]) * coef[cell][:, None]
    contrib = cluster_sums(resid, ids, g)  # summed in canonical row order: row-order invariant
    lo, hi = wild_linear_functional(contrib, est, n_boot=n_boot, seed=seed + 1, level=level)
    return est, lo, hi
