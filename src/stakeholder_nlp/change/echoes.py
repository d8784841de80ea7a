"""Echoes: later-wave quotes that restate an earlier-wave point of the same theme; new and dropped points;
and realisations (a later report of experience that echoes an earlier anticipation).

Within a theme, every later quote ``b`` is compared with every earlier quote ``a`` (cosine of the unit
sentence embeddings, in blocks, so memory stays bounded). ``b`` echoes its most similar ``a`` when the
similarity reaches ``threshold`` (:data:`ECHO_THRESHOLD`, calibrated on labelled cross-wave pairs: see
docs/changes.md). A later quote with no earlier quote at the threshold is a **new point**; an earlier
quote that no echo pair names (no later quote has it as its best match at the threshold) is a **dropped
point**. So, per theme and pair of waves,
``n_echoes + n_new`` = the theme's later quotes and ``n_dropped`` <= its earlier quotes.

Above :data:`ECHO_SAMPLE` quotes of a theme in a wave (a survey of hundreds of thousands), the search runs on
a sample of that many of the wave's quotes in the theme, chosen by a hash of the quote id (:func:`sample_side`),
and the counts are of the sampled quotes (``n_echoes + n_new`` = the sampled later quotes); the change
result's ``config["echo_sampled"]`` lists the themes where that happened.

An echo pair is a **realisation** (:func:`realisation_kind`) when ``a`` is an ``anticipation`` and ``b`` an
``experience``, read from the sign of their sentiment scores: ``came_true`` when ``a`` is a warning (score
below 0) and ``b`` reports it (below 0); ``unmet`` when ``a`` is a hope or need (0 or above) and ``b`` is below
0; ``met`` when ``a`` is a hope or need and ``b`` above 0. Other echo pairs (a warning followed by a positive
report, other modes) are kind ``echo``. The sign, not the scorer's three-way label, because a report of what
happened is often read as neutral by the scorer while its direction is right (benchmarks/bench_changes.py:
kind accuracy on the labelled pairs of the interview study, 0.47 with labels, 0.67 with signs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: cosine (MiniLM sentence embeddings) at which a later quote restates an earlier one; calibrated on the
#: labelled pairs of benchmarks/data/echoes (benchmarks/bench_changes.py)
ECHO_THRESHOLD = 0.425
KINDS = ("echo", "came_true", "unmet", "met")
#: per theme and wave, at most this many quotes enter the echo search (a hash-chosen sample above it): the
#: search compares every later quote with every earlier one, so its cost grows with the square of a theme's
#: size; with the cap it is at most ECHO_SAMPLE**2 similarities per theme and pair of waves
ECHO_SAMPLE = 20_000
_BLOCK = 2048


@dataclass(frozen=True, slots=True)
class EchoMatch:
    """Per later quote (positions in ``idx_b`` order): its best earlier match and the similarity; per earlier
    quote: its best similarity to any later quote."""

    best_a: np.ndarray  # positions into the corpus, -1 where there is no earlier quote
    sim_b: np.ndarray
    sim_a: np.ndarray


def match(idx_a: np.ndarray, idx_b: np.ndarray, x: np.ndarray, rank: np.ndarray) -> EchoMatch:
    """Best cross-wave matches within a theme. ``x``: unit embeddings (rows = corpus positions); ``rank``: each
    position's rank in a row-order-free order (ties between equal similarities go to the lower rank)."""
    idx_a = np.asarray(idx_a, dtype=np.int64)
    idx_b = np.asarray(idx_b, dtype=np.int64)
    best_a = np.full(len(idx_b), -1, dtype=np.int64)
    sim_b = np.full(len(idx_b), -np.inf, dtype=np.float64)
    sim_a = np.full(len(idx_a), -np.inf, dtype=np.float64)
    if len(idx_a) == 0 or len(idx_b) == 0:
        return EchoMatch(best_a, sim_b, sim_a)
    perm = np.argsort(rank[idx_a], kind="stable")  # argmax takes the first: the lowest rank
    order_a = idx_a[perm]
    sim_ord = np.full(len(order_a), -np.inf, dtype=np.float64)  # sim_a in order_a's order
    for s in range(0, len(order_a), _BLOCK):
        xa = np.asarray(x[order_a[s:s + _BLOCK]], dtype=np.float32)
        for t in range(0, len(idx_b), _BLOCK):
            xb = np.asarray(x[idx_b[t:t + _BLOCK]], dtype=np.float32)
            sims = np.round((xb @ xa.T).astype(np.float64), 6)  # rounded: the same on any BLAS blocking
            j = sims.argmax(1)
            top = sims[np.arange(len(j)), j]
            better = top > sim_b[t:t + _BLOCK]
            sim_b[t:t + _BLOCK] = np.where(better, top, sim_b[t:t + _BLOCK])
            best_a[t:t + _BLOCK] = np.where(better, order_a[s + j], best_a[t:t + _BLOCK])
            np.maximum(sim_ord[s:s + _BLOCK], sims.max(0), out=sim_ord[s:s + _BLOCK])
    sim_a[perm] = sim_ord
    return EchoMatch(best_a, sim_b, sim_a)


def sample_side(idx: np.ndarray, keys: np.ndarray, cap: int = ECHO_SAMPLE) -> np.ndarray:
    """``idx`` itself up to ``cap`` positions; above, the ``cap`` positions with the smallest ``keys`` (a hash
    of the quote id: the same sample in any row order), in ``idx``'s order."""
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) <= cap:
        return idx
    keep = np.zeros(len(idx), dtype=bool)
    keep[np.argsort(keys[idx], kind="stable")[:cap]] = True
    return idx[keep]


def quote_keys(quote_ids) -> np.ndarray:
    """A 63-bit hash per quote id (the echo sample's order)."""
    import hashlib

    return np.array([int.from_bytes(hashlib.blake2b(str(q).encode("utf-8"), digest_size=8).digest(), "little")
                     >> 1 for q in quote_ids], dtype=np.int64)


def realisation_kind(mode_a: str, mode_b: str, score_a: float, score_b: float) -> str:
    """``came_true``, ``unmet``, ``met`` or ``echo`` for an echo pair, from the quotes' modes and sentiment
    scores (module docstring)."""
    if mode_a != "anticipation" or mode_b != "experience":
        return "echo"
    if score_a < 0:
        return "came_true" if score_b < 0 else "echo"
    if score_b < 0:
        return "unmet"
    return "met" if score_b > 0 else "echo"
