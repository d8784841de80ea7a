"""Parser for the built-in GP-cluster corpus (supplementary tables S2.1-S2.6 of the source paper).

The source is a plain-text extraction of two-column tables (2016 | 2021 quotes per theme row). Three
layouts occur and are handled by rules:

* tab-separated lines: ``label<TAB>2016 column<TAB>2021 column`` (S2.1, S2.4, S2.6) or
  ``2016<TAB>2021`` (S2.2, S2.5), with a quote continuing over many lines of its own column;
* paragraphs with no tab, one column at a time. Their wave comes from the speaker codes they carry
  (``[P2]``..``[P9]`` are 2016 interviewees, ``[SH01]``..``[SH06]`` 2021; ``[SHO2]`` is a typo for SH02);
  a paragraph with no code takes the wave of the next coded text when it introduces it (ends with ``:``)
  and the previous wave otherwise; ``2016``/``2021`` header lines set the wave;
* quotes broken by a page break continue in the next text of the same column: all text of one
  (table, theme row, wave) is joined into one stream before quotes are cut out of it.

Where the extraction is too broken for rules (one line in S2.1 holds both columns interleaved phrase by
phrase), :data:`CORRECTIONS` lists the manual fixes. Every correction must match the source exactly
once, or :class:`~stakeholder_nlp.errors.CorpusParseError` is raised: the corpus cannot drift silently.

A quote is ``quotation`` (a standalone quotation: it opens a paragraph or follows a colon, a sentence
end or another quote) or ``phrase`` (a short quoted phrase inside the authors' own sentence).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusParseError

WAVE_2016, WAVE_2021 = 2016, 2021
CODE_RE = re.compile(r"\[\s*(P\d|SH\s?[0O]\d)\s*\]")
QNUM_RE = re.compile(r"\s*\(Q\d+\)")
TABLE_RE = re.compile(r"Table (S2\.\d):\s*(.+)$")

#: Row themes of single-row tables, and S2.2's title, which the extraction lost (named from its content).
TABLE_THEMES = {
    "S2.2": "Local leadership and collaborative relationships with HSCPs",
    "S2.3": "Sharing of learning between clusters",
    "S2.5": "Problems with data access",
}
#: Layout of tab-separated lines per table: index of the 2016 and 2021 fields (field 0 is the row label
#: where a label column exists).
TAB_LAYOUT = {"S2.1": (1, 2), "S2.2": (0, 1), "S2.4": (1, 2), "S2.5": (0, 1), "S2.6": (1, 2)}
#: Sub-headings standing on a line of their own that start a new theme row.
ROW_HEADINGS = {"S2.4": ["MDT involvement in cluster work"], "S2.6": ["Intrinsic role vs extrinsic role"]}


@dataclass(frozen=True, slots=True)
class Split:
    """Cut one source line into chunks, each going to a wave (or ``None``: a row label, dropped).

    ``chunks`` are (anchor, wave, row): the chunk starts where ``anchor`` is found (searching
    forward) and runs to the next chunk's anchor; ``row`` names the theme row it belongs to.
    """

    table: str
    line_starts: str
    chunks: tuple[tuple[str, int | None, str | None], ...]
    why: str


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace text in one source line (``new`` empty drops it)."""

    table: str
    old: str
    new: str
    why: str


@dataclass(frozen=True, slots=True)
class ForceWave:
    """Treat the line that starts with ``line_starts`` as a no-tab paragraph of ``wave``."""

    table: str
    line_starts: str
    wave: int
    why: str


_A, _T = "Administrative support", "Training"
_D = "Data analytic support"

