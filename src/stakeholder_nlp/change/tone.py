"""Tone of a theme in each wave, and dissent: a quote whose tone runs against its cell's majority.

A cell is a theme (the quote's primary theme) in one wave. Its majority is the polar sentiment label
(``negative`` or ``positive``) carried by at least :data:`MAJORITY` of its quotes, in a cell of at least
:data:`MIN_CELL` quotes; a quote of that cell with the opposite polar label is a **dissent**. Cells with no
such majority have no dissent. Tone values are the scorer's per-quote scores (-1..1) averaged as in
``framework_matrix.csv`` (``sentiment_mean``), with the share of negative and positive quotes as the spread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAJORITY = 0.6
MIN_CELL = 3
_OPPOSITE = {"negative": "positive", "positive": "negative"}


def majority_label(labels: Sequence[str]) -> str:
    """The polar label held by at least :data:`MAJORITY` of ``labels`` (at least :data:`MIN_CELL`), else ''."""
    n = len(labels)
    if n < MIN_CELL:
        return ""
    for lab in ("negative", "positive"):
        if sum(1 for x in labels if x == lab) >= MAJORITY * n:
            return lab
    return ""


def dissent(primary: Sequence[str], waves: Sequence, labels: Sequence[str]) -> np.ndarray:
    """Per quote: True where its label is the opposite of its (primary theme, wave) cell's majority."""
    cells: dict[tuple, list[int]] = {}
    for i, (t, w) in enumerate(zip(primary, waves, strict=True)):
        if t:
            cells.setdefault((t, w), []).append(i)
    out = np.zeros(len(labels), dtype=bool)
    for rows in cells.values():
        maj = majority_label([labels[i] for i in rows])
        if maj:
            for i in rows:
                out[i] = labels[i] == _OPPOSITE[maj]
    return out


def describe_tone(mean: float) -> str:
    if not np.isfinite(mean):
        return "no tone"
    if mean <= -0.1:
        return "negative"
    if mean >= 0.1:
        return "positive"
    return "neutral"
