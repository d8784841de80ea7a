"""The package's exceptions, one small tree.

::

    StakeholderNLPError
     ├── CorpusError (ValueError)
     │    ├── CorpusFormatError        a file, row or field is not what the schema expects
     │    ├── CorpusParseError         the GP-cluster source document did not parse as expected
     │    ├── TooFewWavesError         a comparison needs at least two waves
     │    └── CorpusTooSmallError      too few (distinct) quotes for an analysis; names the minimum
     ├── CodebookError (ValueError)    a codebook file is malformed (names the line)
     ├── ModelError (RuntimeError)     a model's files are missing or unusable (nothing is downloaded)
     ├── EmbeddingsFileError (ValueError)  a precomputed ``.npy`` does not fit the corpus or the model
     ├── OutputError (OSError)         an output or cache location cannot be written (read-only, full,
     │                                 a file where a folder is needed); nothing half-written is left
     └── NotFittedError (ValueError)  an estimator was used before ``fit``

Every message says what was found, what was expected and, where it helps, how to fix it.
"""

from __future__ import annotations


class StakeholderNLPError(Exception):
    """Base class of every error raised on purpose by stakeholder_nlp."""


class CorpusError(StakeholderNLPError, ValueError):
    """A corpus cannot be used as given."""


class CorpusFormatError(CorpusError):
    """Bad input: names the file, the row (1-based line number where there is one) and the field."""

    def __init__(self, message: str, *, path: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        where = []
        if path is not None:
            where.append(f"file {path!s}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.path = path
        self.row = row
        self.field = field


class CorpusParseError(CorpusError):
    """The GP-cluster source document no longer matches what the parser and its corrections expect."""


class TooFewWavesError(CorpusError):
    """A between-wave comparison was asked of a corpus with fewer than two waves."""


class CorpusTooSmallError(CorpusError):
    """The corpus is too small or too uniform for the analysis asked of it; the message names the minimum."""


class CodebookError(StakeholderNLPError, ValueError):
    """A codebook file is malformed."""


class ModelError(StakeholderNLPError, RuntimeError):
    """A model cannot be loaded from local files."""


class EmbeddingsFileError(StakeholderNLPError, ValueError):
    """A precomputed embeddings file (``.npy`` from ``stakeholder-nlp embed``) does not fit the corpus or the
    model: names the file, what it holds and what was expected."""


class OutputError(StakeholderNLPError, OSError):
    """An output file, output folder or cache cannot be written. Raised before the work starts where it
    can be foreseen (preflight), else when the write fails, after removing what was half-written."""


class NotFittedError(StakeholderNLPError, ValueError):
    """An estimator was used before it was fitted."""
