"""Read REFI-QDA projects (``.qdpx``: a zip of ``project.qde`` + ``sources/``) and codebooks (``.qdc``).

The reader is lenient where real exports deviate from the QDA-XML 1.0 spec, and says what it skipped
(:attr:`RefiProject.skipped`): any ``*.qde`` member in any letter case (``Project.qde``, ``Trial.qde``), a
``Sources/`` folder, sources missing from the archive, ``plainTextPath`` without ``internal://``, sources
without a ``name`` (the file name or the GUID stands in), no namespace, and non-text sources (PDF, picture,
audio, video: counted and skipped). Text is decoded as UTF-8 (a BOM dropped) and kept exactly, CRLF included,
because ``startPosition``/``endPosition`` count Unicode code points of that text.

Hostile files end in a :class:`~stakeholder_nlp.errors.CorpusFormatError`, never in another exception or a
silently wrong project: XML entity bombs and external entities (the standard library's expat refuses entity
amplification and never fetches an external entity), damaged or truncated archives (bad CRC, not a zip,
encrypted or unsupported members), archive members larger than :data:`MAX_MEMBER_BYTES` (a zip bomb; the
archive's declared sizes bound what is decompressed), and code trees nested thousands of levels deep (read
without recursion). Member names such as ``../../x`` are never extracted: members are read in memory only.

Classes are plain frozen values; :mod:`stakeholder_nlp.report.qdpx` writes them back.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import CorpusFormatError

NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
NON_TEXT_SOURCES = ("PDFSource", "PictureSource", "AudioSource", "VideoSource")
#: the largest archive member (decompressed) read from a .qdpx/.qdc, and from a .docx/.odt before its parser
MAX_MEMBER_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class RefiCode:
    guid: str
    name: str
    parent: str | None = None
    description: str = ""
    color: str | None = None
    codable: bool = True
    notes: tuple[str, ...] = ()  # GUIDs of the code's memos (``RefiProject.notes``)


@dataclass(frozen=True, slots=True)
class RefiSelection:
    """A ``PlainTextSelection``: ``[start, end)`` in code points, with the codes applied to it."""

    guid: str
    start: int
    end: int
    codes: tuple[str, ...] = ()
    name: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class RefiSource:
    guid: str
    name: str
    text: str | None
    selections: tuple[RefiSelection, ...] = ()
    path: str | None = None
    variables: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefiCase:
    guid: str
    name: str
    variables: dict[str, object] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    selections: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class RefiNote:
    guid: str
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class RefiProject:
    """Codes (flat, each with its parent), text sources with selections, cases, notes, what was skipped."""

    name: str
    codes: tuple[RefiCode, ...] = ()
    sources: tuple[RefiSource, ...] = ()
    cases: tuple[RefiCase, ...] = ()
    notes: tuple[RefiNote, ...] = ()
    users: tuple[tuple[str, str], ...] = ()
    origin: str | None = None
    path: str | None = None
    skipped: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    created: str | None = None  # the Project's creationDateTime (xsd:dateTime), where given
    #: REFI ``Link`` elements: (guid, name, originGUID, targetGUID), e.g. a later quote's selection that echoes
    #: an earlier one's (written by report.qdpx; not read back)
    links: tuple[tuple[str, str, str, str], ...] = ()

    def code(self, guid: str) -> RefiCode:
        for c in self.codes:
            if c.guid == guid:
                return c
        raise KeyError(f"no code with guid {guid}")

    def code_path(self, guid: str) -> str:
        """``Parent/Child/Leaf`` names of a code."""
        by = {c.guid: c for c in self.codes}
        names, g, seen = [], guid, set()
        while g is not None and g in by and g not in seen:
            seen.add(g)
            names.append(by[g].name)
            g = by[g].parent
        return "/".join(reversed(names))

    def depth(self) -> int:
        by = {c.guid: c.parent for c in self.codes}
        memo: dict[str, int] = {}
        for g in by:
            chain, x = [], g
            while x is not None and x in by and x not in memo and x not in chain:
                chain.append(x)
                x = by[x]
            base = memo.get(x, 0) if x is not None else 0
            for y in reversed(chain):
                base += 1
                memo[y] = base
        return max(memo.values(), default=0)

    def summary(self) -> dict[str, int]:
        """Counts of what was read (for messages and docs)."""
        texts = [s for s in self.sources if s.text is not None]
        return {"codes": len(self.codes), "code_depth": self.depth(), "text_sources": len(self.sources),
                "text_sources_with_text": len(texts),
                "selections": sum(len(s.selections) for s in self.sources),
                "codings": sum(len(sel.codes) for s in self.sources for sel in s.selections),
                "cases": len(self.cases), "notes": len(self.notes), "users": len(self.users),
                "skipped": len(self.skipped)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text_of(el: ET.Element | None) -> str:
    return "" if el is None or el.text is None else el.text


def _refs(el: ET.Element, name: str) -> list[str]:
    return [r.get("targetGUID", "") for r in _children(el, name) if r.get("targetGUID")]


def _codes(parent: ET.Element, parent_guid: str | None, out: list[RefiCode]) -> None:
    """The ``Code`` tree under ``parent``, depth first in document order (no recursion: trees may be deep)."""
    stack = [(c, parent_guid) for c in reversed(_children(parent, "Code"))]
    while stack:
        c, up = stack.pop()
        guid = c.get("guid") or ""
        codable = (c.get("isCodable") or "true").strip().lower() not in ("false", "0")
        out.append(RefiCode(guid, c.get("name") or guid, up, _text_of(_child(c, "Description")).strip(),
                            c.get("color"), codable, tuple(_refs(c, "NoteRef"))))
        stack.extend((k, guid) for k in reversed(_children(c, "Code")))


def _value(vv: ET.Element) -> object:
    for kind in ("TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue", "DateTimeValue"):
        el = _child(vv, kind)
        if el is not None:
            t = _text_of(el).strip()
            if kind == "BooleanValue":
                return t.lower() in ("true", "1")
            if kind == "IntegerValue":
                try:
                    return int(t)
                except ValueError:
                    return t
            if kind == "FloatValue":
                try:
                    return float(t)
                except ValueError:
                    return t
            return t
    return None


def _variables(el: ET.Element, names: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for vv in _children(el, "VariableValue"):
        ref = _child(vv, "VariableRef")
        guid = ref.get("targetGUID") if ref is not None else None
        if guid:
            out[names.get(guid, guid)] = _value(vv)
    return out


def read_member(zf: zipfile.ZipFile, member: str, path: str | None = None) -> bytes:
    """One archive member's bytes, or a ``CorpusFormatError`` (too large, damaged, encrypted, unsupported)."""
    try:
        info = zf.getinfo(member)
        if info.file_size > MAX_MEMBER_BYTES:
            raise CorpusFormatError(f"archive member {member!r} is {info.file_size:,} bytes decompressed, more than "
                                    f"the {MAX_MEMBER_BYTES:,} read from any member (a zip bomb, or not a "
                                    "transcript project)", path=path)
        return zf.read(member)
    except CorpusFormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError,
            KeyError) as exc:
        raise CorpusFormatError(f"archive member {member!r} cannot be read ({type(exc).__name__}: {exc}); the "
                                "file is damaged or truncated: export it again", path=path) from exc


