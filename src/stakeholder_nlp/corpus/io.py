"""Load quotes from JSONL, CSV/TSV, parquet or a pandas DataFrame into a :class:`Corpus`.

Column names are configurable (``text_col=``, ``wave_col=``, ``speaker_col=``...). Every value is checked
by type (see :mod:`stakeholder_nlp.corpus.validate`): a wrong type is an error, never its repr as text.
Bad input raises a :class:`~stakeholder_nlp.errors.CorpusFormatError` naming the file, the row and the
field. Rows are physical line numbers for JSONL and CSV/TSV (the header is line 1; a quoted field spanning
several lines is reported at its first line) and 1-based positions for parquet and DataFrames. With
``on_error="skip"`` bad rows are left out and listed in ``Corpus.skipped`` instead; file-level problems
(not UTF-8 at all, a corrupt parquet file, a missing column) are errors either way.

Formats: ``.jsonl``/``.ndjson``/``.json`` (one JSON object per line; a UTF-8 BOM is ignored; duplicate
keys, ``NaN``/``Infinity`` and lone surrogate escapes are errors), ``.csv`` and ``.tsv`` (comma- and
tab-separated, RFC 4180 quoting, a UTF-8 BOM is ignored, only an empty field is missing: ``NA`` is the
text "NA"), ``.parquet``/``.pq``; a REFI-QDA project ``.qdpx``/``.qde`` is read as speaker-turn units
(:func:`read_refi_project`). :data:`LOADERS` maps each suffix to its loader, and an unknown suffix's error is
generated from it. A missing speaker column is allowed: every quote is then its own speaker
and ``Corpus.warnings`` says so (the CLI summary and the report show it).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..errors import CorpusFormatError
from .schema import CODES, QUOTE_ID, SOURCE, SPEAKER, TEXT, WAVE, Corpus, SkippedRow
from .validate import (
    Where,
    check_codes,
    check_id,
    check_text,
    check_utf8,
    check_wave,
    unify_waves,
)

OnError = Literal["raise", "skip"]

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _check_columns_config(**cols: str) -> None:
    seen: dict[str, str] = {}
    for role in ("text_col", "wave_col", "speaker_col", "id_col"):
        name = cols[role]
        if name in seen:
            raise CorpusFormatError(f"{seen[name]} and {role} both name column {name!r}; each role needs "
                                    "its own column", field=name)
        seen[name] = role


def from_records(
    records: list[dict[str, Any]],
    *,
    row_numbers: list[int] | None = None,
    path: str | None = None,
    columns: list[str] | None = None,
    text_col: str = TEXT,
    wave_col: str = WAVE,
    speaker_col: str = SPEAKER,
    id_col: str = QUOTE_ID,
    source_col: str = SOURCE,
    codes_col: str = CODES,
    on_error: OnError = "raise",
    skipped: list[SkippedRow] | None = None,
) -> Corpus:
    """Validate plain records (dicts) into a :class:`Corpus`. The other loaders all end here.

    ``columns`` is the file's header where there is one (checked even when no row follows it).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}")
    _check_columns_config(text_col=text_col, wave_col=wave_col, speaker_col=speaker_col, id_col=id_col)
    skipped = list(skipped or [])
    row_numbers = row_numbers or list(range(1, len(records) + 1))
    present: set[str] = set(columns or ())
    for r in records:
        present.update(r.keys())
    if not records and not skipped and not columns:
        raise CorpusFormatError("no quotes: the input holds no rows", path=path)
    for needed, option in ((text_col, "text_col"), (wave_col, "wave_col")):
        if needed not in present:
            raise CorpusFormatError(
                f"missing column {needed!r}; found columns {sorted(map(str, present))}. "
                f"Pass {option}= (--{option.replace('_', '-')}) to name it.",
                path=path, field=needed)
    mapped = {text_col: TEXT, wave_col: WAVE, speaker_col: SPEAKER, id_col: QUOTE_ID, source_col: SOURCE,
              codes_col: CODES}
    for name in sorted(present):
        if name in mapped or name not in mapped.values():
            continue
        role = next(k for k, v in mapped.items() if v == name)
        raise CorpusFormatError(
            f"column {name!r} is also the name of the schema field filled from column {role!r}; rename or "
            f"drop one of them (or pass the option naming {name!r} as that field's column)",
            path=path, field=name)
    if not records and not skipped:
        raise CorpusFormatError("no quotes: the input holds no rows", path=path)
    warnings: list[str] = []
    if speaker_col not in present:
        warnings.append(f"no speaker column {speaker_col!r}: every quote is treated as a separate speaker, "
                        "so intervals assume quotes are independent. Pass --speaker-col to name the column.")
    rows: list[dict[str, Any]] = []
    wave_where: list[Where] = []
    for rec, line in zip(records, row_numbers, strict=True):
        try:
            row = {
                TEXT: check_text(rec.get(text_col), Where(path, line, text_col)),
                QUOTE_ID: check_id(rec.get(id_col), Where(path, line, id_col)),
                SPEAKER: check_id(rec.get(speaker_col), Where(path, line, speaker_col)),
                SOURCE: check_id(rec.get(source_col), Where(path, line, source_col)),
                CODES: check_codes(rec.get(codes_col), Where(path, line, codes_col)),
            }
            where = Where(path, line, wave_col)
            wave = check_wave(rec.get(wave_col), where)
            if wave is None:
                raise where.error("wave is missing; every quote needs the wave it was collected in")
            row[WAVE] = wave
            for key, value in rec.items():
                if key not in mapped:
                    if isinstance(value, str):
                        check_utf8(value, Where(path, line, key))
                    row[key] = value
        except CorpusFormatError as exc:
            if on_error == "raise":
                raise
            skipped.append(SkippedRow(path, exc.row, exc.field, str(exc)))
            continue
        rows.append(row)
        wave_where.append(where)
    rows, wave_where = _unify(rows, wave_where, on_error, skipped)
    _assign_ids(rows, wave_where, on_error, skipped)
    rows = [r for r in rows if r is not None]
    speakers = [r[SPEAKER] for r in rows]
    n_anon = sum(s is None for s in speakers)
    if speaker_col in present and rows and n_anon:
        warnings.append(f"{n_anon} of {len(rows)} quotes have no speaker in column {speaker_col!r}: each is "
                        "treated as a separate speaker.")
    meta = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in (QUOTE_ID, TEXT, SPEAKER, WAVE,
                                                                              SOURCE, CODES)]
    # object columns: ``None`` stays ``None`` (pandas' string dtype would turn it into NaN)
    data: dict[str, pd.Series] = {c: pd.Series([r[c] for r in rows], dtype=object)
                                  for c in (QUOTE_ID, TEXT, SPEAKER)}
    waves = [r[WAVE] for r in rows]
    data[WAVE] = pd.Series(waves, dtype=object if not waves or isinstance(waves[0], str) else None)
    data[SOURCE] = pd.Series([r[SOURCE] for r in rows], dtype=object)
    data[CODES] = pd.Series([r[CODES] for r in rows], dtype=object)
    for c in meta:
        data[c] = pd.Series([r.get(c) for r in rows])
    df = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    return Corpus(df, path, tuple(skipped), tuple(warnings))


