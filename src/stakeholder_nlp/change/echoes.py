"""Echoes: later-wave quotes that restate an earlier-wave point of the same theme; new and dropped points;
and realisations (a later report of experience that echoes an earlier anticipation).

Within a theme, every later quote ``b`` is compared with every earlier quote ``a`` (cosine of the unit
sentence embeddings, in blocks, so memory stays bounded). ``b`` echoes its most similar ``a`` when the
similarity reaches ``threshold`` (:data:`ECHO_THRESHOLD`, calibrated on labelled cross-wave pairs: see
docs/changes.md). A later quote with no earlier quote at the threshold is a **new point**; an earlier
quote that no echo pair names (no later quote has it as its best match at the threshold) is a **dropped
point**. So, per theme and pair of waves,
``n_echoes + n_new`` = the theme's later quotes and ``n_dropped`` <= its earlier quotes.

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
    order_a = idx_a[np.argsort(rank[idx_a], kind="stable")]  # argmax takes the first: the lowest rank
    back = {int(p): k for k, p in enumerate(idx_a.tolist())}
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
            col = sims.max(0)
            for k, p in enumerate(order_a[s:s + _BLOCK].tolist()):
                sim_a[back[p]] = max(sim_a[back[p]], col[k])
    return EchoMatch(best_a, sim_b, sim_a)


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
