"""Typed value checks for the quote schema: each field accepts the types that mean what they say and
rejects the rest (a number, list or bytes is never turned into its repr).

The rules, one per field (``raw`` is a cell as a loader found it):

``text``
    A ``str`` with at least one visible character (Unicode letter, number, punctuation or symbol);
    stored with surrounding whitespace stripped. Text of only whitespace, zero-width characters, BOMs,
    NULs or other control/format characters counts as empty. Any other type is an error.
``wave``
    A number or a label, one kind per corpus. Integers (not booleans) and integral finite floats become
    ``int``; other finite floats stay ``float``; strings are stripped, and a string that spells a decimal
    number (ASCII digits: ``"2016"``, ``" 2016.0 "``) is that number, so ``2016`` and ``"2016.0"`` are one
    wave. NaN/infinity (as numbers or spelled) and any other type (bool, list, dict, bytes, dates) are
    errors. :func:`unify_waves` then requires one kind for the corpus (numbers or labels, never mixed)
    and turns integers into floats when some wave has a fraction.
``speaker``, ``quote_id``, ``source``
    A ``str`` (stripped; empty means missing) or an integral number (written in decimal: ``17`` and
    ``17.0`` both give ``"17"``, so an integer id column read back with missing values stays the same
    ids). Fractions, booleans and containers are errors.
``codes``
    Missing, a list/tuple/array of strings, a JSON list of strings in a string (``'["a", "b"]'``) or
    ``;``-separated codes (``"a; b"``).

Every string must be encodable as UTF-8 (a JSON escape such as ``"\\ud83d"`` decodes to a lone
surrogate, which is an error naming the field) and must hold no NUL character (``"\\u0000"``, a NUL byte
in a CSV): no output can carry it alike (a worksheet drops it, CSV and HTML keep it), so it is refused
with the file, row, field and position rather than removed behind the user's back.

Each checker raises :class:`~stakeholder_nlp.errors.CorpusFormatError` with the file, row and field.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..errors import CorpusFormatError

#: Unicode general categories that count as visible (letters, marks excluded, numbers, punctuation, symbols)
VISIBLE_CATEGORIES = frozenset("LNPS")
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


class Where:
    """Where a value came from, for error messages: file, row (line) and field."""

    __slots__ = ("field", "path", "row")

    def __init__(self, path: str | None, row: int | None, field: str | None) -> None:
        self.path, self.row, self.field = path, row, field

    def error(self, message: str) -> CorpusFormatError:
        return CorpusFormatError(message, path=self.path, row=self.row, field=self.field)


def is_missing(value: Any) -> bool:
    """None, NaN (float or numpy), ``pd.NA`` and ``NaT`` are missing; nothing else is."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_utf8(value: str, where: Where) -> str:
    """Return ``value`` unchanged if it encodes as UTF-8 and holds no NUL, else raise (lone surrogates, NUL)."""
    nul = value.find("\0")
    if nul >= 0:
        raise where.error(f"text holds a NUL character ('\\x00') at position {nul} of {len(value)}; expected "
                          "text without NULs (they come from binary exports or a wrong encoding, and a "
                          "spreadsheet cannot hold one): remove them from the file")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise where.error(f"text holds a character that is not valid Unicode ({value[exc.start]!r} at "
                          f"position {exc.start}: a lone surrogate, e.g. from a JSON escape like "
                          "'\\ud83d' without its pair)") from None
    return value


def is_visible(text: str) -> bool:
    """True if ``text`` has at least one letter, number, punctuation or symbol character."""
    return any(unicodedata.category(c)[0] in VISIBLE_CATEGORIES for c in text)


def check_text(raw: Any, where: Where) -> str:
    if is_missing(raw):
        raise where.error("text is missing; expected the quote's words")
    if isinstance(raw, np.str_):
        raw = str(raw)
    if not isinstance(raw, str):
        raise where.error(f"text must be a string; got {_type_name(raw)} {_short(raw)}. Quote numbers "
                          "as strings if they really are the text")
    check_utf8(raw, where)
    text = raw.strip()
    if not is_visible(text):
        raise where.error("text is empty or whitespace-only (no visible character: only spaces, "
                          "zero-width or control characters); expected the quote's words")
    return text


def _short(value: Any, n: int = 40) -> str:
    r = repr(value)
    return r if len(r) <= n else r[: n - 3] + "..."


def _number(x: float, where: Where, raw: Any) -> int | float:
    if not math.isfinite(x):
        raise where.error(f"wave {_short(raw)} is not a finite number; expected a year or a label")
    return int(x) if float(x).is_integer() else float(x)


def check_wave(raw: Any, where: Where) -> int | float | str | None:
    """A wave as ``int``, ``float`` or ``str`` label; ``None`` if missing (the caller decides)."""
    if is_missing(raw):
        return None
    if isinstance(raw, bool | np.bool_):
        raise where.error(f"wave must be a number or a label; got the boolean {raw!r}")
    if isinstance(raw, Integral):
        return int(raw)
    if isinstance(raw, Real):
        return _number(float(raw), where, raw)
    if isinstance(raw, np.str_):
        raw = str(raw)
    if isinstance(raw, str):
        check_utf8(raw, where)
        s = raw.strip()
        if not s:
            return None
        if _INT.fullmatch(s):
            if len(s) > 40:
                raise where.error(f"wave {s[:20]!r}... is a {len(s)}-digit number; expected a year or a label")
            return int(s)
        if s.lower() in _NON_FINITE:
            raise where.error(f"wave {raw!r} is not a finite number; expected a year or a label")
        if _DECIMAL.fullmatch(s):
            return _number(float(s), where, raw)
        if not is_visible(s):
            return None
        return s
    raise where.error(f"wave must be a number or a label; got {_type_name(raw)} {_short(raw)}")