def _unify(rows: list[dict], wheres: list[Where], on_error: OnError,
           skipped: list[SkippedRow]) -> tuple[list[dict], list[Where]]:
    while True:
        try:
            waves = unify_waves([r[WAVE] for r in rows], wheres)
        except CorpusFormatError as exc:
            if on_error == "raise":
                raise
            skipped.append(SkippedRow(exc.path, exc.row, exc.field, str(exc)))
            keep = [i for i, w in enumerate(wheres) if w.row != exc.row]
            rows, wheres = [rows[i] for i in keep], [wheres[i] for i in keep]
            continue
        for r, w in zip(rows, waves, strict=True):
            r[WAVE] = w
        return rows, wheres


def _assign_ids(rows: list[dict | None], wheres: list[Where], on_error: OnError,
                skipped: list[SkippedRow]) -> None:
    """Duplicate ids are errors; rows without an id get ``q<row>`` (suffixed if that id is taken)."""
    seen: dict[str, int | None] = {}
    for i, (r, w) in enumerate(zip(rows, wheres, strict=True)):
        qid = r[QUOTE_ID]
        if qid is None:
            continue
        if qid in seen:
            exc = CorpusFormatError(f"duplicate quote_id {qid!r} (first seen at row {seen[qid]})",
                                    path=w.path, row=w.row, field=QUOTE_ID)
            if on_error == "raise":
                raise exc
            skipped.append(SkippedRow(w.path, w.row, QUOTE_ID, str(exc)))
            rows[i] = None
            continue
        seen[qid] = w.row
    for i, (r, w) in enumerate(zip(rows, wheres, strict=True)):
        if r is None or r[QUOTE_ID] is not None:
            continue
        base = f"q{w.row if w.row is not None else i + 1:05d}"
        qid, k = base, 1
        while qid in seen:
            qid, k = f"{base}-{k}", k + 1
        r[QUOTE_ID] = qid
        seen[qid] = w.row