def open_zip(path: str | Path, what: str) -> zipfile.ZipFile:
    """Open a zip package, or a ``CorpusFormatError`` saying it is not one."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise CorpusFormatError(f"not a readable zip archive ({type(exc).__name__}: {exc}); {what}",
                                path=str(path)) from exc


def check_zip_package(path: str | Path, what: str) -> None:
    """Refuse a zip package (.docx/.odt) that cannot be read or holds a member over :data:`MAX_MEMBER_BYTES`.

    Only the directory is read (no member is decompressed): the document's own parser then reads it.
    """
    with open_zip(path, what) as zf:
        for info in zf.infolist():
            if info.file_size > MAX_MEMBER_BYTES:
                raise CorpusFormatError(f"archive member {info.filename!r} is {info.file_size:,} bytes "
                                        f"decompressed, more than the {MAX_MEMBER_BYTES:,} read from any member "
                                        f"(a zip bomb?); {what}", path=str(path))


class _Archive:
    """Case-insensitive lookup of members of a .qdpx zip."""

    def __init__(self, zf: zipfile.ZipFile | None, path: str | None = None) -> None:
        self.zf = zf
        self.path = path
        self.members = {} if zf is None else {n.casefold(): n for n in zf.namelist() if not n.endswith("/")}

    def find(self, *candidates: str) -> str | None:
        for c in candidates:
            hit = self.members.get(c.casefold().lstrip("/"))
            if hit:
                return hit
        return None

    def read(self, member: str) -> bytes:
        assert self.zf is not None
        return read_member(self.zf, member, self.path)


def _decode(raw: bytes, where: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CorpusFormatError(f"{where} is neither UTF-8 nor UTF-16 text") from exc
    return text[1:] if text.startswith("\ufeff") else text


def _source_text(src: ET.Element, archive: _Archive, skipped: list[str]) -> tuple[str | None, str | None]:
    label = src.get("name") or src.get("guid")
    inline = _child(src, "PlainTextContent")
    if inline is not None and inline.text is not None:
        return inline.text, None
    path = src.get("plainTextPath")
    if not path:
        skipped.append(f"text source {label!r}: no plainTextPath and no PlainTextContent")
        return None, None
    m = re.match(r"^(internal|relative|absolute)://(.*)$", path)
    scheme, rest = (m.group(1), m.group(2)) if m else (None, path)
    rest = rest.lstrip("/")
    if scheme in (None, "internal"):
        name = PurePosixPath(rest).name
        member = archive.find(f"sources/{rest}", rest, f"sources/{name}")
        if member is None:
            skipped.append(f"text source {label!r}: {path} is not in the archive")
            return None, path
        return _decode(archive.read(member), path), path
    skipped.append(f"text source {label!r}: {path} lies outside the archive ({scheme}://); not read")
    return None, path


def parse_project(xml: bytes | str, *, archive: zipfile.ZipFile | None = None, path: str | None = None) -> RefiProject:
    """Parse ``project.qde`` XML (bytes or text); ``archive`` resolves ``internal://`` sources."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise CorpusFormatError(f"project XML does not parse: {exc}", path=path) from exc
    if _local(root.tag) not in ("Project", "CodeBook"):
        raise CorpusFormatError(f"root element is <{_local(root.tag)}>; expected <Project> (QDA-XML 1.0)", path=path)
    skipped: list[str] = []
    counts: Counter[str] = Counter(_local(el.tag) for el in root.iter())
    arch = _Archive(archive, path)
    notes: list[RefiNote] = []
    notes_el = _child(root, "Notes")
    for n in (_children(notes_el, "Note") if notes_el is not None else []):
        text, _ = _source_text(n, arch, skipped)
        notes.append(RefiNote(n.get("guid") or "", n.get("name") or "", text or ""))
    codes: list[RefiCode] = []
    book = root if _local(root.tag) == "CodeBook" else _child(root, "CodeBook")
    codes_el = _child(book, "Codes") if book is not None else None
    if codes_el is not None:
        _codes(codes_el, None, codes)
    var_el = _child(root, "Variables")
    var_names = {v.get("guid", ""): v.get("name") or v.get("guid", "")
                 for v in (_children(var_el, "Variable") if var_el is not None else [])}
    sources: list[RefiSource] = []
    src_el = _child(root, "Sources")
    for s in (list(src_el) if src_el is not None else []):
        kind = _local(s.tag)
        if kind in NON_TEXT_SOURCES:
            n_sel = sum(1 for c in s.iter() if _local(c.tag).endswith("Selection"))
            skipped.append(f"{kind} {s.get('name') or s.get('guid')!r}: not a text source"
                           + (f" ({n_sel} selections not imported)" if n_sel else ""))
            continue
        if kind != "TextSource":
            continue
        text, tpath = _source_text(s, arch, skipped)
        name = s.get("name") or (PurePosixPath(tpath.split("://")[-1]).name if tpath else None) or s.get("guid", "")
        sels = []
        for sel in _children(s, "PlainTextSelection"):
            try:
                start, end = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
            except ValueError:
                skipped.append(f"selection {sel.get('guid')} in {name!r}: positions are not integers")
                continue
            if text is not None and not (0 <= start <= end <= len(text)):
                skipped.append(f"selection {sel.get('guid')} in {name!r}: [{start}, {end}) lies outside the "
                               f"source's {len(text)} characters")
                continue
            codes_of = tuple(g for cod in _children(sel, "Coding") for g in _refs(cod, "CodeRef"))
            sels.append(RefiSelection(sel.get("guid") or "", start, end, codes_of, sel.get("name"),
                                      sel.get("creatingUser")))
        sources.append(RefiSource(s.get("guid") or "", name, text, tuple(sels), tpath, _variables(s, var_names)))
    cases = []
    cases_el = _child(root, "Cases")
    for c in (_children(cases_el, "Case") if cases_el is not None else []):
        cases.append(RefiCase(c.get("guid") or "", c.get("name") or c.get("guid") or "", _variables(c, var_names),
                              tuple(_refs(c, "SourceRef")), tuple(_refs(c, "SelectionRef")),
                              _text_of(_child(c, "Description")).strip()))
    users_el = _child(root, "Users")
    users = tuple((u.get("guid") or "", u.get("name") or "") for u in
                  (_children(users_el, "User") if users_el is not None else []))
    known = {c.guid for c in codes}
    dangling = sorted({g for s in sources for sel in s.selections for g in sel.codes if g not in known})
    if dangling:
        skipped.append(f"{len(dangling)} coding(s) refer to codes not in the codebook (kept by GUID)")
    return RefiProject(root.get("name") or (Path(path).stem if path else "project"), tuple(codes), tuple(sources),
                       tuple(cases), tuple(notes), users, root.get("origin"), path, tuple(skipped), dict(counts),
                       root.get("creationDateTime"))


