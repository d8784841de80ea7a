"""Units of analysis cut from a transcript's turns, each with character offsets and ``context``.

``unit="turn"``        one unit per speaker turn.
``unit="paragraph"``   one unit per paragraph of a turn.
``unit="sentences"``   windows of consecutive sentences of one paragraph, packed up to ``window_words`` words (a
                       longer sentence is a window of its own, never cut).

Every unit's ``text`` is exactly ``document.text[start:end]`` (code-point offsets). ``context`` is the
neighbouring turns -- the one before and the one after the unit's turn, whoever spoke them, each cut to
``context_chars`` characters (the end of the previous turn, the start of the next) and written
``Speaker: words`` -- so a short answer keeps the question it answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .transcripts import Transcript, Turn

UNITS = ("turn", "paragraph", "sentences")

# a sentence ends at . ! ? or an ellipsis, optionally followed by closing quotes/brackets, then whitespace
_SENT_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9\u00c0-\u024f])")


@dataclass(frozen=True, slots=True)
class Unit:
    """A span of one turn. ``turn`` is the turn's index in its transcript."""

    source: str
    speaker: str | None
    start: int
    end: int
    text: str
    turn: int
    unit: str
    context: str


_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|No|Nos|Vol|Fig|approx|cf|e\.g|i\.e)|\b[A-Z])\.$")


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence (start, end) spans inside ``text[start:end]`` (a rule-based splitter; offsets exact).

    A break needs ``.``, ``!``, ``?`` or an ellipsis, then whitespace and a capital, digit or opening quote;
    titles and common abbreviations (``Dr.``, ``e.g.``, an initial) do not end a sentence.
    """
    out, pos = [], start
    for m in _SENT_END.finditer(text, start, end):
        if _ABBREV.search(text, max(pos, m.start() - 8), m.start()):
            continue
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, end))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _windows(text: str, spans: list[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    cur: tuple[int, int] | None = None
    words = 0
    for s, e in spans:
        n = len(text[s:e].split())
        if cur is not None and words + n <= max_words:
            cur, words = (cur[0], e), words + n
        else:
            if cur is not None:
                out.append(cur)
            cur, words = (s, e), n
    if cur is not None:
        out.append(cur)
    return out


def _clip(turn: Turn | None, chars: int, *, tail: bool) -> str:
    if turn is None or chars <= 0:
        return ""
    words = " ".join(turn.text.split())
    if len(words) > chars:
        words = ("\u2026" + words[-chars:]) if tail else (words[:chars] + "\u2026")
    return f"{turn.speaker or 'unnamed'}: {words}"


def turn_context(transcript: Transcript, index: int, chars: int = 300) -> str:
    """The turns before and after turn ``index``, cut to ``chars`` characters each."""
    turns = transcript.turns
    before = _clip(turns[index - 1] if index > 0 else None, chars, tail=True)
    after = _clip(turns[index + 1] if index + 1 < len(turns) else None, chars, tail=False)
    return "\n".join(x for x in (before, after) if x)


def segment(transcript: Transcript, unit: str = "turn", *, window_words: int = 60,
            context_chars: int = 300) -> list[Unit]:
    """Cut every turn of ``transcript`` into units (see the module docstring)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}; got {unit!r}")
    if window_words < 1:
        raise ValueError(f"window_words must be at least 1; got {window_words}")
    text = transcript.document.text
    name = transcript.document.name
    out: list[Unit] = []
    for turn in transcript.turns:
        ctx = turn_context(transcript, turn.index, context_chars)
        if unit == "turn":
            spans = [(turn.start, turn.end)]
        elif unit == "paragraph":
            spans = list(turn.paragraphs)
        else:
            spans = []
            for ps, pe in turn.paragraphs:
                spans.extend(_windows(text, sentence_spans(text, ps, pe), window_words))
        for s, e in spans:
            out.append(Unit(name, turn.speaker, s, e, text[s:e], turn.index, unit, ctx))
    return out
