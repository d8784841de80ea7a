"""An independent statement of what the loaders must do with each cell, for the fuzz test and the fuzz
campaign (``benchmarks/fuzz_loaders.py``): random tables of good and bad cells, written as a DataFrame,
JSONL, CSV, TSV or parquet, loaded, and the result compared with :func:`expect`.

:func:`expect` is written from the rules in ``stakeholder_nlp.corpus.validate``'s docstring, not from its
code. Outcomes: ``typed`` (a ``CorpusFormatError`` where one was expected, at the expected row),
``correct`` (a load equal to the expected one), ``untyped`` (any other exception) and ``wrong`` (a load
that differs from the expected one, or a load where an error was expected, or an error at another row).
Byte-level mutations (truncation, flipped bytes, BOMs, UTF-16, extra fields) have no exact expectation:
they must give a typed error or a load that passes :func:`invariants`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMATS = ("dataframe", "jsonl", "csv", "tsv", "parquet")
MISSING = object()  # a key left out of a JSON object / a column absent
UNPARSEABLE = object()  # a JSON line with NaN/Infinity, which is not JSON

WORDS = ["data", "practice", "nurse", "the", "cluster", "émigré", "naïve", "数据", "بيانات", "😀", "a,b", 'say "hi"',
         "=1+1", "+SUM(A1)", "-2", "@cmd", "line\nbreak", "tab\there", "semi;colon", "back\\slash", "\u202eevil",
         "cr\rhere", "NA", "null", "None", "nan", "[x]"]
INVISIBLE = ["", " ", "\t", "\u200b", "\ufeff", "\x00", "\u200b\u200d", "  \u00a0 ", "\x07", "\u2028"]
LONE_SURROGATE = "\ud83dtext"


def _words(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))


def gen_text(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.72:
        s = _words(rng)
        return (" " * rng.randint(0, 2)) + s + (" " * rng.randint(0, 2)) if rng.random() < 0.2 else s
    if r < 0.82:
        return rng.choice(INVISIBLE)
    return rng.choice([None, 7, 2.5, float("nan"), float("inf"), True, ["a"], {"k": "v"}, b"bytes", LONE_SURROGATE,
                       MISSING])


def gen_wave(rng: random.Random, kind: str) -> Any:
    r = rng.random()
    if r < 0.85:
        if kind == "int":
            return rng.choice([2016, 2021, 2016, 2021, 3])
        if kind == "float":
            return rng.choice([2016.0, 2021.5, 1.25])
        if kind == "numstr":
            return rng.choice(["2016", " 2021 ", "2016.0", "+3", "1e3", "007"])
        return rng.choice(["T1", "T2", "baseline", "follow-up", "2016a", "wave 2"])
    return rng.choice([None, "", "\u200b", float("nan"), float("inf"), "NaN", "Infinity", "-inf", True, ["2016"],
                       {"y": 1}, b"2016", "T9", 2016, "2016", 2016.0, 2.5, MISSING])


def gen_id(rng: random.Random, pool: list[str]) -> Any:
    r = rng.random()
    if r < 0.75:
        return rng.choice(pool)
    return rng.choice([None, "", " ", 17, 17.0, 1.5, float("nan"), True, ["p"], b"id", "  p9  ", "=HYPERLINK(x)",
                       LONE_SURROGATE, MISSING])


def gen_codes(rng: random.Random) -> Any:
    return rng.choice([MISSING, None, "", ["a", "b"], ["a", 1], '["x", "y"]', "u; v ;", "[1]", "[bad", 5, ("t",),
                       '{"a": 1}', "[]"])


def gen_table(rng: random.Random) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows (cells may be :data:`MISSING`: key left out in JSONL, empty elsewhere)."""
    n = rng.randint(1, 8)
    wave_kind = rng.choice(["int", "float", "numstr", "label"])
    cols = ["text", "wave"]
    if rng.random() < 0.85:
        cols.append("speaker")
    if rng.random() < 0.5:
        cols.append("quote_id")
    if rng.random() < 0.3:
        cols.append("codes")
    if rng.random() < 0.3:
        cols.append("site")
    if rng.random() < 0.03:
        cols.remove(rng.choice(["text", "wave"]))
    rng.shuffle(cols)
    speakers = ["P1", "P2", "S 3", "dr-x"]
    ids = [f"id{k}" for k in range(12)]
    rows = []
    for _ in range(n):
        row: dict[str, Any] = {}
        for c in cols:
            if c == "text":
                row[c] = gen_text(rng)
            elif c == "wave":
                row[c] = gen_wave(rng, wave_kind)
            elif c == "speaker":
                row[c] = gen_id(rng, speakers)
            elif c == "quote_id":
                row[c] = gen_id(rng, ids)
            elif c == "codes":
                row[c] = gen_codes(rng)
            else:
                row[c] = rng.choice(["a", "b", "c"])
        rows.append(row)
    return cols, rows