def unify_waves(waves: Sequence[int | float | str], wheres: Sequence[Where]) -> list[int | float | str]:
    """One kind of wave per corpus: all numbers (ints, or floats if any has a fraction) or all labels.

    With both kinds present, the first row of the rarer kind is the error (ties: the first row's kind wins).
    """
    if not waves:
        return []
    n_labels = sum(isinstance(w, str) for w in waves)
    n_numbers = len(waves) - n_labels
    if n_labels and n_numbers:
        labels_win = n_labels > n_numbers or (n_labels == n_numbers and isinstance(waves[0], str))
        i = next(k for k, w in enumerate(waves) if isinstance(w, str) != labels_win)
        kinds = ("a number", "labels") if labels_win else ("a label", "numbers")
        raise wheres[i].error(f"wave {waves[i]!r} is {kinds[0]} but {max(n_labels, n_numbers)} of {len(waves)} "
                              f"waves are {kinds[1]}; a corpus's waves must be all numbers (years) or all labels")
    if n_numbers and any(isinstance(w, float) for w in waves):
        return [float(w) for w in waves]
    return list(waves)


def check_id(raw: Any, where: Where) -> str | None:
    """An identifier (speaker, quote id, source): a string or an integral number; ``None`` if missing."""
    if is_missing(raw):
        return None
    if isinstance(raw, bool | np.bool_):
        raise where.error(f"expected a string or an integer id; got the boolean {raw!r}")
    if isinstance(raw, Integral):
        return str(int(raw))
    if isinstance(raw, Real):
        x = float(raw)
        if math.isfinite(x) and x.is_integer():
            return str(int(x))
        raise where.error(f"expected a string or an integer id; got the number {raw!r}")
    if isinstance(raw, np.str_):
        raw = str(raw)
    if isinstance(raw, str):
        check_utf8(raw, where)
        s = raw.strip()
        return s if is_visible(s) else None
    raise where.error(f"expected a string or an integer id; got {_type_name(raw)} {_short(raw)}")


def _code_list(items: Sequence[Any], where: Where) -> tuple[str, ...]:
    out = []
    for item in items:
        if isinstance(item, np.str_):
            item = str(item)
        if not isinstance(item, str):
            raise where.error(f"codes must be strings; got {_type_name(item)} {_short(item)} in the list")
        check_utf8(item, where)
        if item.strip():
            out.append(item.strip())
    return tuple(out)


def check_codes(raw: Any, where: Where) -> tuple[str, ...]:
    if raw is None or (not isinstance(raw, list | tuple | np.ndarray) and is_missing(raw)):
        return ()
    if isinstance(raw, list | tuple):
        return _code_list(raw, where)
    if isinstance(raw, np.ndarray):
        return _code_list(raw.tolist(), where)
    if isinstance(raw, np.str_):
        raw = str(raw)
    if not isinstance(raw, str):
        raise where.error(f"codes must be a list of strings or 'a; b'; got {_type_name(raw)} {_short(raw)}")
    check_utf8(raw, where)
    text = raw.strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise where.error(f"codes look like a JSON list but do not parse: {exc.msg}") from None
        if not isinstance(parsed, list):
            raise where.error("codes look like a JSON list but are not one")
        return _code_list(parsed, where)
    return tuple(c.strip() for c in text.split(";") if c.strip())


#: the smallest corpus an analysis accepts: themes come from clustering distinct texts, and a wave needs a
#: few quotes before its share of a theme means anything
MIN_DISTINCT_TEXTS = 10
MIN_QUOTES_PER_WAVE = 3


def check_analysable(corpus, *, min_distinct: int = MIN_DISTINCT_TEXTS,
                     min_per_wave: int = MIN_QUOTES_PER_WAVE) -> None:
    """Raise :class:`~stakeholder_nlp.errors.CorpusTooSmallError` naming the minimum if the corpus is too
    small or too uniform to analyse (after non-responses are set aside)."""
    from ..errors import CorpusTooSmallError

    q = corpus.quotes
    where = corpus.path or "corpus"
    n_distinct = q["text"].nunique()
    if n_distinct < min_distinct:
        raise CorpusTooSmallError(
            f"{where}: an analysis needs at least {min_distinct} distinct quote texts; found {n_distinct} "
            f"among {len(q)} quotes (after non-responses were set aside). Themes are found by comparing "
            "distinct texts: add quotes, or check --text-col")
    counts = q.groupby("wave", sort=True).size()
    small = {w: int(n) for w, n in counts.items() if n < min_per_wave}
    if small:
        raise CorpusTooSmallError(
            f"{where}: each wave needs at least {min_per_wave} quotes; "
            + ", ".join(f"wave {w!r} has {n}" for w, n in small.items())
            + ". Add quotes, merge waves, or check --wave-col")
