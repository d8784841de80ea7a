"""Cluster bootstrap: resample *speakers* within each wave (all of a speaker's quotes together), because
quotes from one person are not independent. Unattributed quotes (no speaker) count as their own cluster.

Vectorised: per speaker we keep the number of quotes and per-theme sums; a replicate draws speaker
multiplicities from a multinomial within each wave and recomputes every theme's statistic at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def cluster_ids(speakers: Sequence, waves: Sequence, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """An integer cluster id per quote: the speaker within its wave; a missing speaker is its own cluster.

    Ids are canonical (row-order free): named (wave, speaker) pairs in sorted order, then unattributed
    quotes ordered by wave and by the rows of ``tiebreak`` (their values) when given, else by position.
    """
    from .inference import canonical_clusters, is_missing_speaker

    keyed = [None if is_missing_speaker(s) else f"{w}\x1f{s}" for s, w in zip(speakers, waves, strict=True)]
    rank = pd.factorize(pd.Series([str(w) for w in waves], dtype=object), sort=True)[0].astype(np.float64)
    extra = np.arange(len(keyed), dtype=np.float64)[:, None] if tiebreak is None else \
        np.asarray(tiebreak, dtype=np.float64).reshape(len(keyed), -1)
    ids, _ = canonical_clusters(keyed, np.column_stack([rank, extra]))
    return ids


@dataclass(frozen=True, slots=True)
class ClusterTotals:
    """Per cluster (speaker): its wave, number of quotes ``n``, and column sums ``sums`` (clusters × k)."""

    wave: np.ndarray
    n: np.ndarray
    sums: np.ndarray


def cluster_totals(values: np.ndarray, clusters: np.ndarray, waves: Sequence, weights: np.ndarray | None = None
                   ) -> ClusterTotals:
    """``values`` is (quotes × k); ``weights`` (quotes,) count toward ``n`` (default 1 per quote)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    m = int(clusters.max()) + 1 if len(clusters) else 0
    w = np.ones(len(clusters)) if weights is None else np.asarray(weights, dtype=np.float64)
    n = np.bincount(clusters, weights=w, minlength=m)
    from .inference import cluster_sums

    sums = cluster_sums(values * w[:, None], clusters, m)  # summed in a canonical row order
    wave_of = np.empty(m, dtype=object)
    wave_of[clusters] = np.asarray(list(waves), dtype=object)
    return ClusterTotals(wave_of, n, sums)


def bootstrap_means(totals: ClusterTotals, wave_levels: Sequence, *, n_boot: int = 2000,
                    seed: int = 0) -> np.ndarray:
    """Replicates of the per-wave mean: array (n_boot, n_waves, k). Speakers resampled within wave."""
    rng = np.random.default_rng(seed)
    k = totals.sums.shape[1]
    out = np.full((n_boot, len(wave_levels), k), np.nan)
    for j, w in enumerate(wave_levels):
        idx = np.flatnonzero(totals.wave == w)
        if len(idx) == 0:
            continue
        mult = rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=n_boot)  # (B, clusters)
        num = mult @ totals.sums[idx]
        den = mult @ totals.n[idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j, :] = num / den[:, None]
    return out


def percentile_ci(samples: np.ndarray, level: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    alpha = (1 - level) / 2
    with warnings.catch_warnings():  # a wave where the theme has no speaker gives an all-NaN column: NaN CI
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        return np.nanquantile(samples, alpha, axis=axis), np.nanquantile(samples, 1 - alpha, axis=axis)
