"""The share procedure (Rao-Scott design-effect score test, Bell-McCaffrey df, interval by inversion)."""

from __future__ import annotations

import numpy as np
import pytest

from stakeholder_nlp.shift.inference import (
    _restricted_shares,
    _wave_parts,
    canonical_clusters,
    share_diff_test,
    share_level_interval,
)


def _clustered(seed, *, speakers=6, rare=0.1, shift=0.1, cols=200):
    """Speakers nested in two waves (3-15 quotes each, 10% unattributed), strong speaker effects."""
    rng = np.random.default_rng(seed)
    wave, spk = [], []
    for w in (0, 1):
        for s in range(speakers):
            c = int(rng.integers(3, 16))
            wave += [w] * c
            spk += [f"{w}-{s}"] * c
        wave += [w] * 5
        spk += [None] * 5
    wave = np.array(wave)
    u = {s: rng.normal(size=cols) for s in set(spk) if s is not None}
    eff = np.array([u[s] if s is not None else rng.normal(size=cols) for s in spk])
    logit = np.log(rare / (1 - rare)) + np.where(wave[:, None] == 1, shift * 10, 0.0) + 1.5 * eff
    y = (rng.random((len(wave), cols)) < 1 / (1 + np.exp(-logit))).astype(float)
    return y, wave, np.array(spk, dtype=object)


def test_interval_excludes_zero_exactly_when_p_is_below_alpha():
    for seed in range(3):
        y, wave, spk = _clustered(seed)
        ids, g = canonical_clusters(spk, np.column_stack([wave, y]))
        for level in (0.95, 0.9):
            r = share_diff_test(y, ids, g, wave == 1, level=level)
            ok = np.isfinite(r.p_value)
            assert ok.mean() > 0.9
            excludes = (r.lo > 0) | (r.hi < 0)
            np.testing.assert_array_equal(excludes[ok], r.p_value[ok] < 1 - level)
            assert np.all(r.lo[ok] <= r.estimate[ok]) and np.all(r.estimate[ok] <= r.hi[ok])
            assert np.all(r.lo[ok] >= -1) and np.all(r.hi[ok] <= 1)


