"""Read interview transcripts into plain text: ``.txt``/``.md``/``.rst``, ``.docx``, ``.odt``, ``.vtt``, ``.srt``.

Every reader returns a :class:`SourceDocument` whose ``text`` is the text that all character offsets refer to
(Unicode code points, as REFI-QDA's ``startPosition``/``endPosition`` count them).

- Plain-text files are kept exactly as decoded from UTF-8 (``\\r\\n`` kept, so a CRLF counts as two characters;
  a leading byte-order mark is dropped).
- For documents whose plain text we build (``.docx``, ``.odt``, subtitles), paragraphs are joined with a blank
  line (``"\\n\\n"``), runs of spaces are collapsed and stray spaces before punctuation removed (Word files often
  split runs inside words). Table rows of a ``.docx`` become paragraphs, cells joined by ``": "`` when a row has
  two cells (speaker | words), else by a tab.
- Subtitles (``.vtt`` from Teams, ``.srt``/``.vtt`` from Zoom): timestamps and cue numbers are dropped; a cue's
  speaker comes from a ``<v Name>`` voice span or a ``Name:`` prefix; consecutive cues of one speaker form one
  paragraph written ``Name: words``, so the turn rules of :mod:`.transcripts` apply unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusFormatError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".text")
SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".odt", ".vtt", ".srt")
#: formats stored as a zip package (checked before their parser sees the file)
ZIP_SUFFIXES = (".docx", ".odt")


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One source's plain text. ``name`` is the file name (unique within an ingestion)."""

    name: str
    text: str
    path: str | None = None
    format: str = "txt"


def decode_text(raw: bytes, *, path: str | None = None) -> str:
    """UTF-8 text with a leading BOM dropped and newlines kept as they are; a clear error on bad bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CorpusFormatError(f"bytes are not valid UTF-8 at byte {exc.start} "
                                f"({raw[exc.start:exc.start + 8]!r}); save the file as UTF-8",
                                path=path, row=line) from exc
    return text[1:] if text.startswith("\ufeff") else text


_SPACES = re.compile(r"[ \t\u00a0]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:!?)])")


def tidy_paragraph(text: str) -> str:
    """Collapse runs of spaces and drop spaces before punctuation (for text rebuilt from runs)."""
    text = " ".join(line.strip() for line in text.splitlines())
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()


def _join(paragraphs: list[str]) -> str:
    return "\n\n".join(p for p in (tidy_paragraph(p) for p in paragraphs) if p)


def read_docx(path: str | Path) -> str:
    """Paragraphs and table rows of a Word file, in document order."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = docx.Document(str(path))
    out: list[str] = []
    for child in doc.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            out.append(Paragraph(child, doc).text)
        elif tag == "tbl":
            for row in Table(child, doc).rows:
                cells = []
                for cell in row.cells:  # merged cells repeat: keep each once
                    t = tidy_paragraph(cell.text)
                    if t and (not cells or cells[-1] != t):
                        cells.append(t)
                if len(cells) == 2 and len(cells[0]) <= 63:
                    out.append(f"{cells[0]}: {cells[1]}")
                elif cells:
                    out.append("\t".join(cells))
    return _join(out)


def read_odt(path: str | Path) -> str:
    """Paragraphs and headings of an OpenDocument text, in document order (lists and tables included)."""
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    doc = load(str(path))
    out: list[str] = []

    def walk(node) -> None:
        for child in node.childNodes:
            if getattr(child, "qname", None) in ((TEXTNS, "p"), (TEXTNS, "h")):
                out.append(teletype.extractText(child))
            elif getattr(child, "childNodes", None):
                walk(child)

    walk(doc.text)
    return _join(out)


# no "<" inside a tag: a run of unclosed "<v a<v a..." is then linear, not quadratic (took minutes on 400 kB)
_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?\s+([^<>]+)>")
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_NAME_PREFIX = re.compile(r"^\s*([^:\n]{1,63}?)\s*:\s+(.*)$", re.S)


def _cue_speaker(raw: str) -> tuple[str | None, str]:
    m = _VOICE.search(raw)
    words = " ".join(_TAG.sub("", raw).split())
    if m:
        return " ".join(m.group(1).split()), words
    p = _NAME_PREFIX.match(words)
    if p and len(p.group(1).split()) <= 6:
        return p.group(1).strip(), p.group(2).strip()
    return None, words


def read_subtitles(path: str | Path) -> str:
    """A ``.vtt`` or ``.srt`` file as paragraphs ``Name: words`` (one per run of cues by one speaker)."""
    import webvtt

    p = Path(path)
    captions = webvtt.from_srt(str(p)) if p.suffix.lower() == ".srt" else webvtt.read(str(p))
    paras: list[tuple[str | None, list[str]]] = []
    for cap in captions:
        speaker, words = _cue_speaker(cap.raw_text)
        if not words:
            continue
        if paras and paras[-1][0] == speaker:
            paras[-1][1].append(words)
        else:
            paras.append((speaker, [words]))
    return _join([(f"{s}: " if s else "") + " ".join(w) for s, w in paras])


def _is_zip(path: Path) -> bool:
    import zipfile

    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return True  # unreadable for another reason: the parser's error says which


def read_document(path: str | Path, *, name: str | None = None) -> SourceDocument:
    """Read one transcript file by its suffix (see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"transcript file {p} does not exist")
    suffix = p.suffix.lower()
    name = name or p.name
    if suffix in ZIP_SUFFIXES and not _is_zip(p):
        raise CorpusFormatError(f"not a readable {suffix} (not a zip package: a {suffix} file is a zip archive, "
                                f"so this one is damaged, truncated or another format renamed; open it and save "
                                f"it again as {suffix})", path=str(p))
    try:
        if suffix in TEXT_SUFFIXES:
            return SourceDocument(name, decode_text(p.read_bytes(), path=str(p)), str(p), suffix.lstrip("."))
        if suffix == ".docx":
            return SourceDocument(name, read_docx(p), str(p), "docx")
        if suffix == ".odt":
            return SourceDocument(name, read_odt(p), str(p), "odt")
        if suffix in (".vtt", ".srt"):
            return SourceDocument(name, read_subtitles(p), str(p), suffix.lstrip("."))
    except CorpusFormatError:
        raise
    except Exception as exc:  # third-party parsers raise many types; name the file and the cause
        raise CorpusFormatError(f"not a readable {suffix} ({type(exc).__name__}: {exc})", path=str(p)) from exc
    raise CorpusFormatError(f"unknown transcript type {suffix!r}; expected one of {', '.join(SUFFIXES)} "
                            "(or .qdpx for a REFI-QDA project)", path=str(p))