#: The manual corrections, each with its reason. See corpus/gp_clusters/README.md.
CORRECTIONS: tuple[Split | Replace | ForceWave, ...] = (
    Split("S2.1", "In addition to LIST support", (
        ("In addition to LIST support, the need", WAVE_2021, _D),
        ("Support from LIST was therefore vital", WAVE_2016, _D),
        ("with data was emphasised", WAVE_2021, _D),
        ('and by "making it as simple', WAVE_2016, _D),
        ("their intrinsic and extrinsic functions:", WAVE_2021, _D),
        ("GPs...and clusters can use", WAVE_2016, _D),
        ('"the external role', WAVE_2021, _D),
        ("practice: with", WAVE_2016, _D),
        ("with public health...my hope", WAVE_2021, _D),
        ('"what I\'m going to do', WAVE_2016, _D),
        ("Public Health Scotland having", WAVE_2021, _D),
        ("sort of easily readable", WAVE_2016, _D),
        ("working... at ground level", WAVE_2021, _D),
        ("Additionally, he emphasised", WAVE_2016, _D),
        ("supporting them in working out", WAVE_2021, _D),
        ('"the links between', WAVE_2016, _D),
        ("how they want to do it", WAVE_2021, _D),
        ("whoever is working within", WAVE_2016, _D),
        ('"The intention was always', WAVE_2021, _D),
        ("be some sort of relationship", WAVE_2016, _D),
        ("agendas based on their own", WAVE_2021, _D),
        ("probably something that has to be done", WAVE_2016, _D),
        ("that is difficult to do", WAVE_2021, _D),
        ("Administrative support was highlighted", WAVE_2016, _A),
        ("Not focused on in great depth", WAVE_2021, _A),
        ("**Administrative**", None, _A),
        ('to "shorten the time', WAVE_2016, _A),
        ('clusters were "limited', WAVE_2021, _A),
        ("support In the aftermath", None, _A),
        ("In the aftermath of the QOF", WAVE_2016, _T),
        ("Complaints about the lack", WAVE_2021, _T),
        ("**Training**", None, _T),
        ("skilled in working out", WAVE_2016, _T),
        ("and CQLs prevailed", WAVE_2021, _T),
        ("amongst Inverclyde clusters:", WAVE_2016, _T),
        ('"Surely to be that lead', WAVE_2021, _T),
        ('"there has been reluctance', WAVE_2016, _T),
        ("undertaken one of the lead", WAVE_2021, _T),
        ("what has been asked of them", WAVE_2016, _T),
        ("training courses. So you need", WAVE_2021, _T),
        ("and the Quality Improvement techniques", WAVE_2016, _T),
        ("improvement. Our cluster quality leads", WAVE_2021, _T),
        ("to just jump to the end", WAVE_2016, _T),
        ("to support those CQLs", WAVE_2021, _T),
    ), "after a page break both columns and the row labels were flattened into one line, phrase by phrase"),
    Split("S2.3", '"we need to review where we are', (
        ('"we need to review where we are', WAVE_2021, None),
        ("done and maybe change the things", WAVE_2016, None),
    ), "the end of P9's 2016 quote (after a page break) was appended to SH03's 2021 quote"),
    ForceWave("S2.4", "This majority view was not shared", WAVE_2016,
              "2016 lead-in to the uncoded 'very GP focused' quote; without a code the rules would take the "
              "wave of the 2021 paragraph that follows the quote"),
    Replace("S2.1", '[SH02]." (Q2)', "[SH02] (Q2)", "stray closing quote mark after the code"),
    ForceWave("S2.4", "In particular the added workload", WAVE_2021,
              "2021 lead-in to SH02's quote; the rules would give it the wave of the 2016 continuation that the "
              "page break put between them"),
    ForceWave("S2.4", "who worked within the multi-disciplinary team", WAVE_2016,
              "continuation of the uncoded 2016 'very GP focused' quote after a page break"),
    ForceWave("S2.5", "Perception of these major problems", WAVE_2021,
              "2021 lead-in to SH02's quote; the 2016 paragraphs that follow it belong to the other column"),
    Split("S2.6", "The recognition that", (
        ("The recognition that", WAVE_2016, None),
        ("would be the reasonable minimum level", WAVE_2021, None),
    ), "the end of SH02's 2021 quote (after a page break) was run into the 2016 sentence"),
    Replace("S2.6", "What the condition of the first that the conse", "",
            "extraction debris in the 2016 column"),
    ForceWave("S2.6", "\twillbecause it's actually harder", WAVE_2021,
              "continuation of SH02's 2021 quote; the line lost its empty label field"),
    Replace("S2.6", "\tS que y p a s ap special s a p a p", "", "OCR debris at the end of the document"),
)


