"""Per theme × wave sentiment levels follow the wave-comparison inference rules (CR2 / Bell-McCaffrey for
the mean, Rao-Scott Wilson for the label shares), not a bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stakeholder_nlp.sentiment import sentiment_levels
from stakeholder_nlp.shift.inference import canonical_clusters, cr2_test, share_level_interval


def _cell(seed=1):
    rng = np.random.default_rng(seed)
    speakers = np.repeat([f"s{i}" for i in range(6)], rng.integers(2, 7, size=6)).astype(object)
    n = len(speakers)
    effect = {s: rng.normal(0, 0.3) for s in set(speakers)}
    scores = np.clip([effect[s] + rng.normal(0, 0.3) for s in speakers], -1, 1)
    labels = np.where(scores > 0.2, "positive", np.where(scores < -0.2, "negative", "neutral"))
    return scores, labels, speakers, n


def test_level_interval_is_the_cr2_t_interval_and_shares_the_rao_scott_wilson_interval():
    scores, labels, speakers, n = _cell()
    lv = sentiment_levels(pd.DataFrame({"t": np.ones(n, bool)}), scores, labels, ["w1"] * n, speakers.tolist())
    row = lv.iloc[0]
    onehot = np.stack([labels == lab for lab in ("negative", "neutral", "positive")], axis=1).astype(float)
    ids, g = canonical_clusters(speakers, np.column_stack([scores, onehot]))
    ref = cr2_test(scores, ids, g, level=0.95, exchangeable=True)
    assert g == 6 and np.isclose(row["mean"], scores.mean())
    np.testing.assert_allclose([row["mean_lo"], row["mean_hi"]], [ref.lo[0], ref.hi[0]])
    sh = share_level_interval(onehot, ids, g)
    for k, lab in enumerate(("negative", "neutral", "positive")):
        np.testing.assert_allclose([row[f"share_{lab}_lo"], row[f"share_{lab}_hi"]], [sh.lo[k], sh.hi[k]])
        assert 0 <= row[f"share_{lab}_lo"] <= row[f"share_{lab}"] <= row[f"share_{lab}_hi"] <= 1


def test_a_cell_voiced_by_one_speaker_gets_no_interval_and_intervals_stay_in_range():
    scores = np.array([0.9, 0.95, 1.0, -1.0, 1.0, -0.9])
    labels = np.where(scores > 0, "positive", "negative")
    waves = ["a", "a", "a", "b", "b", "b"]
    speakers = ["x", "x", "x", "y", "z", None]
    lv = sentiment_levels(pd.DataFrame({"t": np.ones(6, bool)}), scores, labels, waves, speakers,
                          wave_order=["b", "a"])
    assert lv["wave"].tolist() == ["b", "a"]  # the researcher's order
    a, b = lv.set_index("wave").loc["a"], lv.set_index("wave").loc["b"]
    assert np.isnan(a["mean_lo"]) and np.isnan(a["share_positive_lo"])  # one speaker in wave a
    assert -1 <= b["mean_lo"] <= b["mean"] <= b["mean_hi"] <= 1  # 3 clusters (an unattributed quote is one)
