"""Content drift within a theme: is the same theme talked about differently in two waves?

:func:`content_drift` -> one row per theme (:data:`DRIFT_COLUMNS`): ``theme_id``, ``n_a``, ``n_b``,
``drift`` (cosine distance between the wave centroids of the theme's quotes), ``drift_p`` (permutation
p-value: wave labels shuffled between *speakers*, each speaker's quotes moving together; every permutation
at once, a block of clusters at a time, seeded per theme, row-order free; a theme's vectors are read in
blocks, never copied whole),
``terms_a`` / ``terms_b`` (words most distinctive of each wave within the theme: log-odds ratio with an
informative Dirichlet prior, Monroe, Colaresi & Quinn 2008, prior = the whole corpus's word counts;
only words used by at least two of the theme's quotes, so one-off words and extraction artefacts are left out),
``exemplars_a`` / ``exemplars_b`` (positions of the 1-2 quotes nearest their wave's centroid).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .inference import canonical_clusters, compact_ids, is_missing_speaker
from .waves import wave_pair

#: the permutation masks are made at most this many cells at a time (floats: 4 bytes each)
_MASK_ELEMENTS = 8_000_000
#: rows read at a time (the canonical keys, a theme's cluster sums, the exemplars)
_ROWS = 65_536
#: clusters whose vector sums are held at a time (a multiple of 8: the permutation masks are kept as bits)
_CLUSTERS = 16_384
DRIFT_COLUMNS = ("theme_id", "n_a", "n_b", "drift", "drift_p", "terms_a", "terms_b", "exemplars_a", "exemplars_b")


def log_odds_dirichlet(counts_a: Counter, counts_b: Counter, prior: Counter, *, prior_size: float = 500.0,
                       top_n: int = 8, min_count: int = 1) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Words distinctive of a and of b: z-scores of the log-odds ratio with an informative Dirichlet prior."""
    vocab = [w for w in set(counts_a) | set(counts_b) if counts_a[w] + counts_b[w] >= min_count]
    if not vocab:
        return [], []
    full = set(prior) | set(vocab)
    total_prior = sum(prior.values()) + 0.01 * len(full)
    alpha = {w: prior_size * (prior[w] + 0.01) / total_prior for w in full}
    a0 = prior_size
    na, nb = sum(counts_a.values()), sum(counts_b.values())
    z = {}
    for w in vocab:
        ya, yb, aw = counts_a[w], counts_b[w], alpha[w]
        delta = np.log((ya + aw) / (na + a0 - ya - aw)) - np.log((yb + aw) / (nb + a0 - yb - aw))
        z[w] = delta / np.sqrt(1 / (ya + aw) + 1 / (yb + aw))
    ranked = sorted(z.items(), key=lambda kv: (-kv[1], kv[0]))
    top_a = [(w, float(s)) for w, s in ranked[:top_n] if s > 0]
    top_b = [(w, float(-s)) for w, s in sorted(z.items(), key=lambda kv: (kv[1], kv[0]))[:top_n] if s < 0]
    return top_a, top_b


