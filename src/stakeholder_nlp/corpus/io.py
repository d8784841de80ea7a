"""Load quotes from JSONL, CSV, parquet or a pandas DataFrame into a :class:`Corpus`.

Column names are configurable (``text_col=``, ``wave_col=``, ``speaker_col=``...). Bad input raises a
:class:`~stakeholder_nlp.errors.CorpusFormatError` naming the file, the row (the 1-based line number in
the file: header = line 1 for CSV) and the field. With ``on_error="skip"`` bad rows are left out,
counted and listed in ``Corpus.skipped`` instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..errors import CorpusFormatError
from .schema import CODES, QUOTE_ID, SOURCE, SPEAKER, TEXT, WAVE, Corpus, SkippedRow

OnError = Literal["raise", "skip"]


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, list | tuple) else False
    except (TypeError, ValueError):
        return False


def _parse_codes(value: Any, *, path: str | None, row: int | None, field: str) -> tuple[str, ...]:
    if _is_missing(value):
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    if hasattr(value, "tolist"):
        return tuple(str(v) for v in value.tolist())
    text = str(value).strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorpusFormatError(f"codes look like a JSON list but do not parse: {exc}",
                                    path=path, row=row, field=field) from exc
        return tuple(str(v) for v in parsed)
    return tuple(c.strip() for c in text.split(";") if c.strip())


def _normalise_wave(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        return int(s) if s.lstrip("-").isdigit() else s
    if hasattr(value, "item"):
        return value.item()
    return value


def from_records(
    records: list[dict[str, Any]],
    *,
    row_numbers: list[int] | None = None,
    path: str | None = None,
    text_col: str = TEXT,
    wave_col: str = WAVE,
    speaker_col: str = SPEAKER,
    id_col: str = QUOTE_ID,
    source_col: str = SOURCE,
    codes_col: str = CODES,
    on_error: OnError = "raise",
    skipped: list[SkippedRow] | None = None,
) -> Corpus:
    """Validate plain records (dicts) into a :class:`Corpus`. The other loaders all end here."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}")
    skipped = list(skipped or [])
    row_numbers = row_numbers or list(range(1, len(records) + 1))
    if records:
        present = set().union(*(r.keys() for r in records))
        for needed in (text_col, wave_col):
            if needed not in present:
                raise CorpusFormatError(
                    f"missing column {needed!r}; found columns {sorted(map(str, present))}. "
                    f"Pass {'text_col' if needed == text_col else 'wave_col'}= to name it.",
                    path=path, field=needed)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    meta_skip = {text_col, wave_col, speaker_col, id_col, source_col, codes_col}
    for rec, line in zip(records, row_numbers, strict=True):
        try:
            text = rec.get(text_col)
            if _is_missing(text) or not str(text).strip():
                raise CorpusFormatError("text is empty or whitespace-only; expected the quote's words",
                                        path=path, row=line, field=text_col)
            wave = rec.get(wave_col)
            if _is_missing(wave) or (isinstance(wave, str) and not wave.strip()):
                raise CorpusFormatError("wave is missing; every quote needs the wave it was collected in",
                                        path=path, row=line, field=wave_col)
            qid = rec.get(id_col)
            qid = f"q{len(rows) + len(skipped) + 1:05d}" if _is_missing(qid) else str(qid)
            if qid in seen:
                raise CorpusFormatError(f"duplicate quote_id {qid!r} (first seen at row {seen[qid]})",
                                        path=path, row=line, field=id_col)
            speaker = rec.get(speaker_col)
            speaker = None if _is_missing(speaker) or not str(speaker).strip() else str(speaker).strip()
            source = rec.get(source_col)
            row = {
                QUOTE_ID: qid,
                TEXT: str(text).strip(),
                SPEAKER: speaker,
                WAVE: _normalise_wave(wave),
                SOURCE: None if _is_missing(source) else str(source),
                CODES: _parse_codes(rec.get(codes_col), path=path, row=line, field=codes_col),
            }
            for key, value in rec.items():
                if key not in meta_skip:
                    row[str(key)] = value
        except CorpusFormatError as exc:
            if on_error == "raise":
                raise
            skipped.append(SkippedRow(path, exc.row, exc.field, str(exc)))
            continue
        seen[qid] = line
        rows.append(row)
    df = pd.DataFrame(rows, columns=None if rows else [QUOTE_ID, TEXT, SPEAKER, WAVE, SOURCE, CODES])
    waves = {type(w) for w in df[WAVE]} if len(df) else set()
    if len(waves) > 1:
        df[WAVE] = df[WAVE].astype(str)
    return Corpus(df, path, tuple(skipped))