def from_dataframe(df: pd.DataFrame, *, path: str | None = None, **kwargs: Any) -> Corpus:
    """Load from a pandas DataFrame (row numbers in errors are 1-based positions)."""
    names = [str(c) for c in df.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CorpusFormatError(f"column name(s) {dupes} appear more than once; which one holds the data is "
                                "ambiguous, so rename or drop the copies", path=path, field=dupes[0])
    frame = df.set_axis(names, axis=1)
    records = frame.to_dict(orient="records")
    corpus = from_records(records, row_numbers=list(range(1, len(frame) + 1)), path=path, columns=names, **kwargs)
    from .waves import keep_categorical_order  # an ordered Categorical's wave order survives the records

    return keep_categorical_order(corpus, frame, kwargs.get("wave_col", WAVE))


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise CorpusFormatError(f"is a folder, not a file; expected a file of one of the types {', '.join(LOADERS)}",
                                path=str(path))
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"corpus file {path} does not exist") from None
    except OSError as exc:
        raise CorpusFormatError(f"cannot be read: {exc.strerror or exc}", path=str(path)) from None


def _decode(raw: bytes, p: str) -> str:
    if raw.startswith(_UTF16_BOMS):
        raise CorpusFormatError("is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8", path=p)
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusFormatError(f"bytes are not valid UTF-8 at byte {exc.start} "
                                f"({raw[exc.start:exc.start + 8]!r}); save the file as UTF-8",
                                path=p, row=line) from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (use null for a missing value)")


def read_jsonl(path: str | Path, **kwargs: Any) -> Corpus:
    """Load a JSON-lines file: one object per line; blank lines are allowed."""
    p = str(path)
    on_error = kwargs.get("on_error", "raise")
    raw = _read_bytes(Path(path))
    if raw.startswith(_UTF16_BOMS):
        raise CorpusFormatError("is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8", path=p)
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM):]
    records, lines, skipped = [], [], []
    decoder = json.JSONDecoder(object_pairs_hook=_json_object, parse_constant=_json_constant)
    for i, bline in enumerate(raw.split(b"\n"), start=1):
        try:
            try:
                line = bline.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CorpusFormatError(f"bytes are not valid UTF-8 at byte {exc.start} of the line "
                                        f"({bline[exc.start:exc.start + 8]!r}); save the file as UTF-8",
                                        path=p, row=i) from None
            line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            try:
                obj = decoder.decode(line)
            except json.JSONDecodeError as exc:
                raise CorpusFormatError(f"line is not a JSON object: {exc.msg} (column {exc.colno})",
                                        path=p, row=i) from None
            except (ValueError, RecursionError) as exc:
                raise CorpusFormatError(f"line is not a JSON object: {exc}", path=p, row=i) from None
            if not isinstance(obj, dict):
                raise CorpusFormatError(f"line is not a JSON object: found a JSON {type(obj).__name__}",
                                        path=p, row=i)
            for key in obj:
                check_utf8(key, Where(p, i, key))
        except CorpusFormatError as err:
            if on_error == "raise":
                raise
            skipped.append(SkippedRow(p, err.row, err.field, str(err)))
            continue
        records.append(obj)
        lines.append(i)
    return from_records(records, row_numbers=lines, path=p, skipped=skipped, **kwargs)


