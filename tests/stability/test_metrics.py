from __future__ import annotations

import numpy as np

from stakeholder_nlp.stability import (
    average_jaccard,
    consensus_labels,
    pairwise_partition_agreement,
    theme_member_stability,
)


def test_identical_runs_give_ari_one_and_aj_one():
    lab = np.repeat(np.arange(4), 10)
    idx = np.arange(40)
    aris, nmis = pairwise_partition_agreement([(idx, lab), (idx, lab.copy()), (idx, lab.copy())])
    assert np.allclose(aris, 1.0) and np.allclose(nmis, 1.0)
    terms = [["data", "access", "spire"], ["team", "nurse", "mdt"]]
    assert average_jaccard(terms, [list(t) for t in terms]) == 1.0


def test_relabelled_identical_partition_still_agrees():
    lab = np.repeat(np.arange(4), 10)
    idx = np.arange(40)
    aris, _ = pairwise_partition_agreement([(idx, lab), (idx, (lab + 1) % 4)])
    assert np.allclose(aris, 1.0)


def test_random_relabelling_gives_about_zero():
    rng = np.random.default_rng(0)
    lab = np.repeat(np.arange(5), 100)
    idx = np.arange(500)
    aris, _ = pairwise_partition_agreement([(idx, lab), (idx, rng.permutation(lab))])
    assert abs(aris[0]) < 0.02


def test_disjoint_terms_give_zero_and_order_matters_a_little():
    assert average_jaccard([["a", "b"]], [["c", "d"]]) == 0.0
    assert 0 < average_jaccard([["a", "b"]], [["b", "a"]]) < 1


def test_pairs_only_compare_shared_quotes():
    lab = np.repeat(np.arange(2), 10)
    a = (np.arange(20), lab)
    b = (np.arange(5, 20), lab[5:])
    aris, _ = pairwise_partition_agreement([a, b])
    assert aris[0] == 1.0


def test_member_stability_and_consensus():
    lab = np.repeat(np.arange(3), 10)
    idx = np.arange(30)
    noisy = lab.copy()
    noisy[:2] = 1
    stab = theme_member_stability((idx, lab), [(idx, lab), (idx, noisy)])
    assert stab[2] == 1.0 and stab[0] < 1.0
    cons = consensus_labels([(idx, lab), (idx, noisy), (idx, lab)], 30, 3)
    aris, _ = pairwise_partition_agreement([(idx, cons), (idx, lab)])
    assert aris[0] == 1.0
