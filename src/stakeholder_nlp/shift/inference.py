"""One procedure for every interval and p-value between waves: the restricted wild cluster bootstrap-t
(WCR) with Webb six-point weights, and intervals by inverting the same test.

The model is a least-squares line ``y = a + b z + u`` (``z``: the wave indicator for a two-wave difference,
the wave's rank for a trend), or a mean ``y = m + u`` for one wave's level, with errors clustered by
speaker (an unattributed quote is its own cluster). For a hypothesised value ``delta`` of ``b`` the null
is imposed (restricted residuals), each cluster's residuals are multiplied by one Webb weight
(±√½, ±1, ±√(3/2)), and the cluster-robust t of every bootstrap sample is compared with the observed t:
``p(delta) = share of |t*| >= |t|``. The p-value is ``p(0)``; the interval is ``{delta: p(delta) > alpha}``,
found by bisection on each side of the estimate. Interval and test come from the same function, so
"interval excludes 0" and "p < alpha" agree (the benchmark counts the rare exceptions, which need a
non-monotone p). References: Cameron, Gelbach & Miller (2008), Webb (2023), MacKinnon & Webb (2017),
Roodman et al. (2019, ``boottest``: test inversion).

Fast: everything a bootstrap sample needs is a polynomial in ``delta`` whose coefficients are six matrix
products ``weights (B × G) @ cluster sums (G × K)``, computed once in chunks of draws, so the test
inversion costs O(B × K) per step for all themes together; 100,000 clusters × 40 themes × 2,000 draws is a
few seconds.

Row-order invariance: clusters are put in a canonical order (named speakers by name; unattributed quotes
by wave and value), each cluster's sums are computed from canonically sorted rows, and the weights are
drawn for that order from ``seed`` alone: any permutation of the input rows gives bit-identical results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
WEBB2 = WEBB * WEBB
_CHUNK_ELEMENTS = 4_000_000  # weights drawn at most this many at a time (memory stays flat in G)
_FLOAT32_CLUSTERS = 20_000  # from this many clusters on, the bootstrap products run in float32


@dataclass(frozen=True, slots=True)
class WildResult:
    """Per column of ``y``: ``estimate``, ``lo``/``hi`` (test-inversion interval), ``p_value`` (at
    ``null``), ``se`` (cluster-robust CR1 standard error), ``n_clusters`` (clusters in the model)."""

    estimate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p_value: np.ndarray
    se: np.ndarray
    n_clusters: int
    df: np.ndarray | None = None  # reference t's degrees of freedom (t-based tests only)


def is_missing_speaker(s) -> bool:
    return s is None or s == "" or (isinstance(s, float) and np.isnan(s))


def canonical_clusters(speakers: Sequence, tiebreak) -> tuple[np.ndarray, int]:
    """Cluster id per row, in a canonical order that does not depend on the row order.

    Named speakers come first, ordered by name; each unattributed row is its own cluster, ordered by the
    rows of ``tiebreak`` (a 2-D array of values: wave rank and the data), so rows with equal keys are
    interchangeable. ``tiebreak`` may also be a function of the unattributed rows' positions returning
    their rows of that array: it is then built for those rows only (at a million named quotes, not at all).
    Returns ``(ids, n_clusters)``.
    """
    ser = pd.Series(list(speakers), dtype=object)
    named = ~(ser.isna() | (ser.astype(str) == "")).to_numpy()
    ids = np.empty(len(ser), dtype=np.int64)
    codes, names = pd.factorize(ser[named].astype(str), sort=True)
    ids[named] = codes
    rows = np.flatnonzero(~named)
    if len(rows):
        keys = tiebreak(rows) if callable(tiebreak) else np.asarray(tiebreak)[rows]
        keys = np.asarray(keys, dtype=np.float64).reshape(len(rows), -1)
        order = np.lexsort(keys.T[::-1])
        ids[rows[order]] = len(names) + np.arange(len(rows))
    return ids, len(names) + len(rows)


def cluster_sums(values: np.ndarray, ids: np.ndarray, g: int) -> np.ndarray:
    """Per-cluster column sums, summed in a canonical row order (exact whatever the input order)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if not np.all(values == np.round(values)):  # float sums depend on order: sort rows within cluster
        order = np.lexsort(tuple(values.T[::-1]) + (ids,))
        values, ids = values[order], ids[order]
    out = np.empty((g, values.shape[1]))
    for c in range(values.shape[1]):  # bincount adds row by row, as np.add.at does (the same floats), ~10x faster
        out[:, c] = np.bincount(ids, weights=values[:, c], minlength=g)
    return out


