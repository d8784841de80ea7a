"""Stability metrics with known answers: identical runs give ARI 1 and average Jaccard 1, a random
relabelling gives ARI ~0.

* :func:`pairwise_partition_agreement`: ARI and NMI between every pair of runs on the quotes they share.
* :func:`average_jaccard`: Greene, O'Callaghan & Cunningham (2014): topics of two runs matched by the
  Hungarian algorithm on the average Jaccard of their top-t term lists (t = 1..top), averaged.
* :func:`theme_member_stability`: per theme of a reference run, the mean over runs of the best Jaccard
  overlap of its members with a theme of that run (on shared quotes).
* :func:`theme_reappearance`: per theme of a reference run, the share of runs with a theme whose members
  overlap its own (on shared quotes) by a Jaccard of at least ``at`` (0.5: the same theme, mostly).
* :func:`consensus_labels`: average-linkage clustering of the co-association matrix (how often two quotes
  land in the same theme when both are present).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

#: a run: (positions of the quotes it saw, their labels; -1 = unassigned)
Run = tuple[np.ndarray, np.ndarray]


def pairwise_partition_agreement(runs: Sequence[Run]) -> tuple[np.ndarray, np.ndarray]:
    """ARI and NMI for every pair of runs (on shared quotes)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    aris, nmis = [], []
    for (ia, la), (ib, lb) in combinations(runs, 2):
        _, pa, pb = np.intersect1d(ia, ib, return_indices=True)
        if len(pa) < 2:
            continue
        aris.append(adjusted_rand_score(la[pa], lb[pb]))
        nmis.append(normalized_mutual_info_score(la[pa], lb[pb]))
    return np.asarray(aris), np.asarray(nmis)


def _ranked_jaccard(a: Sequence[str], b: Sequence[str], top: int) -> float:
    scores = []
    for t in range(1, top + 1):
        sa, sb = set(a[:t]), set(b[:t])
        scores.append(len(sa & sb) / len(sa | sb) if sa | sb else 1.0)
    return float(np.mean(scores))


def average_jaccard(terms_a: Sequence[Sequence[str]], terms_b: Sequence[Sequence[str]], top: int = 10) -> float:
    """Greene et al. (2014) agreement of two topic models' term lists (1.0 = identical)."""
    from scipy.optimize import linear_sum_assignment

    if not len(terms_a) or not len(terms_b):
        return float("nan")
    sim = np.array([[_ranked_jaccard(list(a), list(b), top) for b in terms_b] for a in terms_a])
    r, c = linear_sum_assignment(-sim)
    return float(sim[r, c].sum() / max(len(terms_a), len(terms_b)))


def _best_jaccards(reference: Run, runs: Sequence[Run]) -> dict[int, list[float]]:
    """Per reference theme, per run: the best Jaccard of its members with one of the run's themes."""
    ref_idx, ref_lab = reference
    themes = [int(t) for t in np.unique(ref_lab) if t >= 0]
    out: dict[int, list[float]] = {t: [] for t in themes}
    for idx, lab in runs:
        _, pr, po = np.intersect1d(ref_idx, idx, return_indices=True)
        rl, ol = ref_lab[pr], lab[po]
        run_themes = np.unique(ol[ol >= 0])
        if not len(run_themes):
            for t in themes:
                if (rl == t).any():
                    out[t].append(0.0)
            continue
        a = np.stack([rl == t for t in themes], axis=1).astype(np.float32)  # (m, R)
        b = np.stack([ol == u for u in run_themes], axis=1).astype(np.float32)  # (m, U)
        inter = a.T @ b
        jac = inter / np.maximum(a.sum(0)[:, None] + b.sum(0)[None, :] - inter, 1)
        for r, t in enumerate(themes):
            if a[:, r].any():
                out[t].append(float(jac[r].max()))
    return out


def theme_member_stability(reference: Run, runs: Sequence[Run]) -> dict[int, float]:
    """Per theme of ``reference``: the mean over runs of the best Jaccard overlap of its members."""
    return {t: float(np.mean(v)) if v else float("nan") for t, v in _best_jaccards(reference, runs).items()}


def theme_reappearance(reference: Run, runs: Sequence[Run], at: float = 0.5) -> dict[int, float]:
    """Per theme of ``reference``: the share of runs in which it reappears (best Jaccard >= ``at``)."""
    return {t: float(np.mean(np.asarray(v) >= at)) if v else float("nan")
            for t, v in _best_jaccards(reference, runs).items()}


def coassociation(runs: Sequence[Run], n: int) -> np.ndarray:
    """``n × n``: the share of runs that put two quotes in the same theme, among the runs holding both
    (float32; one-hot products, no per-run ``n × n`` temporaries beyond the result)."""
    together = np.zeros((n, n), dtype=np.float32)
    present = np.zeros((n, n), dtype=np.float32)
    for idx, lab in runs:
        idx = np.asarray(idx)
        lab = np.asarray(lab)
        seen = np.zeros(n, dtype=np.float32)
        seen[idx] = 1
        present += np.outer(seen, seen)
        valid = lab >= 0
        if valid.any():
            ids, inv = np.unique(lab[valid], return_inverse=True)
            onehot = np.zeros((n, len(ids)), dtype=np.float32)
            onehot[idx[valid], inv] = 1
            together += onehot @ onehot.T
    with np.errstate(invalid="ignore", divide="ignore"):
        co = np.where(present > 0, together / np.maximum(present, 1), 0.0).astype(np.float32)
    np.fill_diagonal(co, 1.0)
    return co


def consensus_labels(runs: Sequence[Run], n: int, k: int) -> np.ndarray:
    """The most stable partition: average-linkage on 1 - co-association, cut at ``k`` themes."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = 1.0 - coassociation(runs, n).astype(np.float64)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    labels = fcluster(tree, t=k, criterion="maxclust") - 1
    # number themes by size, ties by first member, like TopicModel
    order = sorted(np.unique(labels), key=lambda t: (-(labels == t).sum(), np.flatnonzero(labels == t)[0]))
    remap = {old: new for new, old in enumerate(order)}
    return np.array([remap[v] for v in labels])
