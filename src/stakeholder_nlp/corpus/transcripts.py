"""Speaker turns in a transcript, by the rules QDA tools use on import.

A *paragraph* is a run of non-blank lines (a document without any blank line has one paragraph per line); a
line that starts with a speaker marker always starts a new paragraph. A *marker* opens a turn; the turn runs
until the next marker. The rules (``TURN_RULES``):

``colon``      ``Name: words`` -- a name of at most 63 characters and 6 words (the guard keeps a sentence
               that ends in a colon from becoming a speaker), followed by a colon and a space or line end.
``bracket``    ``[Name] words`` (QualCoder's ``[id1]`` style); an optional colon after the bracket.
``bold``       ``**Name**: words`` (Markdown / reStructuredText transcripts).
``timestamped`` a paragraph that is only ``Name  0:03`` or ``Name 00:01:02`` (Teams / Zoom exports): the
               words follow in the next paragraphs.
custom         ``turn_pattern=`` a regular expression with a named group ``speaker`` (or group 1), matched at
               the start of a paragraph; the words start where the match ends.

``rule="auto"`` picks, per document, the rule whose markers open the most paragraphs (ties in the order
bold, bracket, timestamped, colon). A timestamp (``[00:01:02]``, ``00:01``, ``(0:05)``) before or after a
marker, or opening a paragraph, is removed from the words (one inside a multi-paragraph turn stays in the
turn's text, which is always one contiguous span of the source). Text before the first marker (a title, a consent preamble) is
left out and counted in :attr:`Transcript.header_chars`. Headings (reStructuredText underlines, Markdown
``#``), stage directions written as a whole paragraph in ``*...*``, ``(...)`` or ``[...]``, timestamp-only
lines and directives (``.. x::``) are *not speech*: they end the current turn and belong to no turn; words
after them without a marker continue the previous speaker in a new turn (``continued=True``).

A document with no marker at all is one turn by an unnamed speaker (``speaker=None``): a one-person text such
as a written answer; :mod:`.ingest` names it from the manifest or the file name.

Offsets are Unicode code points into :attr:`SourceDocument.text`; ``text[start:end]`` is exactly a turn's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CorpusFormatError
from .formats import SourceDocument

_EOL = r"(?=\r\n|\n|\r|\Z)"
_TS = r"(?:[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?[\])]?)"
_LEAD_TS = rf"[ \t]*(?:{_TS}[ \t]+)?"
_TRAIL_TS = rf"[ \t]*(?:{_TS}(?:[ \t]+|{_EOL}))?[ \t]*"

TURN_RULES: dict[str, str] = {
    "bold": _LEAD_TS + r"\*\*(?P<speaker>[^*\n]{1,63}?)(?::\*\*|\*\*[ \t]*:)(?:[ \t]+|" + _EOL + ")" + _TRAIL_TS,
    "bracket": _LEAD_TS + r"\[(?P<speaker>[^\]\n\d:][^\]\n]{0,62})\][ \t]*:?(?:[ \t]+|" + _EOL + ")" + _TRAIL_TS,
    "timestamped": r"[ \t]*(?P<speaker>[^\s:\[\]*(][^:\n]{0,62}?)[ \t]+" + _TS + r"[ \t]*" + _EOL,
    "colon": _LEAD_TS + r"(?P<speaker>[^\s:\[\]*(#][^:\n]{0,62}?)[ \t]*:(?:[ \t]+|" + _EOL + ")" + _TRAIL_TS,
}
RULE_ORDER = ("bold", "bracket", "timestamped", "colon")
MAX_NAME_WORDS = 6

_LEAD_TS_RX = re.compile(rf"[ \t]*{_TS}[ \t]+")
_UNDERLINE = re.compile(r"^[ \t]*([=\-^~`'\"#*+_.])\1{2,}[ \t]*$")
_ATX = re.compile(r"^[ \t]*#{1,6}[ \t]")
_WRAPPED = re.compile(r"^[ \t]*(?:\*[^*].*\*|\*\*.*\*\*|\(.*\)|\[[^\]]*\])[ \t]*$", re.S)
_DIRECTIVE = re.compile(r"^[ \t]*\.\.[ \t]")
_TS_ONLY = re.compile(rf"^[ \t]*{_TS}(?:[ \t]*-->[ \t]*{_TS})?[ \t]*$")


@dataclass(frozen=True, slots=True)
class Paragraph:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Turn:
    """One speaker turn: ``text == document.text[start:end]``; ``paragraphs`` are its (start, end) spans."""

    index: int
    speaker: str | None
    start: int
    end: int
    text: str
    paragraphs: tuple[tuple[int, int], ...]
    continued: bool = False


@dataclass(frozen=True, slots=True)
class Transcript:
    """A document split into turns, with what was left out."""

    document: SourceDocument
    turns: tuple[Turn, ...]
    rule: str
    header_chars: int
    n_not_speech: int

    @property
    def speakers(self) -> list[str | None]:
        seen: dict[str | None, None] = {}
        for t in self.turns:
            seen.setdefault(t.speaker, None)
        return list(seen)


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, end excluding the line break (``\\r\\n``, ``\\n`` or ``\\r``)."""
    out, pos = [], 0
    for m in re.finditer(r"\r\n|\n|\r", text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def compile_rule(rule: str | None = None, pattern: str | None = None) -> tuple[str, re.Pattern[str]]:
    """The named rule or a custom pattern (with a ``speaker`` group or group 1)."""
    if pattern is not None:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise CorpusFormatError(f"turn pattern {pattern!r} is not a valid regular expression: {exc}",
                                    field="turn_pattern") from exc
        if "speaker" not in rx.groupindex and rx.groups < 1:
            raise CorpusFormatError(f"turn pattern {pattern!r} needs a group (?P<speaker>...) or a first group "
                                    "that captures the speaker's name", field="turn_pattern")
        return "custom", rx
    if rule not in TURN_RULES:
        raise CorpusFormatError(f"unknown turn rule {rule!r}; expected auto, {', '.join(RULE_ORDER)} or a "
                                "custom turn_pattern", field="turn_rule")
    return rule, re.compile(TURN_RULES[rule])


def _speaker(m: re.Match[str]) -> str | None:
    name = m.group("speaker") if "speaker" in m.re.groupindex else m.group(1)
    name = " ".join((name or "").split())
    return name or None


def _is_marker(m: re.Match[str] | None, rule: str) -> bool:
    if m is None:
        return False
    name = _speaker(m)
    if not name:
        return False
    if rule in ("colon", "timestamped") and (len(name.split()) > MAX_NAME_WORDS or name.endswith((".", ","))):
        return False
    return not (rule == "colon" and re.fullmatch(r"[\d\s.,:;-]+", name))  # "10: ..." is a number, not a name


def paragraphs(text: str, marker: re.Pattern[str] | None = None, rule: str = "custom") -> list[Paragraph]:
    """Paragraph spans (trimmed); a marker line always opens a new paragraph."""
    lines = _lines(text)
    blocks = any(text[s:e].strip() == "" for s, e in lines[:-1]) and len(lines) > 1
    out: list[Paragraph] = []
    cur: list[int] | None = None
    for s, e in lines:
        line = text[s:e]
        if not line.strip():
            if cur:
                out.append(Paragraph(*_trim(text, cur[0], cur[1])))
            cur = None
            continue
        starts_new = (not blocks) or cur is None or (marker is not None and _is_marker(marker.match(line), rule))
        if starts_new:
            if cur:
                out.append(Paragraph(*_trim(text, cur[0], cur[1])))
            cur = [s, e]
        else:
            cur[1] = e
    if cur:
        out.append(Paragraph(*_trim(text, cur[0], cur[1])))
    return [p for p in out if p.end > p.start]


def _not_speech(text: str, p: Paragraph) -> bool:
    body = text[p.start:p.end]
    lines = [ln for ln in re.split(r"\r\n|\n|\r", body) if ln.strip()]
    if not lines:
        return True
    if _UNDERLINE.match(lines[-1]) or _ATX.match(lines[0]) or _DIRECTIVE.match(lines[0]):
        return True
    return bool(_WRAPPED.match(body) or _TS_ONLY.match(body))


def choose_rule(text: str) -> str:
    """The rule whose markers open the most paragraphs of ``text`` (``colon`` when none does)."""
    best, best_n = "colon", 0
    for rule in RULE_ORDER:
        rx = re.compile(TURN_RULES[rule])
        n = sum(_is_marker(rx.match(text[p.start:p.end]), rule) for p in paragraphs(text, rx, rule))
        if n > best_n:
            best, best_n = rule, n
    return best


def split_turns(doc: SourceDocument, *, rule: str = "auto", pattern: str | None = None) -> Transcript:
    """Split a document into speaker turns (see the module docstring for the rules)."""
    text = doc.text
    if pattern is None and rule == "auto":
        rule = choose_rule(text)
    rule, rx = compile_rule(rule, pattern)
    turns: list[Turn] = []
    cur: dict | None = None
    last_speaker: str | None = None
    any_marker = False
    header = not_speech = 0

    def close() -> None:
        nonlocal cur
        if cur and cur["spans"]:
            s, e = cur["spans"][0][0], cur["spans"][-1][1]
            turns.append(Turn(len(turns), cur["speaker"], s, e, text[s:e], tuple(cur["spans"]), cur["continued"]))
        cur = None

    paras = paragraphs(text, rx, rule)
    for p in paras:
        m = rx.match(text, p.start, p.end)
        if _is_marker(m, rule):
            close()
            any_marker = True
            last_speaker = _speaker(m)
            cur = {"speaker": last_speaker, "spans": [], "continued": False}
            s, e = _trim(text, m.end(), p.end)
            if e > s:
                cur["spans"].append((s, e))
            continue
        if _not_speech(text, p):
            not_speech += 1
            if cur and cur["spans"]:
                close()
            continue
        if cur is None:
            if not any_marker:
                header += p.end - p.start
                continue
            cur = {"speaker": last_speaker, "spans": [], "continued": True}
        ts = _LEAD_TS_RX.match(text, p.start, p.end)  # a paragraph opening with a timestamp: drop it
        s = _trim(text, ts.end(), p.end)[0] if ts and ts.end() > p.start else p.start
        cur["spans"].append((s, p.end))
    close()
    if not any_marker:  # no marker at all: the whole document is one unnamed speaker's text
        spans = [(p.start, p.end) for p in paras if not _not_speech(text, p)]
        turns, header = [], 0
        if spans:
            s, e = spans[0][0], spans[-1][1]
            turns.append(Turn(0, None, s, e, text[s:e], tuple(spans)))
        rule = "none"
    return Transcript(doc, tuple(turns), rule, header, not_speech)
