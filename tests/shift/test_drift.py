from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from stakeholder_nlp.shift import content_drift, log_odds_dirichlet


def test_log_odds_finds_the_planted_words():
    a = Counter({"data": 20, "team": 5, "care": 10})
    b = Counter({"data": 4, "team": 25, "care": 10})
    top_a, top_b = log_odds_dirichlet(a, b, a + b)
    assert top_a[0][0] == "data" and top_b[0][0] == "team"
    assert "care" not in [w for w, _ in top_a[:1] + top_b[:1]]


def test_drift_detects_a_moved_centroid_and_not_an_unmoved_one():
    rng = np.random.default_rng(0)
    n = 40
    waves = np.array([2016] * n + [2021] * n)
    speakers = [f"{w}-{i % 8}" for i, w in enumerate(waves)]
    base = rng.standard_normal(16)
    moved = np.r_[base[None] + 0.3 * rng.standard_normal((n, 16)),
                  (base + 1.5 * rng.standard_normal(16))[None] + 0.3 * rng.standard_normal((n, 16))]
    still = base[None] + 0.3 * rng.standard_normal((2 * n, 16))
    emb = np.r_[moved, still]
    membership = pd.DataFrame({"moved": np.r_[np.ones(2 * n, bool), np.zeros(2 * n, bool)],
                               "still": np.r_[np.zeros(2 * n, bool), np.ones(2 * n, bool)]})
    waves2 = np.r_[waves, waves]
    speakers2 = speakers + [s + "b" for s in speakers]
    lemmas = ["data access"] * n + ["team nurse"] * n + ["care"] * (2 * n)
    out = content_drift(membership, emb, waves2, speakers2, lemmas, n_perm=199).set_index("theme_id")
    assert out.loc["moved", "drift_p"] < 0.05
    assert out.loc["still", "drift_p"] > 0.01
    assert out.loc["moved", "drift"] > 5 * out.loc["still", "drift"]
    assert set(out.loc["moved", "terms_a"][:2]) == {"data", "access"}
    assert set(out.loc["moved", "terms_b"][:2]) == {"team", "nurse"}
    assert len(out.loc["moved", "exemplars_a"]) == 2


def test_a_word_used_by_one_quote_is_never_distinctive():
    from stakeholder_nlp.shift import content_drift

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(12, 8))
    membership = pd.DataFrame({"t": [True] * 12})
    waves = [2016] * 6 + [2021] * 6
    speakers = [f"s{i}" for i in range(12)]
    lemmas = ["data analyst"] * 6 + ["time workload"] * 5 + ["time atwas"]
    row = content_drift(membership, emb, waves, speakers, lemmas, n_perm=9).iloc[0]
    assert "atwas" not in row["terms_b"] and "time" in row["terms_b"] and "data" in row["terms_a"]


def test_drift_read_in_blocks_equals_one_block(monkeypatch):
    """Cluster sums, permutation masks and exemplars read a block at a time give the same table as one
    block: named speakers and unattributed quotes, clusters spanning blocks of rows."""
    import stakeholder_nlp.shift.drift as drift

    rng = np.random.default_rng(1)
    n = 3000
    waves = np.where(rng.random(n) < 0.5, 2016, 2021)
    speakers = [f"s{rng.integers(30)}" if rng.random() < 0.4 else None for _ in range(n)]
    emb = rng.normal(size=(n, 12)).astype(np.float32)
    lab = rng.integers(0, 4, n)
    emb[(waves == 2021) & (lab == 2)] += 0.3
    membership = pd.DataFrame({f"t{k}": lab == k for k in range(4)})
    lemmas = [f"w{i % 11} w{(i * 7) % 13}" for i in range(n)]
    whole = content_drift(membership, emb, waves, speakers, lemmas, n_perm=99)
    monkeypatch.setattr(drift, "_CLUSTERS", 64)
    monkeypatch.setattr(drift, "_ROWS", 50)
    monkeypatch.setattr(drift, "_MASK_ELEMENTS", 4000)
    blocked = content_drift(membership, emb, waves, speakers, lemmas, n_perm=99)
    pd.testing.assert_frame_equal(whole, blocked, check_exact=False, rtol=1e-12)
    assert whole.set_index("theme_id").loc["t2", "drift_p"] < 0.05