def _cosine_distance(sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """1 - cosine between the rows of ``sa`` and ``sb`` (sums or means: the scale does not matter)."""
    num = (sa * sb).sum(-1)
    den = np.linalg.norm(sa, axis=-1) * np.linalg.norm(sb, axis=-1) + 1e-12
    return 1 - num / den


def _cluster_blocks(emb, rows: np.ndarray, cl: np.ndarray, g: int):
    """Per-cluster vector sums in blocks of :data:`_CLUSTERS` consecutive clusters: yields ``(c0, c1, sums)``
    (float64, (c1 - c0) × d). ``rows`` are the theme's rows in canonical order and ``cl`` their cluster ids
    (sorted); each cluster's rows are added in that order, :data:`_ROWS` rows at a time (the same floats as
    one ``np.add.at`` over every row), so neither the theme's vectors nor all its cluster sums are held at once."""
    d = emb.shape[1]
    for c0 in range(0, g, _CLUSTERS):
        c1 = min(c0 + _CLUSTERS, g)
        r0, r1 = np.searchsorted(cl, [c0, c1])
        sums = np.zeros((c1 - c0, d))
        for s in range(r0, r1, _ROWS):
            e = min(s + _ROWS, r1)
            np.add.at(sums, cl[s:e] - c0, np.asarray(emb[rows[s:e]], dtype=np.float64))
        yield c0, c1, sums


def _drift_and_p(blocks, is_b: np.ndarray, d: int, n_perm: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """One pass over ``blocks`` (:func:`_cluster_blocks`): the two waves' vector sums (2 × d), the observed
    drift and its permutation p-value. Wave labels are shuffled between clusters (speakers); each
    permutation's b-side sum is ``masks (P × G) @ cluster sums (G × d)``. The masks of every permutation are
    drawn first (in chunks of rows, each row's shuffle drawing from ``rng`` in turn, at most
    :data:`_MASK_ELEMENTS` cells at a time) and kept as bits, then multiplied a block of clusters at a time,
    so memory stays flat in G (a survey theme has 10^5 clusters)."""
    from .inference import _one_blas_thread

    g = len(is_b)
    chunk = max(1, min(n_perm, _MASK_ELEMENTS // max(g, 1)))
    packed, done = [], 0
    while done < n_perm:
        m = min(chunk, n_perm - done)
        packed.append(np.packbits(rng.permuted(np.tile(is_b, (m, 1)), axis=1), axis=1))
        done += m
    bits = np.concatenate(packed)  # P × ceil(G / 8)
    del packed
    side = np.zeros((2, d))
    sb = np.zeros((n_perm, d))
    with _one_blas_thread():  # see inference._products
        for c0, c1, sums in blocks:  # c0 is a multiple of _CLUSTERS, itself a multiple of 8
            b = is_b[c0:c1]
            side[0] += sums[~b].sum(0)
            side[1] += sums[b].sum(0)
            masks = np.unpackbits(bits[:, c0 // 8:(c1 + 7) // 8], axis=1, count=c1 - c0).astype(np.float32)
            sb += masks @ sums.astype(np.float32)
    observed = float(_cosine_distance(side[0], side[1]))
    dist = _cosine_distance(side.sum(0) - sb, sb)
    hits = int((dist >= observed - 1e-6).sum())
    return side, observed, (hits + 1) / (n_perm + 1)


def content_drift(membership: pd.DataFrame, embeddings: np.ndarray, waves: Sequence, speakers: Sequence,
                  lemmatised: Sequence[str], *, wave_a=None, wave_b=None, wave_order=None, n_perm: int = 999,
                  seed: int = 0, min_per_wave: int = 2, min_quotes_per_term: int = 2) -> pd.DataFrame:
    waves, wave_a, wave_b = wave_pair(waves, wave_a, wave_b, wave_order)
    # read per theme and in blocks: never copied whole (a memory map stays one)
    emb = embeddings if isinstance(embeddings, np.ndarray) else np.asarray(embeddings, dtype=np.float64)
    # canonical clusters (named speakers by name, unattributed quotes by wave and content): row-order free
    if emb.ndim == 2 and len(emb):
        line = np.linspace(1.0, 2.0, emb.shape[1])
        key = np.concatenate([np.asarray(emb[s:s + _ROWS], dtype=np.float64) @ line
                              for s in range(0, len(emb), _ROWS)])
    else:
        key = np.zeros(len(waves))
    within_wave = [None if is_missing_speaker(sp) else f"{w}\x1f{sp}" for sp, w in zip(speakers, waves, strict=True)]
    clusters, _ = canonical_clusters(within_wave, np.column_stack([waves == wave_b, key]))
    prior = Counter(w for doc in lemmatised for w in doc.split())
    rows = []
    for t, col in enumerate(membership.columns):
        has = membership[col].to_numpy(bool)
        ia = np.flatnonzero(has & (waves == wave_a))
        ib = np.flatnonzero(has & (waves == wave_b))
        row = {"theme_id": col, "n_a": len(ia), "n_b": len(ib), "drift": np.nan, "drift_p": np.nan,
               "terms_a": [], "terms_b": [], "exemplars_a": [], "exemplars_b": []}
        if len(ia) >= min_per_wave and len(ib) >= min_per_wave:
            idx = np.concatenate([ia, ib])
            row_b = np.r_[np.zeros(len(ia), bool), np.ones(len(ib), bool)]
            cl, g = compact_ids(clusters[idx])
            order = np.lexsort((key[idx], cl))  # sums in a canonical row order
            sorted_rows, cl = idx[order], cl[order]
            cl_is_b = np.zeros(g, bool)
            cl_is_b[cl[row_b[order]]] = True
            side, row["drift"], row["drift_p"] = _drift_and_p(_cluster_blocks(emb, sorted_rows, cl, g), cl_is_b,
                                                              emb.shape[1], n_perm, np.random.default_rng([seed, t]))
            # a word counts as distinctive only if at least two of the theme's quotes use it: a one-off
            # (an extraction artefact such as "atwas", a name) says nothing about a wave
            used = Counter(w for i in idx for w in set(lemmatised[i].split()))
            ca = Counter(w for i in ia for w in lemmatised[i].split() if used[w] >= min_quotes_per_term)
            cb = Counter(w for i in ib for w in lemmatised[i].split() if used[w] >= min_quotes_per_term)
            ta, tb = log_odds_dirichlet(ca, cb, prior)
            row["terms_a"], row["terms_b"] = [w for w, _ in ta], [w for w, _ in tb]
            for name, ids, total in (("exemplars_a", ia, side[0]), ("exemplars_b", ib, side[1])):
                mean = total / len(ids)  # nearest the wave's centroid, read a block of rows at a time
                near = np.concatenate([np.asarray(emb[ids[s:s + _ROWS]], dtype=np.float64) @ mean
                                       for s in range(0, len(ids), _ROWS)])
                row[name] = [int(i) for i in ids[np.argsort(-near, kind="stable")[:2]]]
        rows.append(row)
    return pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