@dataclass(frozen=True, slots=True)
class _Segment:
    table: str
    row: str
    wave: int | None
    text: str
    tab: bool  # from a tab-separated line (joined with a space) rather than a paragraph (newline)
    intro: bool = False


def code_wave(code: str) -> int:
    """The wave a speaker code belongs to: P* are 2016 interviewees, SH* 2021."""
    return WAVE_2016 if code.startswith("P") else WAVE_2021


def normalise_code(raw: str) -> str:
    """``SHO2``/``SH 02`` -> ``SH02``; ``P9`` stays."""
    code = raw.replace(" ", "")
    if code.startswith("SH"):
        code = "SH" + code[2:].replace("O", "0")
    return code


def _tables(lines: list[str]) -> Iterator[tuple[str, str, list[str]]]:
    """Yield (table id, title, lines) for S2.1-S2.6; S2.2 is the untitled block after S2.1."""
    current: tuple[str, str] | None = None
    body: list[str] = []
    seen_s21_content = False
    for line in lines:
        m = TABLE_RE.search(line)
        if m:
            if current:
                yield current[0], current[1], body
            current, body, seen_s21_content = (m.group(1), m.group(2).strip()), [], False
            continue
        if current is None:
            continue
        if current[0] == "S2.1" and line.strip() == "2016\t2021" and seen_s21_content:
            yield current[0], current[1], body
            current, body = ("S2.2", TABLE_THEMES["S2.2"]), []
            continue
        if current[0] == "S2.1" and line.strip() and "\t" in line and "2016" not in line:
            seen_s21_content = True
        body.append(line)
    if current:
        yield current[0], current[1], body


def _apply_replacements(table: str, lines: list[str], used: set[int]) -> list[str]:
    out = []
    for line in lines:
        for i, c in enumerate(CORRECTIONS):
            if isinstance(c, Replace) and c.table == table and c.old in line:
                line = line.replace(c.old, c.new)
                used.add(i)
        out.append(line)
    return out


def _split_chunks(line: str, split: Split) -> list[tuple[str, int | None, str | None]]:
    positions, start = [], 0
    for anchor, wave, row in split.chunks:
        pos = line.find(anchor, start)
        if pos < 0:
            raise CorpusParseError(f"{split.table}: correction anchor {anchor!r} not found after "
                                   f"position {start} of the line starting {split.line_starts!r}")
        positions.append((pos, wave, row))
        start = pos + 1
    if positions[0][0] != 0:
        raise CorpusParseError(f"{split.table}: first anchor of split {split.line_starts!r} is not at line start")
    out = []
    for k, (pos, wave, row) in enumerate(positions):
        end = positions[k + 1][0] if k + 1 < len(positions) else len(line)
        out.append((line[pos:end].strip(), wave, row))
    return out


def _paragraph_segments(table: str, row: str, text: str) -> list[_Segment]:
    """Cut a no-tab paragraph after each speaker code; an uncoded tail joins the segment before it."""
    pieces, start = [], 0
    for m in CODE_RE.finditer(text):
        end = m.end()
        pieces.append((text[start:end], code_wave(normalise_code(m.group(1)))))
        start = end
    tail = text[start:]
    if pieces and not tail.strip(" .,;:\"'"):
        pieces[-1] = (pieces[-1][0] + tail, pieces[-1][1])
    elif pieces and tail.strip():
        pieces[-1] = (pieces[-1][0] + tail, pieces[-1][1])
    elif not pieces:
        return [_Segment(table, row, None, text, False, intro=text.rstrip().endswith(":"))]
    # merge neighbours of the same wave so a paragraph stays one paragraph where it can
    merged: list[tuple[str, int]] = []
    for piece, wave in pieces:
        if merged and merged[-1][1] == wave:
            merged[-1] = (merged[-1][0] + piece, wave)
        else:
            merged.append((piece, wave))
    return [_Segment(table, row, w, p.strip(), False) for p, w in merged]