def read_qdpx(path: str | Path) -> RefiProject:
    """Read a ``.qdpx`` archive (or a bare ``.qde`` XML file)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"REFI-QDA file {p} does not exist")
    if p.suffix.lower() == ".qde":
        if p.stat().st_size > MAX_MEMBER_BYTES:
            raise CorpusFormatError(f"{p.stat().st_size:,} bytes: more than the {MAX_MEMBER_BYTES:,} read from a "
                                    "project file", path=str(p))
        return parse_project(p.read_bytes(), path=str(p))
    zf = open_zip(p, "a .qdpx is a zip holding project.qde and sources/")
    with zf:
        qdes = sorted((n for n in zf.namelist() if n.lower().endswith(".qde")),
                      key=lambda n: (n.count("/"), n.lower() != "project.qde", n))
        if not qdes:
            raise CorpusFormatError(f"no .qde project file in the archive; members: {zf.namelist()[:10]}",
                                    path=str(p))
        project = parse_project(read_member(zf, qdes[0], str(p)), archive=zf, path=str(p))
    if qdes[0] != "project.qde":
        project = _with_skipped(project, f"project file is {qdes[0]!r} (the spec says project.qde); read anyway")
    return project


def read_qdc(path: str | Path) -> RefiProject:
    """Read a ``.qdc`` codebook (XML with ``<CodeBook><Codes>``): a project with codes only."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"codebook file {p} does not exist")
    with p.open("rb") as f:
        zipped = f.read(2) == b"PK"  # some tools zip it
    if zipped:
        with open_zip(p, "a .qdc starting with 'PK' is a zip holding the codebook's XML") as zf:
            member = next((n for n in zf.namelist() if n.lower().endswith((".qdc", ".xml"))), None)
            if member is None:
                raise CorpusFormatError("zipped .qdc holds no .qdc/.xml file", path=str(p))
            raw = read_member(zf, member, str(p))
    else:
        if p.stat().st_size > MAX_MEMBER_BYTES:
            raise CorpusFormatError(f"{p.stat().st_size:,} bytes: more than the {MAX_MEMBER_BYTES:,} read from a "
                                    "codebook", path=str(p))
        raw = p.read_bytes()
    return parse_project(raw, path=str(p))