def test_result_is_bit_identical_for_any_row_order():
    y, wave, spk = _clustered(4, cols=30)
    ids, g = canonical_clusters(spk, np.column_stack([wave, y]))
    first = share_diff_test(y, ids, g, wave == 1)
    perm = np.random.default_rng(5).permutation(len(wave))
    ids2, g2 = canonical_clusters(spk[perm], np.column_stack([wave[perm], y[perm]]))
    second = share_diff_test(y[perm], ids2, g2, wave[perm] == 1)
    for a, b in zip((first.lo, first.hi, first.p_value, first.se), (second.lo, second.hi, second.p_value, second.se),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_bell_mccaffrey_df_is_clusters_minus_one_for_equal_clusters():
    g, n = 7, 5
    ids = np.repeat(np.arange(g), n)
    y = (np.random.default_rng(0).random((g * n, 2)) < 0.3).astype(float)
    parts = _wave_parts(y, ids, g, np.ones(g * n, bool))
    assert parts["tr"] ** 2 / parts["tr2"] == pytest.approx(g - 1)
    assert parts["tr"] * g * n == pytest.approx(1.0)  # CR2 is unbiased under independence: E[V] = sigma^2 / N


def test_restricted_shares_are_the_constrained_maximum_likelihood():
    p1, p2, n1, n2 = 0.3, 0.12, 80.0, 120.0
    for delta in (-0.2, 0.0, 0.05, 0.4):
        t1, t2 = _restricted_shares(np.array(p1), np.array(p2), n1, n2, np.array(delta))
        assert float(t1 - t2) == pytest.approx(delta, abs=1e-9)
        grid = np.linspace(max(0, delta) + 1e-6, min(1, 1 + delta) - 1e-6, 20001)
        loglik = (n1 * (p1 * np.log(grid) + (1 - p1) * np.log(1 - grid))
                  + n2 * (p2 * np.log(grid - delta) + (1 - p2) * np.log(1 - grid + delta)))
        assert float(t1) == pytest.approx(grid[np.argmax(loglik)], abs=1e-4)


def test_without_clustering_the_test_is_miettinen_nurminen():
    from scipy.stats import norm
    from statsmodels.stats.proportion import test_proportions_2indep

    rng = np.random.default_rng(2)
    for n, (a, b) in ((1000, (0.2, 0.24)), (400, (0.05, 0.09))):
        y = np.r_[rng.random(n) < a, rng.random(n) < b].astype(float)[:, None]
        wave = np.r_[np.zeros(n), np.ones(n)].astype(bool)
        r = share_diff_test(y, np.arange(2 * n), 2 * n, wave)
        ref = test_proportions_2indep(int(y[n:].sum()), n, int(y[:n].sum()), n, method="score", compare="diff",
                                      correction=True).pvalue
        z_ours, z_ref = norm.isf(r.p_value[0] / 2), norm.isf(ref / 2)  # same statistic: t(df ~ 2n) vs normal
        assert z_ours == pytest.approx(z_ref, rel=0.01)


def test_clustering_widens_the_interval_and_an_emerging_theme_still_gets_one():
    y, wave, spk = _clustered(6, cols=40)
    ids, g = canonical_clusters(spk, np.column_stack([wave, y]))
    clustered = share_diff_test(y, ids, g, wave == 1)
    alone = share_diff_test(y, np.arange(len(wave)), len(wave), wave == 1)
    assert np.nanmedian(clustered.hi - clustered.lo) > 1.3 * np.nanmedian(alone.hi - alone.lo)
    y0 = y[:, :1].copy()
    y0[wave == 0] = 0.0
    y0[np.flatnonzero(wave == 1)[:12]] = 1.0  # voiced only in wave b
    r = share_diff_test(y0, ids, g, wave == 1)
    assert np.isfinite(r.p_value[0]) and r.lo[0] <= r.estimate[0] <= r.hi[0]
    absent = share_diff_test(np.zeros((len(wave), 1)), ids, g, wave == 1)
    assert np.isnan(absent.p_value[0]) and np.isnan(absent.lo[0])


def test_level_interval_is_wilson_at_the_design_effect():
    rng = np.random.default_rng(7)
    y = (rng.random((300, 1)) < 0.2).astype(float)
    r = share_level_interval(y, np.arange(300), 300)
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(int(y.sum()), 300, method="wilson")
    assert r.lo[0] == pytest.approx(lo, abs=0.004) and r.hi[0] == pytest.approx(hi, abs=0.004)
    assert np.isnan(r.p_value[0])


def test_a_speaker_heard_in_both_waves_is_one_cluster_and_the_covariance_counts():
    rng = np.random.default_rng(0)
    speakers = 10
    spk = np.repeat([f"s{i}" for i in range(speakers)], 16)
    wave = np.tile(np.repeat([0, 1], 8), speakers)
    effect = np.repeat(rng.normal(size=(speakers, 200)) * 1.5, 16, axis=0)
    y = (rng.random((len(spk), 200)) < 1 / (1 + np.exp(1 - effect))).astype(float)
    ids, g = canonical_clusters(spk, np.column_stack([wave, y]))
    panel = share_diff_test(y, ids, g, wave == 1)
    apart = np.array([f"{s}-{w}" for s, w in zip(spk, wave, strict=True)], dtype=object)
    ids2, g2 = canonical_clusters(apart, np.column_stack([wave, y]))
    split = share_diff_test(y, ids2, g2, wave == 1)
    assert np.median(panel.hi - panel.lo) < 0.7 * np.median(split.hi - split.lo)
    assert 0.01 <= np.mean(panel.p_value < 0.05) <= 0.1  # no true change: about 5% of 200 themes