def _table_segments(table: str, title: str, lines: list[str], used: set[int]) -> list[_Segment]:
    lines = _apply_replacements(table, lines, used)
    segs: list[_Segment] = []
    row = TABLE_THEMES.get(table, "")
    label_parts: list[str] = []
    renames: dict[str, str] = {}
    last_was_label = False
    headings = ROW_HEADINGS.get(table, [])
    found_headings: set[str] = set()
    for line in lines:
        if not line.strip():
            continue
        split = next((c for c in CORRECTIONS if isinstance(c, Split) and c.table == table
                      and line.startswith(c.line_starts)), None)
        if split is not None:
            used.add(CORRECTIONS.index(split))
            for chunk, wave, chunk_row in _split_chunks(line, split):
                row = chunk_row or row
                if wave is not None:  # column fragments: joined with a space, like tab cells
                    segs.append(_Segment(table, row, wave, chunk, True))
            last_was_label = False
            continue
        force = next((c for c in CORRECTIONS if isinstance(c, ForceWave) and c.table == table
                      and line.startswith(c.line_starts)), None)
        if force is not None:
            used.add(CORRECTIONS.index(force))
            segs.append(_Segment(table, row, force.wave, line.replace("\t", " ").strip(), False))
            last_was_label = False
            continue
        stripped = line.strip()
        if stripped in ("2016", "2021"):
            segs.append(_Segment(table, row, int(stripped), "", False))
            continue
        if stripped in headings:
            row, last_was_label = stripped, False
            found_headings.add(stripped)
            continue
        if "\t" in line:
            fields = line.split("\t")
            if all(f.strip() in ("", "2016", "2021") for f in fields):
                continue  # column header
            i16, i21 = TAB_LAYOUT[table]
            if len(fields) != max(i16, i21) + 1:
                raise CorpusParseError(f"{table}: tab line has {len(fields)} fields, expected "
                                       f"{max(i16, i21) + 1}: {line[:80]!r}; add a correction")
            if i16 == 1:
                label = fields[0].strip()
                if label:
                    if last_was_label and label[0].islower():
                        label_parts.append(label)
                        renames[row] = " ".join(label_parts)
                    else:
                        label_parts = [label]
                    row = " ".join(label_parts)
                last_was_label = bool(label)
            for idx, wave in ((i16, WAVE_2016), (i21, WAVE_2021)):
                cell = fields[idx].strip()
                if not cell:
                    continue
                for m in CODE_RE.finditer(cell):
                    if code_wave(normalise_code(m.group(1))) != wave:
                        raise CorpusParseError(
                            f"{table}: code [{m.group(1)}] sits in the {wave} column: {cell[:80]!r}")
                segs.append(_Segment(table, row, wave, cell, True))
            continue
        last_was_label = False
        segs.extend(_paragraph_segments(table, row, stripped))
    missing = set(headings) - found_headings
    if missing:
        raise CorpusParseError(f"{table}: row heading(s) {sorted(missing)} not found")

    def final(name: str) -> str:
        while name in renames:
            name = renames[name]
        return name

    segs = [_Segment(s.table, final(s.row), s.wave, s.text, s.tab, s.intro) for s in segs]
    return _resolve_waves(segs)


def _resolve_waves(segs: list[_Segment]) -> list[_Segment]:
    out: list[_Segment] = []
    prev: int | None = None
    for i, s in enumerate(segs):
        wave = s.wave
        if wave is None and s.intro:
            wave = next((t.wave for t in segs[i + 1:] if t.wave is not None), prev)
        if wave is None:
            wave = prev
        if wave is None:
            raise CorpusParseError(f"{s.table}: cannot tell the wave of {s.text[:80]!r}")
        prev = wave
        if s.text:
            out.append(_Segment(s.table, s.row, wave, s.text, s.tab))
    return out


def _streams(segs: list[_Segment]) -> dict[tuple[str, int], str]:
    """Join each (row, wave)'s text: tab cells with a space, paragraphs with a newline."""
    parts: dict[tuple[str, int], list[tuple[str, bool]]] = {}
    for s in segs:
        parts.setdefault((s.row, s.wave), []).append((s.text, s.tab))
    streams = {}
    for key, items in parts.items():
        buf = ""
        prev_tab = False
        for text, tab in items:
            if not buf:
                buf = text
            elif buf.endswith("-") and text[:1].islower():
                buf += text
            else:
                buf += (" " if tab and prev_tab else "\n") + text
            prev_tab = tab
        streams[key] = QNUM_RE.sub("", buf)
    return streams