# ---------------------------------------------------------------- the expectation, from the written rules
class Expected(Exception):
    def __init__(self, row: int | None) -> None:
        super().__init__(row)
        self.row = row


def _visible(s: str) -> bool:
    return any(unicodedata.category(c)[0] in "LNPS" for c in s)


def _utf8(s: str) -> bool:
    """Encodable as UTF-8 and free of NUL (the loader refuses both, naming the field)."""
    if "\0" in s:
        return False
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _miss(v: Any) -> bool:
    return v is None or v is MISSING or (isinstance(v, float) and math.isnan(v))


def _text(v: Any) -> str:
    if _miss(v) or not isinstance(v, str) or not _utf8(v) or not _visible(v):
        raise ValueError
    return v.strip()


def _wave(v: Any):
    if _miss(v) or isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError
        return int(v) if v == int(v) else v
    if not isinstance(v, str) or not _utf8(v):
        raise ValueError
    s = v.strip()
    if re.fullmatch(r"[+-]?[0-9]+", s):
        return int(s)
    if re.fullmatch(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?", s):
        return _wave(float(s))
    if s.lower().lstrip("+-") in ("nan", "inf", "infinity") or not _visible(s):
        raise ValueError
    return s


def _ident(v: Any) -> str | None:
    if _miss(v):
        return None
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v):
            return str(int(v))
        raise ValueError
    if not isinstance(v, str) or not _utf8(v):
        raise ValueError
    return v.strip() if _visible(v.strip()) else None


def _codes(v: Any) -> tuple[str, ...]:
    if _miss(v):
        return ()
    if isinstance(v, list | tuple):
        if not all(isinstance(x, str) and _utf8(x) for x in v):
            raise ValueError
        return tuple(x.strip() for x in v if x.strip())
    if not isinstance(v, str):
        raise ValueError
    s = v.strip()
    if s.startswith("["):
        parsed = json.loads(s)  # JSONDecodeError is a ValueError
        if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
            raise ValueError
        return tuple(x.strip() for x in parsed if x.strip())
    return tuple(c.strip() for c in s.split(";") if c.strip())


def expect(cols: list[str], rows: list[dict[str, Any]], lines: list[int]) -> list[dict[str, Any]]:
    """The expected quotes (records), or :class:`Expected` with the row (line) of the expected error."""
    for row, line in zip(rows, lines, strict=True):  # lines that do not parse are reported first
        if row.get("text") is UNPARSEABLE:
            raise Expected(line)
    present = set(cols) if not rows else {c for r in rows for c in r if r.get("text") is not UNPARSEABLE}
    if any(r.get("text") is UNPARSEABLE for r in rows) and "text" in cols and "wave" in cols:
        present |= {"text", "wave"}  # the unparseable line is reported before the columns are checked
    if "text" not in cols or "wave" not in cols or "text" not in present or "wave" not in present:
        raise Expected(None)
    if not rows:
        raise Expected(None)
    out = []
    for row, line in zip(rows, lines, strict=True):
        try:
            for v in row.values():
                if isinstance(v, str) and not _utf8(v):
                    raise ValueError
            rec = {"text": _text(row.get("text")), "wave": _wave(row.get("wave")),
                   "speaker": _ident(row.get("speaker")), "quote_id": _ident(row.get("quote_id")),
                   "codes": _codes(row.get("codes"))}
        except ValueError:
            raise Expected(line) from None
        if "site" in row:
            rec["site"] = row["site"]
        out.append(rec)
    kinds = [isinstance(r["wave"], str) for r in out]
    if any(kinds) and not all(kinds):
        labels = sum(kinds)
        labels_win = labels > len(kinds) - labels or (labels * 2 == len(kinds) and kinds[0])
        bad = next(i for i, k in enumerate(kinds) if k != labels_win)
        raise Expected(lines[bad])
    if not any(kinds) and any(isinstance(r["wave"], float) for r in out):
        for r in out:
            r["wave"] = float(r["wave"])
    seen = set()
    for r, line in zip(out, lines, strict=True):
        if r["quote_id"] is not None:
            if r["quote_id"] in seen:
                raise Expected(line)
            seen.add(r["quote_id"])
    for r, line in zip(out, lines, strict=True):
        if r["quote_id"] is None:
            qid, k = f"q{line:05d}", 1
            while qid in seen:
                qid, k = f"q{line:05d}-{k}", k + 1
            r["quote_id"] = qid
            seen.add(qid)
    return out


