"""Helpers shared by the between-wave comparisons: which two waves, and Benjamini-Hochberg q-values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import TooFewWavesError


def wave_pair(waves: Sequence, wave_a=None, wave_b=None) -> tuple[np.ndarray, object, object]:
    """``waves`` as an object array, and the two waves compared (default: the first and the last)."""
    arr = np.asarray(list(waves), dtype=object)
    levels = sorted(set(arr.tolist()))
    if len(levels) < 2:
        raise TooFewWavesError(f"a shift needs two waves; found {levels}")
    a = levels[0] if wave_a is None else wave_a
    b = levels[-1] if wave_b is None else wave_b
    for w in (a, b):
        if w not in levels:
            raise TooFewWavesError(f"wave {w!r} not in the corpus; waves are {levels}")
    return arr, a, b


def bh_qvalues(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg q-values (statsmodels); NaN p-values (no test possible) stay NaN."""
    from statsmodels.stats.multitest import multipletests

    ps = np.asarray(p_values, dtype=float)
    q = np.full(len(ps), np.nan)
    ok = np.isfinite(ps)
    if ok.any():
        q[ok] = multipletests(ps[ok], method="fdr_bh")[1]
    return q