_OPEN_BEFORE = set(" \n\t([:—–-")
_CLOSE_AFTER = set(" \n\t,.;:)]?!'[")


@dataclass(frozen=True, slots=True)
class RawQuote:
    text: str
    speaker: str | None
    kind: str  # "quotation" or "phrase"
    context: str | None = None  # the authors' sentence around the quote (see :func:`quote_context`)


def extract_quotes(stream: str) -> list[RawQuote]:
    """Cut the quoted spans out of one column stream and attribute each to the code that follows it.

    * a mark that can only open while a quote is open ends that quote there (a lost closing mark);
    * a mark that can only close while none is open closes a quote that began at its paragraph's start
      (the opening was lost before a page break);
    * a quote with no code directly after it takes the code of a quote that follows with nothing but
      space between; otherwise its speaker is unknown (``None``).
    """
    spans: list[tuple[int, int]] = []
    open_at: int | None = None
    n = len(stream)
    for i, ch in enumerate(stream):
        if ch != '"':
            continue
        before = stream[i - 1] if i > 0 else "\n"
        after = stream[i + 1] if i + 1 < n else "\n"
        can_open = (before in _OPEN_BEFORE or before == "\n") and (not after.isspace() or before == "\n")
        can_close = (not before.isspace()) and (after in _CLOSE_AFTER or after == '"')
        if open_at is None:
            if can_open:
                open_at = i
            elif can_close:
                # the opening mark was lost: start after the last line break, colon, code or quote
                last_close = spans[-1][1] + 1 if spans else 0
                starts = [stream.rfind("\n", 0, i), stream.rfind(":", 0, i), last_close - 1]
                starts += [m.end() - 1 for m in CODE_RE.finditer(stream, 0, i)][-1:]
                spans.append((max(starts), i))
        else:
            if can_close:
                spans.append((open_at, i))
                open_at = None
            elif can_open:
                spans.append((open_at, i))
                open_at = i
    if open_at is not None:
        spans.append((open_at, n))
    quotes: list[tuple[RawQuote, int, int]] = []
    for start, end in spans:
        text = " ".join(stream[start + 1:end].split()).strip(" '")
        if not text:
            continue
        m = re.match(r"[\s.,;:'\"]*" + CODE_RE.pattern, stream[end + 1:end + 12]) if end < n else None
        speaker = normalise_code(m.group(1)) if m else None
        prefix = stream[:max(start, 0)].rstrip(" \t")
        prev = prefix[-1:] if prefix else "\n"
        kind = "quotation" if prev in ("\n", "", ":", "]", ")", ".", '"') or start < 0 else "phrase"
        quotes.append((RawQuote(text, speaker, kind), start, end))
    # an uncoded quote takes the code of the next coded quote in the same sentence
    out: list[RawQuote] = []
    all_spans = [(s, e, q.kind) for q, s, e in quotes]
    for k, (q, _start, end) in enumerate(quotes):
        speaker = q.speaker
        for nxt, nstart, _ in quotes[k + 1:]:
            if speaker is not None:
                break
            between = stream[end + 1:max(nstart, end + 1)]
            if re.search(r"[.!?]\s|\n", between) and between.strip():
                break
            speaker = nxt.speaker
        out.append(RawQuote(q.text, speaker, q.kind, quote_context(stream, all_spans, k)))
    return out


_WORD = re.compile(r"[A-Za-z]{2,}")


