"""The order of the waves: the researcher's, never the alphabet's.

:func:`infer_wave_order` decides the order once, and every comparison reads it from the returned
:class:`WaveOrder`:

- an explicit ``wave_order=[...]`` (CLI ``--wave-order A,B,C``) wins: basis ``"given"``;
- numbers are in numeric order, dates (``datetime``/``date``/``Timestamp``, or strings that all parse
  as ISO dates) in time order: basis ``"numeric"`` / ``"date"``;
- an *ordered* pandas Categorical keeps its category order: basis ``"categorical"``;
- anything else (text labels such as ``pre``/``post``) keeps the order of first appearance in the file:
  basis ``"first appearance"``; this one is an inference the summary, run.json and the report state.

``baseline=`` (CLI ``--baseline A``) moves one wave to the front; comparisons are always *later minus
earlier*, so the baseline is the ``wave_a`` of the first comparison.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import TooFewWavesError

ATTR = "wave_order"  # DataFrame.attrs key carrying an ordered Categorical's order through the loaders
GIVEN, NUMERIC, DATE, CATEGORICAL, FIRST_APPEARANCE = "given", "numeric", "date", "categorical", "first appearance"


@dataclass(frozen=True, slots=True)
class WaveOrder:
    """The waves in order (``levels``), how that order was decided (``basis``), and the baseline."""

    levels: tuple
    basis: str

    @property
    def baseline(self):
        return self.levels[0] if self.levels else None

    @property
    def inferred(self) -> bool:
        """True when the order of text labels was inferred from the file (first appearance)."""
        return self.basis == FIRST_APPEARANCE

    def describe(self) -> str:
        """One sentence for the console summary, run.json and the report."""
        chain = " → ".join(str(w) for w in self.levels)
        why = {GIVEN: "as given (--wave-order/--baseline)", NUMERIC: "numeric order", DATE: "date order",
               CATEGORICAL: "the ordered categories' order",
               FIRST_APPEARANCE: "order of first appearance in the input (inferred: text labels; set "
                                 "--wave-order to change it)"}[self.basis]
        return f"wave order {chain} ({why}); baseline {self.baseline}"

    def rank(self, waves: Sequence) -> np.ndarray:
        """The position (0, 1, ...) of each value of ``waves`` in the order."""
        pos = {w: i for i, w in enumerate(self.levels)}
        return np.fromiter((pos[w] for w in waves), dtype=np.int64, count=len(waves))

    def comparisons(self) -> list[tuple]:
        """Every consecutive pair, then first → last when there are three waves or more."""
        pairs = list(zip(self.levels[:-1], self.levels[1:], strict=True))
        if len(self.levels) > 2:
            pairs.append((self.levels[0], self.levels[-1]))
        return pairs

    def to_dict(self) -> dict:
        return {"levels": [w if isinstance(w, int | float | str) else str(w) for w in self.levels],
                "basis": self.basis, "baseline": str(self.baseline), "inferred": self.inferred,
                "sentence": self.describe()}


def _is_number(v) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _is_date(v) -> bool:
    return isinstance(v, _dt.date | pd.Timestamp | np.datetime64)


def _iso_dates(values: list) -> list | None:
    if not all(isinstance(v, str) for v in values):
        return None
    try:
        parsed = [_dt.date.fromisoformat(v.strip()) for v in values]
    except ValueError:
        return None
    return parsed


def _match(label, levels: Sequence):
    """``label`` as one of ``levels`` (a CLI string '2016' names the integer wave 2016)."""
    if label in levels:
        return label
    by_text = {str(w): w for w in levels}
    if str(label).strip() in by_text:
        return by_text[str(label).strip()]
    raise TooFewWavesError(f"wave {label!r} is not in the corpus; its waves are {list(levels)}")


def infer_wave_order(waves: Sequence | pd.Series, wave_order: Sequence | None = None,
                     baseline=None) -> WaveOrder:
    """The order of the distinct values of ``waves`` (see the module docstring for the rules)."""
    series = waves if isinstance(waves, pd.Series) else pd.Series(list(waves), dtype=object)
    carried = series.attrs.get(ATTR)
    if carried:
        present = set(series.tolist())
        levels, basis = [w for w in carried if w in present], CATEGORICAL
    elif isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.ordered:
        present = set(series.dropna().tolist())
        levels, basis = [c for c in series.cat.categories.tolist() if c in present], CATEGORICAL
    else:
        seen = list(dict.fromkeys(series.tolist()))
        if seen and all(_is_number(v) for v in seen):
            levels, basis = sorted(seen), NUMERIC
        elif seen and all(_is_date(v) for v in seen):
            levels, basis = sorted(seen, key=pd.Timestamp), DATE
        elif (dates := _iso_dates(seen)) is not None:
            levels, basis = [v for _, v in sorted(zip(dates, seen, strict=True))], DATE
        else:
            levels, basis = seen, FIRST_APPEARANCE
    if wave_order is not None and len(wave_order):
        given = [_match(w, levels) for w in wave_order]
        if len(set(given)) != len(given):
            raise TooFewWavesError(f"--wave-order names a wave twice: {list(wave_order)}")
        missing = [w for w in levels if w not in given]
        if missing:
            raise TooFewWavesError(f"--wave-order {list(wave_order)} leaves out wave(s) {missing}; "
                                   f"name every wave of the corpus: {levels}")
        levels, basis = given, GIVEN
    if baseline is not None:
        b = _match(baseline, levels)
        levels, basis = [b] + [w for w in levels if w != b], GIVEN
    return WaveOrder(tuple(levels), basis)


def as_wave_order(waves: Sequence | pd.Series, order: WaveOrder | Sequence | None) -> WaveOrder:
    """Accept a :class:`WaveOrder`, an explicit sequence of waves, or ``None`` (infer from ``waves``)."""
    if isinstance(order, WaveOrder):
        return order
    return infer_wave_order(waves, order)


def keep_categorical_order(corpus, frame: pd.DataFrame, wave_col: str):
    """If ``frame[wave_col]`` is an ordered Categorical, record its order on ``corpus.quotes.attrs`` (the
    loaders turn rows into records, which drops the dtype); returns ``corpus``."""
    col = frame[wave_col] if wave_col in frame.columns else None
    if col is None or not (isinstance(col.dtype, pd.CategoricalDtype) and col.dtype.ordered):
        return corpus
    by_text = {str(w): w for w in corpus.quotes["wave"].unique().tolist()}
    corpus.quotes.attrs[ATTR] = [by_text[str(c)] for c in col.cat.categories if str(c) in by_text]
    return corpus


def strata_wave_table(quotes: pd.DataFrame, column: str, order: WaveOrder | None = None, *,
                      max_levels: int = 12) -> pd.DataFrame | None:
    """Speakers (and quotes) per stratum × wave, e.g. ``"4 (17)"``, waves in order; an unattributed answer
    counts as one respondent. ``None`` when the column has more than ``max_levels`` values or only one (not
    a stratum). Fits interviews and surveys alike: it shows who took part in each wave."""
    values = quotes[column]
    if values.map(lambda v: isinstance(v, list | dict | tuple)).any():
        return None
    levels = values.astype(str).unique()
    if not 2 <= len(levels) <= max_levels:
        return None
    order = order or infer_wave_order(quotes["wave"])
    who = quotes["speaker"].astype(object).where(quotes["speaker"].notna(), "__q" + quotes.index.astype(str))
    frame = pd.DataFrame({"stratum": values.astype(str), "wave": quotes["wave"], "who": who})
    speakers = frame.groupby(["stratum", "wave"])["who"].nunique().unstack(fill_value=0)
    n = frame.groupby(["stratum", "wave"]).size().unstack(fill_value=0)
    cols = [w for w in order.levels if w in speakers.columns]
    speakers, n = speakers.reindex(columns=cols, fill_value=0), n.reindex(columns=cols, fill_value=0)
    return speakers.astype(str) + " (" + n.astype(str) + ")"