def read_csv(path: str | Path, *, sep: str | None = None, **kwargs: Any) -> Corpus:
    """Load a CSV (or, for ``.tsv`` or ``sep="\\t"``, TSV) file with a header line.

    Fields are strings; only an empty field is missing. Errors name the physical line of the record.
    """
    p = str(path)
    on_error = kwargs.get("on_error", "raise")
    if sep is None:
        sep = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    text = _decode(_read_bytes(Path(path)), p)
    if not text.strip():
        raise CorpusFormatError("is empty; expected a header line naming the columns, then one quote per row",
                                path=p)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"', doublequote=True,
                        strict=True)
    header: list[str] | None = None
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    skipped: list[SkippedRow] = []
    last = 0
    while True:
        start = last + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            err = CorpusFormatError(f"malformed {'TSV' if sep == chr(9) else 'CSV'} ({exc}); quote fields that "
                                    "hold the separator, quotes or line breaks", path=p, row=start)
            last = reader.line_num
            if on_error == "raise" or header is None:
                raise err from None
            skipped.append(SkippedRow(p, start, None, str(err)))
            continue
        last = reader.line_num
        if not fields:  # a blank line
            continue
        if header is None:
            header = [h.strip() or f"unnamed_{k}" for k, h in enumerate(fields, start=1)]
            dupes = sorted({h for h in header if header.count(h) > 1})
            if dupes:
                raise CorpusFormatError(f"the header names column(s) {dupes} more than once; which one holds the "
                                        "data is ambiguous, so rename the copies", path=p, row=start,
                                        field=dupes[0])
            continue
        if len(fields) != len(header):
            err = CorpusFormatError(f"row has {len(fields)} fields but the header (line 1) has {len(header)}; "
                                    "quote fields that hold the separator", path=p, row=start)
            if on_error == "raise":
                raise err
            skipped.append(SkippedRow(p, start, None, str(err)))
            continue
        records.append({h: (v if v != "" else None) for h, v in zip(header, fields, strict=True)})
        lines.append(start)
    return from_records(records, row_numbers=lines, path=p, columns=header, skipped=skipped, **kwargs)


def read_parquet(path: str | Path, **kwargs: Any) -> Corpus:
    """Load a parquet file (row numbers in errors are 1-based row positions)."""
    p = Path(path)
    if p.is_dir():
        _read_bytes(p)  # raises: a folder is not a corpus
    if not p.exists():
        raise FileNotFoundError(f"corpus file {p} does not exist")
    try:
        df = pd.read_parquet(p)
    except (FileNotFoundError, IsADirectoryError):
        raise
    except PermissionError as exc:
        raise CorpusFormatError(f"cannot be read: {exc.strerror or exc}", path=str(p)) from None
    except (Exception, MemoryError) as exc:  # pyarrow raises many types for corrupt files
        raise CorpusFormatError(f"is not a readable parquet file ({type(exc).__name__}: {exc})",
                                path=str(p)) from None
    return from_dataframe(df, path=str(p), **kwargs)


def read_refi_project(path: str | Path, **kwargs: Any) -> Corpus:
    """A REFI-QDA project (``.qdpx``, or a bare ``.qde``): its text sources as speaker-turn units, waves from
    a ``wave`` variable (:func:`stakeholder_nlp.corpus.ingest.ingest`; column options do not apply)."""
    from .ingest import ingest

    return ingest([path], unit="turn").corpus


#: file suffix -> loader: what :func:`load_corpus` (and so ``analyze``) reads; its error lists these keys
LOADERS: dict[str, Callable[..., Corpus]] = {
    ".jsonl": read_jsonl, ".json": read_jsonl, ".ndjson": read_jsonl, ".csv": read_csv, ".tsv": read_csv,
    ".parquet": read_parquet, ".pq": read_parquet, ".qdpx": read_refi_project, ".qde": read_refi_project,
}


def unknown_type_message(suffix: str) -> str:
    """What an unreadable suffix gets told: the suffixes of :data:`LOADERS`, and that transcripts are read by
    ``ingest`` (the suffixes of :data:`.formats.SUFFIXES`)."""
    from .formats import SUFFIXES

    what = f"file type {suffix!r}" if suffix else "a file without a suffix"
    return (f"unknown {what}; expected one of {', '.join(LOADERS)}. Transcripts ({', '.join(SUFFIXES)}) are "
            "read by `stakeholder-nlp ingest FILES --out corpus.jsonl` first")


def load_corpus(source: str | Path | pd.DataFrame, **kwargs: Any) -> Corpus:
    """Load a corpus from a DataFrame or a file of a type in :data:`LOADERS` (``.jsonl``/``.json``/``.ndjson``,
    ``.csv``, ``.tsv``, ``.parquet``/``.pq``, a REFI-QDA ``.qdpx``/``.qde``), chosen by its suffix, or from a
    folder of parquet or CSV shards (:func:`.shards.read_shards`: the files in name order)."""
    if isinstance(source, pd.DataFrame):
        return from_dataframe(source, **kwargs)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"corpus file {path} does not exist")
    suffix = path.suffix.lower()
    if path.is_dir():
        from .shards import SHARD_SUFFIXES, read_shards

        if suffix in SHARD_SUFFIXES or suffix not in LOADERS:  # a folder of shards (a Spark or Ray Data output)
            return read_shards(path, **kwargs)
    if suffix not in LOADERS:
        raise CorpusFormatError(unknown_type_message(suffix), path=str(path))
    return LOADERS[suffix](path, **kwargs)