def _boundaries(stream: str, spans: list[tuple[int, int, str]]) -> list[int]:
    """Positions where an authors' sentence ends: a line break, ``.?!`` outside quotes before a space, or
    the end of a quote or speaker code before a capital letter or a line break."""
    inside = [False] * len(stream)
    for s, e, _ in spans:
        for i in range(max(s, 0), min(e + 1, len(stream))):
            inside[i] = True
    n = len(stream)
    out = []
    for i, ch in enumerate(stream):
        if ch == "\n":
            out.append(i)
        elif ch in ".?!" and not inside[i] and (i + 1 == n or stream[i + 1].isspace()):
            out.append(i + 1)
    ends = [e + 1 for s, e, _ in spans] + [m.end() for m in CODE_RE.finditer(stream)]
    for e in ends:
        rest = stream[e:].lstrip(" \t.,;")
        if not rest or rest[0] == "\n" or rest[0].isupper() or rest[0] == '"':
            out.append(e)
    return sorted(set(out))


def quote_context(stream: str, spans: list[tuple[int, int, str]], k: int) -> str | None:
    """The authors' sentence around quote ``k`` of ``stream`` (``spans``: (open, close, kind) per quote).

    A phrase is shown in its sentence; a standalone quotation as ``"…"`` between the authors' lead-in
    (which may be the previous paragraph when that ends with a colon) and any remark after its code.
    Speaker codes are dropped. ``None`` when no authors' words surround the quote.
    """
    start, end, kind = spans[k]
    bounds = _boundaries(stream, spans)
    left = max([b for b in bounds if b <= start] or [0])
    if not _WORD.search(stream[left:start]) and stream[:left].rstrip().endswith(":"):
        colon = len(stream[:left].rstrip()) - 1
        left = max([b for b in bounds if b < colon] or [0])
    prev = [e + 1 for _, e, kd in spans[:k] if kd == "quotation"]
    left = max([left] + prev[-1:])
    nxt = [s for s, _, kd in spans[k + 1:] if kd == "quotation"]
    right = min([b for b in bounds if b > end] + nxt[:1] + [len(stream)])
    own = stream[start:end + 1] if kind == "phrase" else '"…"'
    text = stream[left:max(start, left)] + own + stream[end + 1:right]
    text = " ".join(CODE_RE.sub("", text).split()).strip(" ,;.")
    text = re.sub(r"\s+([.,;:])", r"\1", text)
    authors = text.replace(" ".join(own.split()), " ")
    if not _WORD.search(authors) or len(_WORD.findall(authors)) < 3:
        return None
    return text


def parse_source(path: str | Path) -> list[dict]:
    """Parse the source document into quote records (the rows of ``quotes.jsonl``)."""
    raw = Path(path).read_bytes()
    text = raw.decode("utf-8")
    lines = text.split("\n")
    used: set[int] = set()
    records: list[dict] = []
    tables = list(_tables(lines))
    ids = [t for t, _, _ in tables]
    if ids != ["S2.1", "S2.2", "S2.3", "S2.4", "S2.5", "S2.6"]:
        raise CorpusParseError(f"expected tables S2.1-S2.6 in order; found {ids}")
    for table, _title, body in tables:
        segs = _table_segments(table, _title, body, used)
        for (row, wave), stream in _streams(segs).items():
            for q in extract_quotes(stream):
                if q.speaker is not None and code_wave(q.speaker) != wave:
                    raise CorpusParseError(
                        f"{table} / {row}: quote by {q.speaker} landed in the {wave} column: {q.text[:80]!r}")
                records.append({
                    "quote_id": "",
                    "text": q.text,
                    "speaker": q.speaker,
                    "wave": wave,
                    "source": table,
                    "codes": [row],
                    "kind": q.kind,
                    "context": q.context,
                })
    unused = [CORRECTIONS[i] for i in range(len(CORRECTIONS)) if i not in used]
    if unused:
        raise CorpusParseError(f"{len(unused)} correction(s) matched nothing in {path}: {unused}")
    for k, rec in enumerate(records, start=1):
        rec["quote_id"] = f"gp{k:03d}"
    return records


def source_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def to_jsonl(records: list[dict]) -> str:
    """Serialise records byte-for-byte reproducibly (sorted keys, UTF-8, ``\\n`` line ends)."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def build_corpus_file(source: str | Path, out: str | Path) -> list[dict]:
    """Regenerate ``quotes.jsonl`` from the source document; returns the records written."""
    records = parse_source(source)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(to_jsonl(records).encode("utf-8"))
    return records
