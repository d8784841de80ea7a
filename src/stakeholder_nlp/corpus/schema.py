"""The quote schema: one row per quote, documented columns, one validation helper.

Columns of :attr:`Corpus.quotes`:

``quote_id`` (str)
    Unique identifier of the quote.
``text`` (str)
    The quote's words; never empty or whitespace-only.
``speaker`` (str or None)
    Who said it. Quotes from one speaker are not independent; statistics cluster on this column.
    ``None`` means unattributed: such a quote counts as its own cluster.
``wave`` (int, date, str, or an ordered Categorical)
    When it was collected. Order: numeric or date order, an ordered Categorical's order, otherwise the
    order of first appearance (see :mod:`stakeholder_nlp.corpus.waves`; ``wave_order=`` overrides).
``source`` (str or None)
    Table or document the quote came from.
``codes`` (tuple of str)
    Human theme codes (several allowed, possibly none).
``context`` (str or None; the column may be absent)
    The sentence or turn around the quote (the authors' sentence that quotes a phrase, neighbouring
    turns of a transcript). Read it with :attr:`Corpus.contexts`; codebook coding can use it.
any other column
    Free metadata (role, organisation, site...) usable as strata.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from ..errors import CorpusFormatError, TooFewWavesError

QUOTE_ID = "quote_id"
TEXT = "text"
SPEAKER = "speaker"
WAVE = "wave"
SOURCE = "source"
CODES = "codes"
CONTEXT = "context"

REQUIRED_COLUMNS: tuple[str, ...] = (QUOTE_ID, TEXT, SPEAKER, WAVE)
OPTIONAL_COLUMNS: tuple[str, ...] = (SOURCE, CODES)
SCHEMA_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: schema columns that a corpus may lack altogether (not metadata when present)
ABSENT_OK_COLUMNS: tuple[str, ...] = (CONTEXT,)


def check_columns(df: pd.DataFrame, required: Iterable[str], *, what: str = "DataFrame") -> None:
    """Raise a :class:`CorpusFormatError` naming every required column that ``df`` lacks."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise CorpusFormatError(
            f"{what} lacks column(s) {missing}; found {list(df.columns)}", field=missing[0]
        )


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row left out on request (``on_error="skip"``), with the reason."""

    path: str | None
    row: int | None
    field: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """Quotes with speaker, wave and optional codes. See the module docstring for the columns.

    ``skipped`` lists every row left out on request: nothing is dropped silently. ``warnings`` are things
    the loader accepted but a reader of the results must know (e.g. no speaker column: every quote is its
    own speaker); the CLI summary and the report show them.
    """

    quotes: pd.DataFrame
    path: str | None = None
    skipped: tuple[SkippedRow, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_columns(self.quotes, SCHEMA_COLUMNS, what="Corpus.quotes")

    def __len__(self) -> int:
        return len(self.quotes)

    @property
    def texts(self) -> list[str]:
        return self.quotes[TEXT].tolist()

    @property
    def waves(self) -> list:
        """The distinct waves in the researcher's order: numeric/date order, an ordered Categorical's order,
        else first appearance (:func:`stakeholder_nlp.corpus.waves.infer_wave_order`)."""
        from .waves import infer_wave_order

        return list(infer_wave_order(self.quotes[WAVE]).levels)

    @property
    def n_unattributed(self) -> int:
        """Quotes without a speaker (``None``): each counts as its own speaker (its own cluster)."""
        return int(self.quotes[SPEAKER].isna().sum())

    @property
    def metadata_columns(self) -> list[str]:
        """Columns beyond the schema: candidate strata (role, organisation, site...)."""
        return [c for c in self.quotes.columns if c not in SCHEMA_COLUMNS + ABSENT_OK_COLUMNS]

    @property
    def contexts(self) -> list[str | None]:
        """Per quote, its ``context`` (``None`` where missing, empty, or when the column is absent)."""
        if CONTEXT not in self.quotes.columns:
            return [None] * len(self.quotes)
        return [v.strip() if isinstance(v, str) and v.strip() else None for v in self.quotes[CONTEXT]]

    def require_waves(self, n: int = 2) -> None:
        """Raise :class:`TooFewWavesError` unless the corpus has at least ``n`` waves."""
        waves = self.waves
        if len(waves) < n:
            raise TooFewWavesError(
                f"{self.path or 'corpus'}: a comparison needs at least {n} waves in column "
                f"{WAVE!r}; found {len(waves)} ({waves}). Check --wave-col or add the other wave's quotes."
            )

    def code_set(self) -> list[str]:
        """All human codes used, sorted."""
        return sorted({c for codes in self.quotes[CODES] for c in codes})

    def subset(self, mask: Sequence[bool] | pd.Series) -> Corpus:
        return Corpus(self.quotes[list(mask)].reset_index(drop=True), self.path, self.skipped, self.warnings)