def _records(df: pd.DataFrame) -> list[dict[Hashable, Any]]:
    return df.to_dict(orient="records")


def from_dataframe(df: pd.DataFrame, **kwargs: Any) -> Corpus:
    """Load from a pandas DataFrame (row numbers in errors are 1-based positions)."""
    return from_records(_records(df), row_numbers=list(range(1, len(df) + 1)), **kwargs)


def read_jsonl(path: str | Path, **kwargs: Any) -> Corpus:
    """Load a JSON-lines file: one object per line; blank lines are allowed."""
    p = str(path)
    on_error = kwargs.get("on_error", "raise")
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"corpus file {p} does not exist") from None
    records, lines, skipped = [], [], []
    for i, bline in enumerate(raw.split(b"\n"), start=1):
        try:
            line = bline.decode("utf-8")
        except UnicodeDecodeError as exc:
            err = CorpusFormatError(f"bytes are not valid UTF-8 at byte {exc.start}: {bline[exc.start:exc.start + 8]!r}",
                                    path=p, row=i)
            if on_error == "raise":
                raise err from exc
            skipped.append(SkippedRow(p, i, None, str(err)))
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise json.JSONDecodeError(f"expected a JSON object, got {type(obj).__name__}", line, 0)
        except json.JSONDecodeError as exc:
            err = CorpusFormatError(f"line is not a JSON object: {exc.msg} (column {exc.colno})", path=p, row=i)
            if on_error == "raise":
                raise err from exc
            skipped.append(SkippedRow(p, i, None, str(err)))
            continue
        records.append(obj)
        lines.append(i)
    return from_records(records, row_numbers=lines, path=p, skipped=skipped, **kwargs)


def read_csv(path: str | Path, **kwargs: Any) -> Corpus:
    """Load a CSV file with a header line (data rows are numbered from line 2)."""
    p = str(path)
    raw = Path(path).read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusFormatError(f"bytes are not valid UTF-8 at byte {exc.start}; save the file as UTF-8",
                                path=p, row=line) from exc
    df = pd.read_csv(path, dtype=object, keep_default_na=True, encoding="utf-8")
    return from_records(_records(df), row_numbers=list(range(2, len(df) + 2)), path=p, **kwargs)


def read_parquet(path: str | Path, **kwargs: Any) -> Corpus:
    """Load a parquet file (row numbers in errors are 1-based row positions)."""
    df = pd.read_parquet(path)
    return from_records(_records(df), row_numbers=list(range(1, len(df) + 1)), path=str(path), **kwargs)


def load_corpus(source: str | Path | pd.DataFrame, **kwargs: Any) -> Corpus:
    """Load a corpus from a DataFrame or a ``.jsonl``/``.json``, ``.csv`` or ``.parquet`` file."""
    if isinstance(source, pd.DataFrame):
        return from_dataframe(source, **kwargs)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"corpus file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return read_jsonl(path, **kwargs)
    if suffix in (".csv", ".tsv"):
        return read_csv(path, **kwargs)
    if suffix in (".parquet", ".pq"):
        return read_parquet(path, **kwargs)
    raise CorpusFormatError(f"unknown file type {suffix!r}; expected .jsonl, .csv or .parquet", path=str(path))
