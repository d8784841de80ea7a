"""The share tests run over blocks of columns when ``y`` is wide (``inference.BLOCK_BYTES``): the results
are those of one call, and the membership stays a byte per cell."""

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.shift import inference, prevalence_levels, prevalence_shift
from stakeholder_nlp.shift.inference import canonical_clusters, share_diff_test, share_level_interval


def _data(n=600, k=7, seed=3):
    rng = np.random.default_rng(seed)
    speakers = rng.integers(0, 90, n)
    y = (rng.random((n, k)) < rng.uniform(0.05, 0.6, k)).astype(np.uint8)
    ids, g = canonical_clusters([f"s{s}" for s in speakers], np.zeros((n, 1)))
    return y, ids, g, rng.random(n) < 0.5


@pytest.mark.parametrize("block_bytes", [8 * 600, 8 * 600 * 3])
def test_blocked_share_tests_equal_one_call(monkeypatch, block_bytes):
    y, ids, g, is_b = _data()
    whole_diff = share_diff_test(y.astype(np.float64), ids, g, is_b)
    whole_level = share_level_interval(y, ids, g)
    monkeypatch.setattr(inference, "BLOCK_BYTES", block_bytes)  # 1 or 3 columns per block
    diff = share_diff_test(y, ids, g, is_b)
    level = share_level_interval(y, ids, g)
    for a, b in ((whole_diff, diff), (whole_level, level)):
        for f in ("estimate", "lo", "hi", "p_value", "se"):
            np.testing.assert_allclose(getattr(b, f), getattr(a, f), rtol=1e-12, atol=1e-15, equal_nan=True)
        assert b.n_clusters == a.n_clusters
    np.testing.assert_allclose(diff.df, whole_diff.df, rtol=1e-12)


def test_prevalence_tables_unchanged_by_blocks(monkeypatch):
    y, _, _, is_b = _data(n=400, k=5, seed=8)
    rng = np.random.default_rng(1)
    speakers = [f"p{i}" if i % 7 else "" for i in rng.integers(0, 60, len(y))]  # some unattributed rows
    waves = np.where(is_b, "2021", "2016").tolist()
    m = pd.DataFrame(y.astype(bool), columns=[f"t{c}" for c in range(y.shape[1])])
    whole = (prevalence_shift(m, waves, speakers), prevalence_levels(m, waves, speakers))
    monkeypatch.setattr(inference, "BLOCK_BYTES", 8 * 400 * 2)
    blocked = (prevalence_shift(m, waves, speakers), prevalence_levels(m, waves, speakers))
    for a, b in zip(whole, blocked, strict=True):
        pd.testing.assert_frame_equal(a, b, rtol=1e-12)
        assert len(a) and a.filter(like="lo").notna().any().any()


def test_lazy_tiebreak_equals_array():
    rng = np.random.default_rng(0)
    speakers = [None if i % 3 == 0 else f"s{i % 11}" for i in range(200)]
    tie = rng.integers(0, 4, (200, 2)).astype(float)
    a = canonical_clusters(speakers, tie)
    b = canonical_clusters(speakers, lambda rows: tie[rows])
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