def _products(rhs: np.ndarray, weights_t: np.ndarray) -> np.ndarray:
    """``weights (draws × G) @ rhs (G × c)`` computed as ``(rhs.T @ weights_t).T`` from the clusters × draws
    layout. Callers run it under :func:`_one_blas_thread`: these products are skinny (few columns), and
    OpenBLAS splitting them over two threads made them 5-15x slower in CPU time on this project's 2-core
    machines (single-threaded: 0.03 s for 20,000 clusters × 200 draws × 40 columns)."""
    return (rhs.T @ weights_t).T


def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def webb_weights(rng: np.random.Generator, n: int, g: int) -> np.ndarray:
    return WEBB[rng.integers(0, 6, size=(n, g), dtype=np.uint8)]


def wild_cluster_test(y: np.ndarray, ids: np.ndarray, n_clusters: int, z: np.ndarray | None = None, *,
                      n_boot: int = 1999, seed: int = 0, level: float = 0.95, null: float = 0.0,
                      compute_interval: bool = True) -> WildResult:
    """WCR bootstrap-t for the slope of ``y`` (rows × K) on ``z`` (rows,), or for the mean when ``z`` is
    None; ``ids`` from :func:`canonical_clusters`. Vectorised over the K columns and the clusters."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    n, k = y.shape
    g = n_clusters
    const = z is not None
    count = cluster_sums(np.ones(n), ids, g)[:, 0]
    sy = cluster_sums(y, ids, g)
    big_n = count.sum()
    ybar = sy.sum(0) / big_n
    if const:
        z = np.asarray(z, dtype=np.float64)
        sz = cluster_sums(z, ids, g)[:, 0]
        szz = cluster_sums(z * z, ids, g)[:, 0]
        szy = cluster_sums(z[:, None] * y, ids, g)
        zbar = sz.sum() / big_n
        h = sz - count * zbar  # Σ z̃ per cluster
        f = szz - 2 * zbar * sz + count * zbar ** 2  # Σ z̃²
        zy = szy - zbar * sy  # Σ z̃ y
        s_zz = f.sum()
        est = zy.sum(0) / s_zz
        resid_sum = sy - count[:, None] * ybar - h[:, None] * est  # R_g = Σ e
        e = zy - h[:, None] * ybar - f[:, None] * est  # E_g = Σ z̃ e
    else:
        h = np.zeros(g)
        f = count
        s_zz = big_n
        est = ybar
        e = sy - count[:, None] * ybar
        resid_sum = e
    ee = (e * e).sum(0)
    small = g / max(g - 1, 1) * (big_n - 1) / max(big_n - (2 if const else 1), 1)
    se = np.sqrt(small * ee) / s_zz

    # bootstrap coefficients: two matrix products per chunk of draws, against stacked right-hand sides
    # v @ [E, E*F, F, F*F (, R, E*H, H, F*H)] and v² @ [E², E*F, F²]; the bracketed ones only with a
    # constant. With many clusters the products run in float32 (their error, ~1e-6 relative, is far below
    # the bootstrap's own); the results stay deterministic.
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // max(g, 1)))
    cols1 = [e, e * f[:, None], f[:, None], (f * f)[:, None]]
    if const:
        cols1 += [resid_sum, e * h[:, None], h[:, None], (f * h)[:, None]]
    dtype = np.float32 if g >= _FLOAT32_CLUSTERS else np.float64
    rhs1 = np.column_stack(cols1).astype(dtype)
    rhs2 = np.column_stack([e * e, e * f[:, None], f * f]).astype(dtype)
    table, table2 = WEBB.astype(dtype), WEBB2.astype(dtype)
    out1, out2, done = [], [], 0
    with _one_blas_thread():
        while done < n_boot:
            m = min(chunk, n_boot - done)
            idx = rng.integers(0, 6, size=(g, m), dtype=np.uint8)  # clusters × draws: see _products
            out1.append(_products(rhs1, table[idx]))
            out2.append(_products(rhs2, table2[idx]))
            done += m
    p1, p2 = np.concatenate(out1).astype(np.float64), np.concatenate(out2).astype(np.float64)
    c = {"PE": p1[:, :k], "VEF": p1[:, k:2 * k], "PF": p1[:, 2 * k:2 * k + 1], "VFF": p1[:, 2 * k + 1:2 * k + 2],
         "V2EE": p2[:, :k], "V2EF": p2[:, k:2 * k], "V2FF": p2[:, 2 * k:]}
    if const:
        o = 2 * k + 2
        c.update({"PR": p1[:, o:o + k], "VEH": p1[:, o + k:o + 2 * k], "PH": p1[:, o + 2 * k:o + 2 * k + 1],
                  "VFH": p1[:, o + 2 * k + 1:o + 2 * k + 2]})
    shh, shf, sff = float((h * h).sum()), float((h * f).sum()), float((f * f).sum())
    obs_scale = np.sqrt(ee) / s_zz  # observed t = theta / obs_scale

    def pvalue(theta: np.ndarray) -> np.ndarray:
        """p of H0: b = est - theta, for each column (theta: (K,))."""
        kap = c["PE"] + theta * c["PF"]  # (B, K)
        a = kap / s_zz
        var = (c["V2EE"] + 2 * theta * c["V2EF"] + theta ** 2 * c["V2FF"]
               - 2 * a * (c["VEF"] + theta * c["VFF"]) + a ** 2 * sff)
        if const:
            mu = (c["PR"] + theta * c["PH"]) / big_n
            var = var - 2 * mu * (c["VEH"] + theta * c["VFH"]) + mu ** 2 * shh + 2 * mu * a * shf
        var = np.maximum(var, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.abs(kap) / np.sqrt(var)
            t_obs = np.abs(theta) / obs_scale
        t_star = np.where(var > 1e-300, t_star, np.where(np.abs(kap) > 0, np.inf, 0.0))
        return (t_star >= t_obs * (1 - 1e-9)).mean(0)

    ok = np.isfinite(est) & (ee > 0)
    p = np.full(k, np.nan)
    lo = np.full(k, np.nan)
    hi = np.full(k, np.nan)
    if ok.any():
        p[ok] = pvalue(est - null)[ok]
        if compute_interval:
            alpha = 1 - level
            for sign, out in ((1.0, lo), (-1.0, hi)):
                bound = _invert(pvalue, sign * np.where(ok, se, 1.0), alpha, ok)
                out[ok] = (est - bound)[ok]
    return WildResult(est, lo, hi, p, se, g)


def _invert(pvalue, step: np.ndarray, alpha: float, ok: np.ndarray, iters: int = 22) -> np.ndarray:
    """Per column, the theta (same sign as ``step``) where p(theta) first falls to ``alpha``."""
    inner = np.zeros_like(step)
    outer = step * 2.0
    for _ in range(60):  # widen until every column rejects
        p = pvalue(outer)
        need = ok & (p > alpha)
        if not need.any():
            break
        inner = np.where(need, outer, inner)
        outer = np.where(need, outer * 2.0, outer)
    for _ in range(iters):  # 22 halvings: the bound to 1e-6 of the step
        mid = (inner + outer) / 2
        p = pvalue(mid)
        accept = p > alpha
        inner = np.where(accept, mid, inner)
        outer = np.where(accept, outer, mid)
    return (inner + outer) / 2


def wild_diff(y: np.ndarray, ids: np.ndarray, n_clusters: int, is_b: np.ndarray, **kw) -> WildResult:
    """Difference of means (wave b minus wave a) of every column: the slope on the indicator ``is_b``."""
    return wild_cluster_test(y, ids, n_clusters, np.asarray(is_b, dtype=np.float64), **kw)


def wild_mean(y: np.ndarray, ids: np.ndarray, n_clusters: int, **kw) -> WildResult:
    """Mean of every column, with the same procedure (intercept-only model)."""
    return wild_cluster_test(y, ids, n_clusters, None, **kw)


def compact_ids(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber cluster ids of a subset of rows 0..G'-1, keeping their canonical order."""
    uniq, inv = np.unique(ids, return_inverse=True)
    return inv.astype(np.int64), len(uniq)


