"""The CR2 / Bell-McCaffrey t test used for sentiment differences (and trends)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as t_dist

from stakeholder_nlp.sentiment import sentiment_shift
from stakeholder_nlp.shift.inference import canonical_clusters, cr2_test


def _dense_cr2(y, ids, z, exchangeable=False):
    """CR2 / Bell-McCaffrey by the textbook dense matrices (Bell & McCaffrey 2002; Pustejovsky & Tipton
    2018, working model I): V = c' Σ_g A_g e_g e_g' A_g c, df = tr(Q)^2 / ||Q||^2."""
    n = len(y)
    x = np.column_stack([np.ones(n)] if z is None else [np.ones(n), z])
    m = np.linalg.inv(x.T @ x)
    h = x @ m @ x.T
    beta = m @ x.T @ y
    e = y - x @ beta
    c = x @ m[:, -1]
    ps = []
    for g in np.unique(ids):
        sel = ids == g
        vals, vecs = np.linalg.eigh(np.eye(sel.sum()) - h[np.ix_(sel, sel)])
        inv_half = (vecs * np.where(vals > 1e-10, 1 / np.sqrt(np.maximum(vals, 1e-300)), 0.0)) @ vecs.T
        p = np.zeros(n)
        p[sel] = inv_half @ c[sel]
        ps.append(p)
    pmat = np.array(ps)
    var = ((pmat @ e) ** 2).sum()
    sigma = np.eye(n)
    if exchangeable:  # working model (1 - rho) I + rho C C', rho by the pairwise moment of the residuals
        cc = (ids[:, None] == ids[None, :]).astype(float)
        rho = float(np.clip((e @ (cc - np.eye(n)) @ e) / (e @ e / (n - x.shape[1]) * (cc.sum() - n)), 0, 0.99))
        sigma = (1 - rho) * np.eye(n) + rho * cc
    q = pmat @ (np.eye(n) - h) @ sigma @ (np.eye(n) - h) @ pmat.T
    return beta[-1], var, np.trace(q) ** 2 / (q * q).sum()


def _design(seed, *, shared=3):
    """Two waves, 5 speakers each with 2-6 quotes, ``shared`` speakers heard in both, 3 unattributed."""
    rng = np.random.default_rng(seed)
    wave, spk = [], []
    for w in (0, 1):
        for s in range(5):
            c = int(rng.integers(2, 7))
            wave += [w] * c
            spk += [f"s{s}" if s < shared else f"{w}-{s}"] * c
        wave += [w] * 3
        spk += [None] * 3
    wave = np.array(wave, dtype=float)
    speaker_effect = {s: rng.normal() for s in set(spk) if s is not None}
    y = np.array([speaker_effect.get(s, 0.0) for s in spk])[:, None] + 0.7 * rng.normal(size=(len(wave), 3))
    return y, wave, np.array(spk, dtype=object)


@pytest.mark.parametrize("exchangeable", [False, True])
@pytest.mark.parametrize("kind", ["diff", "trend", "mean"])
def test_equals_the_dense_textbook_cr2_and_bell_mccaffrey_df(kind, exchangeable):
    y, wave, spk = _design(0)
    z = {"diff": wave, "trend": wave + (np.arange(len(wave)) % 3 == 0), "mean": None}[kind]
    ids, g = canonical_clusters(spk, np.column_stack([wave, y]))
    r = cr2_test(y, ids, g, z, exchangeable=exchangeable)
    for k in range(y.shape[1]):
        est, var, df = _dense_cr2(y[:, k], ids, z, exchangeable)
        assert r.estimate[k] == pytest.approx(est, rel=1e-10)
        assert r.se[k] ** 2 == pytest.approx(var, rel=1e-8)
        assert r.df[k] == pytest.approx(df, rel=1e-8)
        assert r.p_value[k] == pytest.approx(2 * t_dist.sf(abs(est) / np.sqrt(var), df), rel=1e-6)


def test_hand_computed_two_speakers_per_wave():
    # wave a: speaker A (1, 3), speaker B (2); wave b: speaker C (4, 6), speaker D (8). Means 2 and 6.
    y = np.array([1.0, 3.0, 2.0, 4.0, 6.0, 8.0])
    z = np.array([0.0, 0, 0, 1, 1, 1])
    spk = np.array(["A", "A", "B", "C", "C", "D"], dtype=object)
    ids, g = canonical_clusters(spk, np.column_stack([z, y]))
    r = cr2_test(y, ids, g, z)
    # cluster residual sums: A 0, B 0, C -2, D +2; CR2 factor (1 - n_g/N_w)^-1/2: C 3^1/2, D (3/2)^1/2;
    # contributions to the difference: C -2 * 3^1/2 / 3, D 2 * (3/2)^1/2 / 3 -> variance 4/3 + 2/3 = 2
    assert r.estimate[0] == pytest.approx(4.0)
    assert r.se[0] ** 2 == pytest.approx(2.0)
    # Bell-McCaffrey: per wave Q = diag(n_g a_g / N^2) - s s' / N^3 with a_g the CR2 factor; both waves alike:
    # diag(2*3/9, 1*1.5/9) - s s'/27 with s = (2*sqrt 3, sqrt 1.5): tr = 2/3 + 1/6 - 13.5/27 = 1/3
    q = np.diag([6 / 9, 1.5 / 9]) - np.outer([2 * np.sqrt(3), np.sqrt(1.5)], [2 * np.sqrt(3), np.sqrt(1.5)]) / 27
    df = (2 * np.trace(q)) ** 2 / (2 * (q * q).sum())
    assert r.df[0] == pytest.approx(df)
    assert r.p_value[0] == pytest.approx(2 * t_dist.sf(4 / np.sqrt(2), df))


def test_df_is_clusters_minus_one_for_a_mean_and_minus_two_for_a_difference_of_equal_clusters():
    rng = np.random.default_rng(1)
    g, n = 7, 4
    ids = np.repeat(np.arange(g), n)
    y = rng.normal(size=(g * n, 2))
    assert cr2_test(y, ids, g).df[0] == pytest.approx(g - 1)
    ids2 = np.repeat(np.arange(2 * g), n)
    z = (ids2 >= g).astype(float)
    y2 = rng.normal(size=(2 * g * n, 2))
    assert cr2_test(y2, ids2, 2 * g, z).df[0] == pytest.approx(2 * g - 2)


def test_interval_excludes_null_exactly_when_p_is_below_alpha():
    rng = np.random.default_rng(2)
    wave = np.repeat([0.0, 1.0], 40)
    ids = np.repeat(np.arange(16), 5)
    y = rng.normal(size=(80, 300)) + rng.normal(size=(16, 300))[ids] + 0.4 * wave[:, None]
    for level in (0.95, 0.9):
        r = cr2_test(y, ids, 16, wave, level=level)
        excludes = (r.lo > 0) | (r.hi < 0)
        assert 0.1 < excludes.mean() < 0.9
        np.testing.assert_array_equal(excludes, r.p_value < 1 - level)


def test_row_order_invariant_with_a_speaker_in_both_waves():
    y, wave, spk = _design(3)
    ids, g = canonical_clusters(spk, np.column_stack([wave, y]))
    first = cr2_test(y, ids, g, wave)
    perm = np.random.default_rng(4).permutation(len(wave))
    ids2, g2 = canonical_clusters(spk[perm], np.column_stack([wave[perm], y[perm]]))
    second = cr2_test(y[perm], ids2, g2, wave[perm])
    for a, b in ((first.estimate, second.estimate), (first.lo, second.lo), (first.p_value, second.p_value),
                 (first.df, second.df)):
        np.testing.assert_array_equal(a, b)


def test_sentiment_shift_reports_the_cr2_test():
    y, wave, spk = _design(5, shared=0)
    membership = pd.DataFrame({"t0": np.ones(len(wave), bool)})
    out = sentiment_shift(membership, y[:, 0], wave.astype(int).tolist(), list(spk))
    ids, g = canonical_clusters(spk, np.column_stack([wave == 1, y[:, 0]]))
    r = cr2_test(y[:, 0], ids, g, wave, exchangeable=True)
    row = out.iloc[0]
    assert row["sentiment_diff"] == pytest.approx(r.estimate[0])
    assert row["sentiment_diff_lo"] == pytest.approx(r.lo[0])
    assert row["sentiment_p"] == pytest.approx(r.p_value[0])


def test_a_sentiment_interval_never_leaves_the_possible_range():
    # two speakers a wave, scores at the ends of [-1, 1]: df near 1, so the raw t interval is far wider than +-2
    y = np.array([0.9, 1.0, -0.2, 0.95, -0.9, -1.0, 0.3, -0.95])
    wave = [2016] * 4 + [2021] * 4
    spk = ["a", "a", "b", "b", "c", "c", "d", "d"]
    membership = pd.DataFrame({"t0": np.ones(len(y), bool)})
    row = sentiment_shift(membership, y, wave, spk).iloc[0]
    ids, g = canonical_clusters(np.array(spk, dtype=object), np.column_stack([np.array(wave) == 2021, y]))
    raw = cr2_test(y, ids, g, (np.array(wave) == 2021).astype(float), exchangeable=True)
    assert raw.lo[0] < -2 or raw.hi[0] > 2  # the case this guards
    assert -2 <= row["sentiment_diff_lo"] <= row["sentiment_diff"] <= row["sentiment_diff_hi"] <= 2
    assert (row["sentiment_diff_lo"] > 0 or row["sentiment_diff_hi"] < 0) == (row["sentiment_p"] < 0.05)
