"""Helpers shared by the between-wave comparisons: the wave order, which waves are compared, and
Benjamini-Hochberg q-values.

The order comes from :func:`stakeholder_nlp.corpus.waves.infer_wave_order` (numeric/date order, ordered
categories, else first appearance; or the researcher's ``wave_order=``). Comparisons are every consecutive
pair plus first -> last when there are three waves or more; each is *later minus earlier*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..corpus.waves import WaveOrder, as_wave_order
from ..errors import TooFewWavesError

CONSECUTIVE, FIRST_LAST = "consecutive", "first-last"


def resolve_order(waves: Sequence | pd.Series, wave_order=None) -> tuple[WaveOrder, np.ndarray, np.ndarray]:
    """The :class:`WaveOrder`, ``waves`` as an object array, and each row's rank in the order."""
    order = as_wave_order(waves, wave_order)
    arr = np.asarray(waves.tolist() if isinstance(waves, pd.Series) else list(waves), dtype=object)
    missing = set(arr.tolist()) - set(order.levels)
    if missing:
        raise TooFewWavesError(f"wave(s) {sorted(map(str, missing))} are not in the wave order {list(order.levels)}")
    return order, arr, order.rank(arr)


def comparison_rows(order: WaveOrder, wave_a=None, wave_b=None) -> list[tuple]:
    """``(wave_a, wave_b, kind)`` for every comparison; one pair only when ``wave_a``/``wave_b`` are given."""
    if len(order.levels) < 2:
        raise TooFewWavesError(f"a shift needs two waves; found {list(order.levels)}")
    if wave_a is not None or wave_b is not None:
        a = order.levels[0] if wave_a is None else wave_a
        b = order.levels[-1] if wave_b is None else wave_b
        for w in (a, b):
            if w not in order.levels:
                raise TooFewWavesError(f"wave {w!r} not in the corpus; waves are {list(order.levels)}")
        return [(a, b, CONSECUTIVE if abs(order.levels.index(a) - order.levels.index(b)) == 1 else FIRST_LAST)]
    return [(a, b, CONSECUTIVE if i < len(order.levels) - 1 else FIRST_LAST)
            for i, (a, b) in enumerate(order.comparisons())]


def wave_pair(waves: Sequence, wave_a=None, wave_b=None, wave_order=None) -> tuple[np.ndarray, object, object]:
    """``waves`` as an object array, and the two waves compared (default: the first and the last in order)."""
    order, arr, _ = resolve_order(waves, wave_order)
    if len(order.levels) < 2:
        raise TooFewWavesError(f"a shift needs two waves; found {list(order.levels)}")
    a = order.levels[0] if wave_a is None else wave_a
    b = order.levels[-1] if wave_b is None else wave_b
    for w in (a, b):
        if w not in order.levels:
            raise TooFewWavesError(f"wave {w!r} not in the corpus; waves are {list(order.levels)}")
    return arr, a, b


def primary(shifts: pd.DataFrame) -> pd.DataFrame:
    """One row per theme: the first -> last comparison (the only one with two waves), indexed by theme."""
    if shifts.empty:
        return shifts.set_index("theme_id")
    first_last = shifts["comparison"] == FIRST_LAST
    rows = shifts[first_last] if first_last.any() else shifts
    return rows.drop_duplicates("theme_id").set_index("theme_id")


def bh_qvalues(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg q-values (statsmodels); NaN p-values (no test possible) stay NaN."""
    from statsmodels.stats.multitest import multipletests

    ps = np.asarray(p_values, dtype=float)
    q = np.full(len(ps), np.nan)
    ok = np.isfinite(ps)
    if ok.any():
        q[ok] = multipletests(ps[ok], method="fdr_bh")[1]
    return q