def wild_linear_functional(contrib: np.ndarray, estimate: np.ndarray, *, n_boot: int, seed: int,
                           level: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed interval of a linear estimator from per-cluster contributions ``contrib`` (G × K) of
    its residual sum (unrestricted wild cluster bootstrap, Webb weights; used for the strata-adjusted
    difference, whose estimate is a weighted sum over wave × stratum cells)."""
    g, k = contrib.shape
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // max(g, 1)))
    reps, done = [], 0
    with _one_blas_thread():
        while done < n_boot:
            m = min(chunk, n_boot - done)
            reps.append(_products(contrib, WEBB[rng.integers(0, 6, size=(g, m), dtype=np.uint8)]))
            done += m
    r = np.concatenate(reps) * np.sqrt(g / max(g - 1, 1))
    a = (1 - level) / 2
    return estimate - np.quantile(r, 1 - a, axis=0), estimate - np.quantile(r, a, axis=0)


# --- CR2 sandwich with Bell-McCaffrey degrees of freedom (means, differences, trends) ----------------------
# For a continuous outcome (sentiment) the standard small-sample fix for few clusters is closed-form: the CR2
# (bias-reduced linearisation) sandwich of Bell & McCaffrey (2002) and a t reference with their Satterthwaite
# degrees of freedom under a working independence model (Imbens & Kolesar 2016; Pustejovsky & Tipton 2018, as
# in R's clubSandwich ``vcovCR(type = "CR2")`` + ``coef_test(test = "Satterthwaite")``). The model is least
# squares on X = [1] (a mean) or X = [1, z] (z: wave indicator for a difference, wave rank for a trend), so
# every per-cluster quantity is a 1 × 1 or 2 × 2 matrix: vectorised over clusters and over the K columns of y,
# which share X (and so the df). The share test below uses the same variance and df.


def _cr2_parts(y: np.ndarray, ids: np.ndarray, g: int, z: np.ndarray | None, *, exchangeable: bool = False):
    """Slope of ``y`` (rows × K) on ``z`` (or the mean when ``z`` is None) with its CR2 variance and
    Bell-McCaffrey df. Returns ``(estimate (K,), variance (K,), df)``; ``df`` is a float under the working
    model of independence, or per column (K,) when ``exchangeable`` (see :func:`_exchangeable_df`).

    With contrast c = X (X'X)^-1 L, CR2 adjusts each cluster by A_g = (I - H_gg)^-1/2: the estimator's
    variance is sum_g (p_g' e_g)^2 with p_g = A_g c_g. Since c_g = X_g m lies in the columns of X_g,
    p_g = X_g w_g with w_g = R (I - R S_g R)^-1/2 R^-1 m (R = (X'X)^-1/2, S_g = X_g'X_g; pseudo-inverse on a
    zero eigenvalue), so only the cluster sums X_g'X_g and X_g'e_g are needed. Bell-McCaffrey df =
    tr(Q)^2 / ||Q||^2 with Q_gh = p_g'(I - H) p_h = diag(w_g'S_g w_g) - V (X'X)^-1 V', V's rows S_g w_g.
    """
    n = len(y)
    design = _cr2_design(ids, g, z, n)
    beta, xy, resid, var = _cr2_fit(design, y, ids, g)
    s, m_inv, w, v, d, p = (design[k] for k in ("s", "m_inv", "w", "v", "d", "p"))
    if exchangeable:
        ss = cluster_sums(y * y, ids, g) - 2 * np.einsum("gpk,pk->gk", xy, beta) + np.einsum(
            "pk,gpq,qk->gk", beta, s, beta)  # per-cluster sum of squared residuals
        pairs = (s[:, 0, 0] * (s[:, 0, 0] - 1)).sum()
        sigma2 = ss.sum(0) / max(n - p, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = ((resid[:, 0, :] ** 2 - ss).sum(0) / (sigma2 * pairs)) if pairs > 0 else np.zeros(y.shape[1])
        rho = np.clip(np.nan_to_num(rho), 0.0, 0.99)
        return beta[-1], var, _exchangeable_df(d, v, s[:, :, 0], m_inv, rho)
    return beta[-1], var, design["df"]


def _cr2_design(ids: np.ndarray, g: int, z: np.ndarray | None, n: int) -> dict:
    """What :func:`_cr2_parts` needs that does not depend on ``y``: the cluster cross-products ``s``,
    ``(X'X)^-1``, the CR2 weights ``w`` and the Bell-McCaffrey df under independence. Computed once per
    design; :func:`_cr2_fit` then reads ``y`` a block of columns at a time."""
    ones = np.ones(n)
    xcols = np.column_stack([ones] if z is None else [ones, np.asarray(z, dtype=np.float64)])
    p = xcols.shape[1]
    cross = np.einsum("ni,nj->nij", xcols, xcols).reshape(n, p * p)
    s = cluster_sums(cross, ids, g).reshape(g, p, p)  # S_g = X_g'X_g
    del cross
    xtx = s.sum(0)
    m_inv = np.linalg.pinv(xtx)
    evals, evecs = np.linalg.eigh(m_inv)
    root = (evecs * np.sqrt(np.maximum(evals, 0))) @ evecs.T  # R = (X'X)^-1/2
    root_inv = np.linalg.pinv(root)
    m = m_inv[:, -1]  # (X'X)^-1 L, L = last unit vector
    t_evals, t_evecs = np.linalg.eigh(np.eye(p) - root @ s @ root)  # (G, p), (G, p, p)
    with np.errstate(divide="ignore"):
        f = np.where(t_evals > 1e-10, 1.0 / np.sqrt(np.maximum(t_evals, 1e-300)), 0.0)
    t_half = np.einsum("gij,gj,gkj->gik", t_evecs, f, t_evecs)  # (I - R S_g R)^-1/2
    w = np.einsum("ij,gjk,k->gi", root, t_half, root_inv @ m)  # (G, p)
    del t_evals, t_evecs, t_half
    v = np.einsum("gij,gj->gi", s, w)  # S_g w_g
    d = np.einsum("gi,gi->g", w, v)
    vmv = np.einsum("gi,ij,gj->g", v, m_inv, v)
    mvv = m_inv @ (v.T @ v)
    tr_q = d.sum() - vmv.sum()
    tr_q2 = (d * d).sum() - 2 * (d * vmv).sum() + float(np.trace(mvv @ mvv))
    with np.errstate(divide="ignore", invalid="ignore"):
        df = tr_q ** 2 / tr_q2 if tr_q2 > 0 else np.nan
    return {"xcols": xcols, "p": p, "s": s, "m_inv": m_inv, "w": w, "v": v, "d": d, "df": float(df)}


def _cr2_fit(design: dict, y: np.ndarray, ids: np.ndarray, g: int):
    """Slope, cluster sums ``X_g'y_g``, residual sums ``X_g'e_g`` and CR2 variance of each column of ``y``."""
    xcols, s, m_inv, w = design["xcols"], design["s"], design["m_inv"], design["w"]
    n = len(xcols)
    xy = cluster_sums(np.einsum("ni,nk->nik", xcols, y).reshape(n, -1), ids, g).reshape(g, design["p"], -1)
    beta = m_inv @ xy.sum(0)  # (p, K)
    resid = xy - s @ beta  # X_g'e_g, (G, p, K)
    u = np.einsum("gp,gpk->gk", w, resid)  # p_g'e_g per cluster and column
    return beta, xy, resid, (u * u).sum(0)


def _exchangeable_df(d: np.ndarray, v: np.ndarray, f: np.ndarray, m_inv: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Bell-McCaffrey df under an exchangeable working model, Var(y) ∝ (1 - rho) I + rho C C' (C: cluster
    indicators; rho per column, estimated from the residuals), as Imbens & Kolesar (2016) recommend: the
    CR2 variance is ||P'(I - H) y||^2, so df = tr(Psi)^2 / ||Psi||^2 with
    Psi = (1 - rho) Q + rho B B', Q = diag(d) - V M V', B = P'(I - H) C = diag(V[:, 0]) - V M F' (F's rows
    X_g'1). Psi = diag(delta) + L K L' with L = [V, diag(b) F] (G × 2p), so everything is O(G p^2)."""
    p = m_inv.shape[0]
    b = v[:, 0]
    big_l = np.column_stack([v, b[:, None] * f])
    ll = big_l.T @ big_l
    mfm = m_inv @ (f.T @ f) @ m_inv
    out = np.full(len(rho), np.nan)
    for j, r in enumerate(rho):
        delta = (1 - r) * d + r * b * b
        kmat = np.zeros((2 * p, 2 * p))
        kmat[:p, :p] = -(1 - r) * m_inv + r * mfm
        kmat[:p, p:] = kmat[p:, :p] = -r * m_inv
        lkl = np.einsum("gi,ij,gj->g", big_l, kmat, big_l)
        kl = kmat @ ll
        tr = delta.sum() + lkl.sum()
        tr2 = (delta * delta).sum() + 2 * (delta * lkl).sum() + float(np.trace(kl @ kl))
        out[j] = tr ** 2 / tr2 if tr2 > 0 else np.nan
    return out


def cr2_test(y: np.ndarray, ids: np.ndarray, n_clusters: int, z: np.ndarray | None = None, *,
             level: float = 0.95, null: float = 0.0, exchangeable: bool = False) -> WildResult:
    """CR2 / Bell-McCaffrey t test of the slope of every column of ``y`` on ``z`` (a difference of means
    when ``z`` is the 0/1 wave indicator, a linear trend when it is the wave rank; the mean when None), with
    the interval from the same t: estimate ± t_{df, 1-alpha/2} × se, so "interval excludes ``null``" and
    "p < alpha" agree exactly. ``ids`` from :func:`canonical_clusters` (a speaker heard in both waves is
    one cluster); row-order free. A column with zero variance gets NaN."""
    from scipy.stats import t as t_dist

    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    est, var, df = _cr2_parts(y, ids, n_clusters, z, exchangeable=exchangeable)
    df = np.broadcast_to(np.asarray(df, dtype=np.float64), est.shape).copy()
    se = np.sqrt(var)
    ok = (var > 1e-300) & np.isfinite(df) & (df > 0)
    safe_df = np.where(ok, df, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = t_dist.ppf(1 - (1 - level) / 2, safe_df)
        p = np.where(ok, 2 * t_dist.sf(np.abs(est - null) / se, safe_df), np.nan)
    lo = np.where(ok, est - q * se, np.nan)
    hi = np.where(ok, est + q * se, np.nan)
    return WildResult(est, lo, hi, p, se, n_clusters, df)


# --- shares: Rao-Scott design-effect score intervals -------------------------------------------------------
# For a share (a 0/1 outcome) the wild bootstrap above under-covers a rare theme that rises, at six speakers
# per wave with strong within-speaker correlation (88-90% in benchmarks/bench_inference.py): when the later
# wave's few speakers happen to be low, its share *and* its variance look small, and any interval built from
# the sample's own spread misses. A score interval evaluates the variance at the hypothesised shares
# (Miettinen & Nurminen 1985) — a share of 20% has the binomial variance of 20% even in a sample that shows
# 5% — and a Rao-Scott design effect (Rao & Scott 1992: cluster-robust variance / binomial variance of the
# observed difference, CR2 leverage-adjusted, Bell & McCaffrey 2002) scales it for the clustering by speaker.
# The reference distribution is t with Bell-McCaffrey degrees of freedom (Imbens & Kolesar 2016; Pustejovsky
# & Tipton 2018). The interval is every difference the test does not reject (found by bisection), so
# "interval excludes 0" and "p < alpha" agree. Closed form per theme: no resampling, vectorised over themes,
# row-order free (cluster sums in canonical order).


def _wave_parts(y: np.ndarray, ids: np.ndarray, g: int, rows: np.ndarray):
    """Per cluster (all ``g``, zero where absent) of the rows ``rows``: count and column sums; the wave's
    size ``N``, mean, residual sums, CR2 factors and Bell-McCaffrey trace terms (intercept-only model)."""
    count = cluster_sums(np.ones(int(rows.sum())), ids[rows], g)[:, 0]
    sums = cluster_sums(y[rows], ids[rows], g)
    big_n = count.sum()
    mean = sums.sum(0) / big_n if big_n else np.full(y.shape[1], np.nan)
    resid = sums - count[:, None] * mean
    lev = count / big_n if big_n else count
    present = count > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        adj = np.where(present, 1.0 / (1.0 - lev), 0.0)  # CR2: (1 - h_gg)^-1 for an intercept-only fit
        a = count * adj / big_n ** 2
        b2 = count ** 2 * adj / big_n ** 2
        tr = a.sum() - b2.sum() / big_n
        tr2 = (a * a).sum() - 2 * (a * b2).sum() / big_n + (b2.sum() / big_n) ** 2
    return {"N": big_n, "mean": mean, "resid": resid, "adj": adj, "tr": tr, "tr2": tr2,
            "clusters": int(present.sum())}


def _restricted_shares(p1, p2, n1, n2, delta):
    """Maximum-likelihood shares (p1~, p2~) with p1~ - p2~ = delta (Farrington & Manning 1990, closed form
    of Miettinen & Nurminen's cubic); vectorised."""
    th = n2 / n1
    a = 1.0 + th
    b = -(1.0 + th + p1 + th * p2 + delta * (th + 2.0))
    c = delta ** 2 + delta * (2.0 * p1 + th + 1.0) + p1 + th * p2
    d = -p1 * delta * (1.0 + delta)
    v = b ** 3 / (3.0 * a) ** 3 - b * c / (6.0 * a ** 2) + d / (2.0 * a)
    u = np.sign(v) * np.sqrt(np.maximum(b ** 2 / (3.0 * a) ** 2 - c / (3.0 * a), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(np.where(u != 0, v / u ** 3, 0.0), -1.0, 1.0)
    w = (np.pi + np.arccos(ratio)) / 3.0
    t1 = np.clip(2.0 * u * np.cos(w) - b / (3.0 * a), 0.0, 1.0)
    return t1, np.clip(t1 - delta, 0.0, 1.0)


def _bisect(f, target: np.ndarray, lo: np.ndarray, hi: np.ndarray, iters: int = 52) -> np.ndarray:
    """Per column, the root of the decreasing function ``f`` at ``target`` inside [lo, hi]."""
    for _ in range(iters):
        mid = (lo + hi) / 2
        up = f(mid) > target
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return (lo + hi) / 2


#: the float64 copy of ``y`` a share test makes is at most this many bytes: wider ``y`` is tested in blocks of
#: columns (every column's test reads its own column alone, so the results are those of one call); at a
#: million quotes and 70 themes and subthemes one call's temporaries were several GB
BLOCK_BYTES = 2 ** 24


def _column_slices(n_rows: int, k: int) -> list[slice]:
    """Slices of ``k`` columns whose float64 copy over ``n_rows`` rows stays within :data:`BLOCK_BYTES`."""
    width = max(1, BLOCK_BYTES // max(8 * n_rows, 1))
    return [slice(c, c + width) for c in range(0, k, width)]


def _column_blocks(test):
    """``test(y, ...)`` over blocks of ``y``'s columns (:func:`_column_slices`), the results joined."""
    import functools

    @functools.wraps(test)
    def blocked(y, *args, **kw):
        y = np.asarray(y)
        if y.ndim == 1:
            y = y[:, None]
        blocks = _column_slices(len(y), y.shape[1])
        if len(blocks) <= 1:
            return test(y, *args, **kw)
        parts = [test(y[:, b], *args, **kw) for b in blocks]
        join = {f: np.concatenate([getattr(r, f) for r in parts])
                for f in ("estimate", "lo", "hi", "p_value", "se")}
        df = None if parts[0].df is None else np.concatenate([r.df for r in parts])
        return WildResult(**join, n_clusters=parts[0].n_clusters, df=df)

    return blocked


def share_diff_test(y: np.ndarray, ids: np.ndarray, n_clusters: int, is_b: np.ndarray, *, level: float = 0.95,
                    null: float = 0.0) -> WildResult:
    """Difference of shares (wave b minus wave a) of every 0/1 column of ``y``: Rao-Scott-adjusted
    Miettinen-Nurminen score test with Bell-McCaffrey degrees of freedom, interval by inverting it.

    ``ids``: canonical cluster ids of the rows (a speaker heard in both waves is one cluster: the design
    effect then includes the covariance between the waves). Columns where both waves are all 0 (or all 1)
    have no test (NaN); a wave with fewer than 2 clusters gives NaN throughout.
    """
    from scipy.stats import t as t_dist

    y = np.asarray(y)  # 0/1, any dtype: float64 copies are made a block of columns at a time (BLOCK_BYTES)
    if y.ndim == 1:
        y = y[:, None]
    k = y.shape[1]
    is_b = np.asarray(is_b, dtype=bool)
    n_a, n_b = int((~is_b).sum()), int(is_b.sum())
    blocks = _column_slices(len(y), k)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_a = np.concatenate([y[~is_b, b].sum(0, dtype=np.float64) for b in blocks]) / n_a if k else np.zeros(0)
        p_b = np.concatenate([y[is_b, b].sum(0, dtype=np.float64) for b in blocks]) / n_b if k else np.zeros(0)
    nan = np.full(k, np.nan)
    if min(len(np.unique(ids[~is_b])), len(np.unique(ids[is_b]))) < 2:
        return WildResult(p_b - p_a, nan, nan.copy(), nan.copy(), nan.copy(), n_clusters)
    est = p_b - p_a
    design = _cr2_design(ids, n_clusters, is_b.astype(np.float64), len(y))  # CR2 variance of the difference
    df = design["df"]
    v_cr = np.concatenate([_cr2_fit(design, np.asarray(y[:, b], dtype=np.float64), ids, n_clusters)[3]
                           for b in blocks]) if k else np.zeros(0)
    del design
    v_bin = p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b
    with np.errstate(divide="ignore", invalid="ignore"):
        deff = v_cr / v_bin
    ok = v_bin > 0
    deff = np.where(ok, deff, np.nan)
    q = t_dist.ppf(1 - (1 - level) / 2, df)

    def z(delta: np.ndarray) -> np.ndarray:
        t1, t2 = _restricted_shares(p_b, p_a, n_b, n_a, delta)
        var = deff * (t1 * (1 - t1) / n_b + t2 * (1 - t2) / n_a)
        gap = est - delta
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(var > 0, gap / np.sqrt(var), np.where(gap == 0, 0.0, np.sign(gap) * np.inf))

    eps = 1e-12
    p = np.where(ok, 2 * t_dist.sf(np.abs(z(np.full(k, float(null)))), df), np.nan)
    lo = np.where(ok, _bisect(z, np.full(k, q), np.full(k, -1 + eps), est.copy()), np.nan)
    hi = np.where(ok, _bisect(z, np.full(k, -q), est.copy(), np.full(k, 1 - eps)), np.nan)
    return WildResult(est, lo, hi, p, np.sqrt(v_cr), n_clusters, np.full(k, df))


@_column_blocks
def share_level_interval(y: np.ndarray, ids: np.ndarray, n_clusters: int, *, level: float = 0.95) -> WildResult:
    """Share of every 0/1 column in one wave: the Wilson score interval with the wave's Rao-Scott design
    effect (effective size N / deff) and Bell-McCaffrey degrees of freedom — the one-wave form of
    :func:`share_diff_test`. ``p_value`` is NaN (no test for a level)."""
    from scipy.stats import t as t_dist

    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    k = y.shape[1]
    parts = _wave_parts(y, ids, n_clusters, np.ones(len(y), bool))
    m, big_n = parts["mean"], parts["N"]
    nan = np.full(k, np.nan)
    if parts["clusters"] < 2:
        return WildResult(m, nan, nan.copy(), nan.copy(), nan.copy(), n_clusters)
    v_cr = (parts["adj"][:, None] * parts["resid"] ** 2).sum(0) / big_n ** 2
    v_bin = m * (1 - m) / big_n
    with np.errstate(divide="ignore", invalid="ignore"):
        deff = np.where(v_bin > 0, v_cr / v_bin, big_n / parts["clusters"])  # all 0 / all 1: one per cluster
        df = parts["tr"] ** 2 / parts["tr2"]
    n_eff = big_n / np.maximum(deff, 1e-12)
    q = t_dist.ppf(1 - (1 - level) / 2, df)
    z2 = q * q
    centre = (m + z2 / (2 * n_eff)) / (1 + z2 / n_eff)
    half = q / (1 + z2 / n_eff) * np.sqrt(m * (1 - m) / n_eff + z2 / (4 * n_eff ** 2))
    return WildResult(m, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1), nan, np.sqrt(v_cr),
                      n_clusters)