def read_refi(path: str | Path) -> RefiProject:
    """``.qdpx``/``.qde`` project or ``.qdc`` codebook, by suffix."""
    return read_qdc(path) if Path(path).suffix.lower() == ".qdc" else read_qdpx(path)


def _with_skipped(project: RefiProject, note: str) -> RefiProject:
    from dataclasses import replace

    return replace(project, skipped=(*project.skipped, note))


def codebook_toml(project: RefiProject, *, codable_only: bool = True) -> str:
    """The project's codes as a stakeholder_nlp codebook (TOML text for ``--codebook``).

    Each code becomes a theme: ``name`` is its path (``Parent/Child``), ``description`` its REFI description
    (the name when it has none), ``examples`` its memos (notes) where present (else its name), and ``human_codes`` its name
    so that agreement with the project's own codings can be measured.
    """
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") \
            .replace("\t", "\\t") + '"'

    lines = [f"# codebook from REFI-QDA project {project.name!r}", "[codebook]", f"name = {q(project.name)}", ""]
    used: set[str] = set()
    memo = {n.guid: n.text for n in project.notes}
    for c in project.codes:
        if codable_only and not c.codable:
            continue
        base = re.sub(r"[^0-9a-z_]+", "_", c.name.casefold()).strip("_") or "code"
        if not base[0].isalpha():
            base = "c_" + base
        tid, k = base, 2
        while tid in used:
            tid, k = f"{base}_{k}", k + 1
        used.add(tid)
        examples = [" ".join(memo[g].split()) for g in c.notes if memo.get(g, "").strip()] or [c.name]
        lines += ["[[theme]]", f"id = {q(tid)}", f"name = {q(project.code_path(c.guid))}",
                  f"description = {q(c.description or c.name)}",
                  f"examples = [{', '.join(q(e) for e in examples)}]", f"human_codes = [{q(c.name)}]", ""]
    return "\n".join(lines)