# ---------------------------------------------------------------- writing the table in each format
class Unrepresentable(Exception):
    """The table cannot be written in this format (e.g. bytes in JSON, mixed types in parquet)."""


def _csv_cell(v: Any) -> str:
    if _miss(v):
        return ""
    if isinstance(v, str):
        if not _utf8(v):
            raise Unrepresentable
        return v
    if isinstance(v, bool | int | float | list | dict | tuple):
        return str(v)  # what such a value looks like when some tool has written it to a CSV
    if isinstance(v, bytes):
        return v.decode("latin-1")
    raise Unrepresentable


def _bad_constant(name: str):
    raise ValueError(name)


def _strict_json_fails(text: str) -> bool:
    try:
        json.loads(text, parse_constant=_bad_constant)
    except ValueError:
        return True
    return False


def write(fmt: str, cols: list[str], rows: list[dict[str, Any]], folder: Path, rng: random.Random):
    """Write the table; returns (source for load_corpus, the rows as the loader will see them, line numbers)."""
    if fmt == "dataframe":
        df = pd.DataFrame([[None if r[c] is MISSING else r[c] for c in cols] for r in rows], columns=cols,
                          dtype=object)
        return df, [{c: df.iat[i, j] for j, c in enumerate(cols)} for i in range(len(rows))], \
            list(range(1, len(rows) + 1))
    if fmt == "jsonl":
        out, lines, seen_rows, line = [], [], [], 0
        for r in rows:
            while rng.random() < 0.1:
                out.append("")
                line += 1
            obj = {c: (v.decode("latin-1") if isinstance(v, bytes) else v) for c, v in r.items() if v is not MISSING}
            try:
                text = json.dumps(obj, ensure_ascii=rng.random() < 0.5, allow_nan=True)
            except (TypeError, ValueError):
                raise Unrepresentable from None
            if not _utf8(text):
                text = json.dumps(obj, ensure_ascii=True, allow_nan=True)
            if _strict_json_fails(text):  # NaN/Infinity are not JSON: the loader must refuse the line
                lines.append(line + 1)
                seen_rows.append({"text": UNPARSEABLE})
            else:
                seen_rows.append(json.loads(text))
                lines.append(line + 1)
            out.append(text)
            line += 1
        path = folder / "q.jsonl"
        path.write_text("\n".join(out) + ("\n" if rng.random() < 0.8 else ""), encoding="utf-8")
        return path, seen_rows, lines
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        buf = io.StringIO()
        # a lone CR is a line break to every reader: a writer must quote it (Python's does not always)
        # (judged on the written cell: bytes are written decoded, so b"\r" is a lone CR too)
        quoting = csv.QUOTE_ALL if any("\r" in _csv_cell(r[c]) for r in rows for c in cols) else csv.QUOTE_MINIMAL
        w = csv.writer(buf, delimiter=sep, lineterminator=rng.choice(["\r\n", "\n"]), quoting=quoting)
        w.writerow(cols)
        header_lines = len(re.findall(r"\r\n|\r|\n", buf.getvalue()))
        lines, seen_rows, line = [], [], header_lines
        for r in rows:
            cells = [_csv_cell(r[c]) for c in cols]
            start = buf.tell()
            w.writerow(cells)
            lines.append(line + 1)
            line += len(re.findall(r"\r\n|\r|\n", buf.getvalue()[start:]))
            seen_rows.append({c: (v if v != "" else None) for c, v in zip(cols, cells, strict=True)})
        path = folder / f"q.{fmt}"
        path.write_bytes(buf.getvalue().encode("utf-8"))
        return path, seen_rows, lines
    if fmt == "parquet":
        df = pd.DataFrame([[None if r[c] is MISSING else r[c] for c in cols] for r in rows], columns=cols,
                          dtype=object)
        for c in cols:
            vals = [v for v in df[c] if not _miss(v)]
            if any(isinstance(v, str) and not _utf8(v) for v in vals):
                raise Unrepresentable
            types = {type(v) for v in vals}
            if len(types) > 1 or types & {dict, tuple}:
                raise Unrepresentable
        path = folder / "q.parquet"
        try:
            df.to_parquet(path)
        except Exception:
            raise Unrepresentable from None
        return path, [{c: df.iat[i, j] for j, c in enumerate(cols)} for i in range(len(rows))], \
            list(range(1, len(rows) + 1))
    raise ValueError(fmt)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A byte-level corruption of a written file."""
    choice = rng.randrange(9)
    if choice == 0 or not data:
        return data[: rng.randint(0, len(data))]
    if choice == 1:
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if choice == 2:
        return b"\xef\xbb\xbf" + data
    if choice == 3:
        return data.decode("utf-8", "replace").encode("utf-16")
    if choice == 4:
        i = rng.randint(0, len(data))
        return data[:i] + rng.choice([b",", b"\t", b'"', b"\n", b"\x00", b"\xff", b"{", b"\r", b"\xe2\x80"]) + data[i:]
    if choice == 5:
        return b""
    if choice == 6:
        return data + b"\n" + data.split(b"\n", 1)[-1]
    if choice == 7:
        return data.replace(b"\n", b"\r", rng.randint(1, 3))
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))


def invariants(corpus) -> list[str]:
    """What any successful load must satisfy, whatever the input."""
    problems = []
    q = corpus.quotes
    for t in q["text"]:
        if not isinstance(t, str) or not _visible(t) or t != t.strip() or not _utf8(t):
            problems.append(f"bad text {t!r}")
    waves = q["wave"].tolist()
    kinds = {("str" if isinstance(w, str) else "num") for w in waves}
    if len(kinds) > 1:
        problems.append(f"mixed waves {waves!r}")
    for w in waves:
        if isinstance(w, bool) or not isinstance(w, str | int | float | np.integer | np.floating):
            problems.append(f"bad wave type {w!r}")
        elif not isinstance(w, str) and not math.isfinite(float(w)):
            problems.append(f"non-finite wave {w!r}")
    ids = q["quote_id"].tolist()
    if len(set(ids)) != len(ids) or not all(isinstance(i, str) for i in ids):
        problems.append("bad quote ids")
    for s in q["speaker"]:
        if s is not None and not isinstance(s, str):
            problems.append(f"bad speaker {s!r}")
    for c in q["codes"]:
        if not isinstance(c, tuple) or not all(isinstance(x, str) for x in c):
            problems.append(f"bad codes {c!r}")
    return problems


def compare(corpus, expected: list[dict[str, Any]], cols: list[str]) -> list[str]:
    """Differences between a loaded corpus and the expected records (strict types for waves)."""
    q = corpus.quotes
    problems = invariants(corpus)
    if len(q) != len(expected):
        return problems + [f"{len(q)} quotes loaded, {len(expected)} expected"]
    for i, exp in enumerate(expected):
        for key in ("text", "speaker", "quote_id", "codes"):
            got = q[key].iat[i]
            if got != exp[key]:
                problems.append(f"row {i}: {key} {got!r} != {exp[key]!r}")
        got = q["wave"].iat[i]
        got = got.item() if hasattr(got, "item") else got
        if type(got) is not type(exp["wave"]) or got != exp["wave"]:
            problems.append(f"row {i}: wave {got!r} != {exp['wave']!r}")
    has_warning = any("no speaker column" in w for w in corpus.warnings)
    if has_warning == ("speaker" in cols):
        problems.append(f"speaker-column warning {has_warning} with columns {cols}")
    return problems
