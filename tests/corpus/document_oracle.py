"""What loading a transcript or a REFI-QDA file should give: generators of good files (with the result the
rules say) and of hostile ones (XML bombs, external entities, deep nesting, zip bombs, zip-slip paths, wrong
offsets, damaged bytes), and the classification of one load. Shared by ``tests/test_fuzz_loaders.py`` (a few
cases per kind) and ``benchmarks/fuzz_loaders.py --documents`` (thousands).

Outcomes (as for the table loaders): ``typed`` (a ``CorpusFormatError``, where one is acceptable),
``correct`` (the load the rules say, or for a hostile file one that keeps every invariant), ``untyped`` (any
other exception), ``wrong`` (a load that differs from the expectation, breaks an invariant, reads outside the
file, or an error where a clean load was expected) and ``hang`` (a load slower than the time limit).
"""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOC_FORMATS = ("qdpx", "qdc", "docx", "odt", "vtt", "srt", "txt")
SECRET = "SECRET-6b1f-do-not-read"
NAMES = ("Anne", "Dr Zoë Ångström", "李 明", "Søren", "P1", "Interviewer", "Résidente", "O'Brien")
WORDS = ("data", "données", "😀", "👍🏽", "東京", "analyst", "é", "team", "naïve", "—", "½", "cluster", "care",
         "👨\u200d👩\u200d👧", "e\u0301", "“quoted”", "time", "12", "Ångström")
NS = "urn:QDA-XML:project:1.0"


@dataclass
class Case:
    """A file to load, how to load it, and what the load must give."""

    fmt: str
    kind: str  # "clean" or the attack's name
    path: Path
    expect: Callable[[Any], list[str]] | None = None  # problems with a successful load ([] = as expected)
    error_ok: bool = True  # may the load end in a CorpusFormatError?
    outside: Path | None = None  # a path that must not exist after the load (zip-slip)


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))) + rng.choice([".", "?", "!", ""])


def _turns(rng: random.Random) -> list[tuple[str, str]]:
    speakers = rng.sample(NAMES, 2)
    return [(speakers[i % 2], _sentence(rng)) for i in range(rng.randint(2, 7))]


# ------------------------------------------------------------------ hostile XML


def billion_laughs(levels: int = 10, fan: int = 10) -> tuple[str, str]:
    ents = ['<!ENTITY lol0 "lol">'] + ['<!ENTITY lol{} "{}">'.format(i, f"&lol{i - 1};" * fan) for i in range(1, levels)]
    return "<!DOCTYPE r [" + "".join(ents) + "]>", f"&lol{levels - 1};"


def external_entity(secret_file: Path) -> tuple[str, str]:
    return f'<!DOCTYPE r [<!ENTITY xx SYSTEM "{secret_file.as_uri()}">]>', "&xx;"


def parameter_entity(secret_file: Path) -> tuple[str, str]:
    return (f'<!DOCTYPE r [<!ENTITY % pe SYSTEM "{secret_file.as_uri()}"> %pe;]>', "x")


# ------------------------------------------------------------------ REFI-QDA


def _project_xml(codes: list[tuple[str, str, str | None]], sources: list[tuple[str, str, list[tuple[Any, Any, str]]]],
                 *, doctype: str = "", entity: str = "", path_of: Callable[[str], str] | None = None,
                 nest: int = 0) -> str:
    def esc(s: str) -> str:
        return (s.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace("\r", "&#13;")
                .replace("\n", "&#10;"))

    kids: dict[str | None, list[tuple[str, str]]] = {}
    for g, name, parent in codes:
        kids.setdefault(parent, []).append((g, name))

    def code_xml(parent: str | None) -> str:
        return "".join(f'<Code guid="{g}" name="{esc(n)}" isCodable="true">{code_xml(g)}</Code>'
                       for g, n in kids.get(parent, []))

    deep = "".join(f'<Code guid="00000000-0000-0000-0000-{k:012d}" name="d{k}">' for k in range(nest)) + \
        "</Code>" * nest
    src = []
    for g, name, sels in sources:
        path = path_of(g) if path_of else f"internal://{g}.txt"
        sel = "".join(f'<PlainTextSelection guid="{sg}" startPosition="{a}" endPosition="{b}">'
                      f'<Coding guid="{sg[:-4]}ffff"><CodeRef targetGUID="{codes[0][0]}"/></Coding>'
                      "</PlainTextSelection>" for a, b, sg in sels) if codes else ""
        src.append(f'<TextSource guid="{g}" name="{esc(name)}" plainTextPath="{esc(path)}">{sel}</TextSource>')
    return (f'<?xml version="1.0" encoding="utf-8"?>{doctype}<Project xmlns="{NS}" name="p{entity}" origin="fuzz">'
            f"<CodeBook><Codes>{code_xml(None)}{deep}</Codes></CodeBook><Sources>{''.join(src)}</Sources></Project>")


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _bomb_member(size: int) -> bytes:
    return b"\0" * size


REFI_ATTACKS = ("clean", "billion_laughs", "external_entity", "parameter_entity", "deep_nesting", "zip_bomb",
                "zip_slip", "wrong_offsets", "damaged", "not_a_project")


def make_qdpx(rng: random.Random, folder: Path, attack: str, *, bomb_bytes: int) -> Case:
    """A project of random codes, sources (emoji, CRLF) and selections, then one attack (or none)."""
    codes = []
    for k in range(rng.randint(1, 6)):
        parent = rng.choice([None, *[c[0] for c in codes]]) if codes else None
        codes.append((_guid(rng), f"{rng.choice(WORDS)} {k}", parent))
    sources, texts, want = [], {}, []
    for k in range(rng.randint(1, 3)):
        nl = rng.choice(["\n", "\r\n"])
        text = nl.join(f"{s}: {t}" for s, t in _turns(rng))
        g = _guid(rng)
        sels = []
        for _ in range(rng.randint(0, 4)):
            a = rng.randint(0, len(text))
            b = rng.randint(a, len(text))
            sels.append((a, b, _guid(rng)))
            want.append((f"src{k}.txt", text[a:b]))
        sources.append((g, f"src{k}.txt", sels))
        texts[g] = text
    members = {f"sources/{g}.txt": t.encode("utf-8") for g, t in texts.items()}
    path = folder / "p.qdpx"
    secret = folder / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    outside = None
    kw: dict[str, Any] = {}
    error_ok = attack != "clean"
    if attack == "billion_laughs":
        kw["doctype"], kw["entity"] = billion_laughs()
    elif attack == "external_entity":
        kw["doctype"], kw["entity"] = external_entity(secret)
    elif attack == "parameter_entity":
        kw["doctype"], kw["entity"] = parameter_entity(secret)
    elif attack == "deep_nesting":
        kw["nest"] = rng.choice([200, 3000, 20000])
    elif attack == "zip_slip":
        outside = folder.parent / f"slip_{rng.getrandbits(32):08x}.txt"
        evil = f"../{outside.name}"
        g = sources[0][0]
        members = {(f"sources/../../{outside.name}" if rng.random() < 0.5 else f"/{outside.name}"): b"evil",
                   **members}
        kw["path_of"] = lambda guid: f"internal://../{evil}" if guid == g else f"internal://{guid}.txt"
    elif attack == "wrong_offsets":
        g, name, sels = sources[0]
        bad = rng.choice([(-1, 3), (5, 2), (0, 10**30), ("1.5", 4), ("", ""), (0, len(texts[g]) + 1), ("0x1", 2)])
        sources[0] = (g, name, [*sels, (*bad, _guid(rng))])
    xml = _project_xml(codes, sources, **kw)
    members = {"project.qde": xml.encode("utf-8"), **members}
    if attack == "zip_bomb":
        target = rng.choice([*members])
        members[target] = members[target] + _bomb_member(bomb_bytes) if target != "project.qde" else \
            xml.encode("utf-8").replace(b"</Project>", b"<!--" + b" " * bomb_bytes + b"--></Project>")
    if attack == "not_a_project":
        members = {"project.qde": rng.choice([b"<Nope/>", b"", b"\xff\xfe\x00", b"<Project", "<Project>é".encode("latin-1")])}
    _zip(path, members)
    if attack == "damaged":
        raw = bytearray(path.read_bytes())
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(raw))
            raw[i] = rng.randrange(256)
        if rng.random() < 0.4:
            raw = raw[: rng.randrange(len(raw))]
        path.write_bytes(bytes(raw))

    def expect(project: Any) -> list[str]:
        problems = _refi_invariants(project, bomb_bytes)
        if attack in ("clean", "wrong_offsets", "zip_slip"):
            got_codes = sorted(c.name for c in project.codes)
            if got_codes != sorted(c[1] for c in codes):
                problems.append(f"codes {got_codes} != {sorted(c[1] for c in codes)}")
            by = {s.name: s for s in project.sources}
            # zip_slip: the first source's path climbs out of sources/; it may be read from the archive member
            # of that name (inside the archive: harmless) or skipped; the other sources are exact
            slipped = {sources[0][1]} if attack == "zip_slip" else set()
            got = sorted((s.name, s.text[x.start:x.end]) for s in project.sources if s.text is not None
                         and s.name not in slipped for x in s.selections)
            exp = sorted(w for w in want if w[0] not in slipped)
            if got != exp:
                problems.append(f"selections {got[:3]} != {exp[:3]}")
            for g, name, _ in sources:
                s = by.get(name)
                if s is None:
                    problems.append(f"source {name} missing")
                elif name in slipped:
                    if s.text not in (None, "evil"):
                        problems.append(f"source {name}: text {s.text[:20]!r} from neither the archive nor nowhere")
                elif s.text != texts[g]:
                    problems.append(f"source {name} text differs")
            if attack == "wrong_offsets" and not any("selection" in k for k in project.skipped):
                problems.append("the bad selection was not reported in skipped")
        if attack == "deep_nesting" and len(project.codes) != len(codes) + kw["nest"]:
            problems.append(f"{len(project.codes)} codes read; {len(codes) + kw['nest']} written")
        return problems

    return Case("qdpx", attack, path, expect, error_ok, outside)


def make_qdc(rng: random.Random, folder: Path, attack: str, *, bomb_bytes: int) -> Case:
    names = [f"{rng.choice(WORDS)} {k}" for k in range(rng.randint(1, 6))]
    doctype, entity, nest = "", "", 0
    secret = folder / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    if attack == "billion_laughs":
        doctype, entity = billion_laughs()
    elif attack == "external_entity":
        doctype, entity = external_entity(secret)
    elif attack == "parameter_entity":
        doctype, entity = parameter_entity(secret)
    elif attack == "deep_nesting":
        nest = rng.choice([200, 3000, 20000])
    body = "".join(f'<Code guid="{_guid(rng)}" name="{n}{entity if k == 0 else ""}" isCodable="true"/>'
                   for k, n in enumerate(names))
    body += "".join(f'<Code guid="{_guid(rng)}" name="d{k}">' for k in range(nest)) + "</Code>" * nest
    xml = (f'<?xml version="1.0" encoding="utf-8"?>{doctype}<CodeBook xmlns="urn:QDA-XML:codebook:1.0" '
           f'origin="fuzz"><Codes>{body}</Codes></CodeBook>').encode()
    path = folder / "c.qdc"
    if attack == "zip_bomb":
        _zip(path, {"c.qdc": xml.replace(b"</CodeBook>", b"<!--" + b" " * bomb_bytes + b"--></CodeBook>")})
    elif attack == "not_a_project":
        path.write_bytes(rng.choice([b"<Nope/>", b"", b"PK\x03\x04junk", b"<CodeBook", b"\xff\xfe<\x00"]))
    else:
        if rng.random() < 0.3:
            _zip(path, {"codebook.qdc": xml})
        else:
            path.write_bytes(xml)
    if attack == "damaged":
        raw = bytearray(path.read_bytes())
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw[: rng.randrange(1, len(raw) + 1)]))

    def expect(project: Any) -> list[str]:
        problems = _refi_invariants(project, bomb_bytes)
        if attack in ("clean", "external_entity", "parameter_entity"):
            got = [c.name for c in project.codes]
            if attack == "clean" and got != names:
                problems.append(f"codes {got} != {names}")
        if attack == "deep_nesting" and len(project.codes) != len(names) + nest:
            problems.append(f"{len(project.codes)} codes read; {len(names) + nest} written")
        return problems

    return Case("qdc", attack, path, expect, attack != "clean")


def _refi_invariants(project: Any, bomb_bytes: int) -> list[str]:
    problems = []
    blob = [project.name, *(c.name for c in project.codes), *(s.text or "" for s in project.sources),
            *(n.text for n in project.notes)]
    if any(SECRET in b for b in blob):
        problems.append("read the external entity's file")
    if sum(len(b) for b in blob) > max(bomb_bytes, 10**6):
        problems.append(f"{sum(len(b) for b in blob)} characters read (an expansion or a bomb was accepted)")
    for s in project.sources:
        for x in s.selections:
            if s.text is not None and not 0 <= x.start <= x.end <= len(s.text):
                problems.append(f"selection [{x.start}, {x.end}) outside {s.name}")
    return problems


# ------------------------------------------------------------------ transcripts


def _expect_turns(turns: list[tuple[str, str]]) -> Callable[[Any], list[str]]:
    def expect(ingested: Any) -> list[str]:
        q = ingested.corpus.quotes
        problems = _transcript_invariants(ingested)
        got = list(zip(q["speaker_label"].astype(str), q["text"].astype(str), strict=True))
        want = [(s, t) for s, t in turns if s != "Interviewer"]
        if got != want:
            problems.append(f"units {got[:3]} != {want[:3]}")
        return problems

    return expect


def _transcript_invariants(ingested: Any) -> list[str]:
    q = ingested.corpus.quotes
    texts = {d.name: d.text for d in ingested.sources}
    bad = [r.quote_id for r in q.itertuples() if texts[r.source][r.start:r.end] != r.text]
    return [f"{len(bad)} units whose text is not their source's [start:end]"] if bad else []


def _merge(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for s, t in turns:
        if out and out[-1][0] == s:
            out[-1] = (s, out[-1][1] + " " + t)
        else:
            out.append((s, t))
    return out


def _clean_sentence(rng: random.Random) -> str:
    return " ".join(rng.choice([w for w in WORDS if w not in ("—",)]) for _ in range(rng.randint(2, 9))) + "."


TRANSCRIPT_ATTACKS = ("clean", "damaged", "long_line", "markup_soup")
ATTACKS = {"qdpx": REFI_ATTACKS, "qdc": REFI_ATTACKS, "docx": None, "odt": None, "vtt": TRANSCRIPT_ATTACKS,
           "srt": TRANSCRIPT_ATTACKS, "txt": TRANSCRIPT_ATTACKS}
ZIPDOC_ATTACKS = ("clean", "billion_laughs", "external_entity", "deep_nesting", "zip_bomb", "zip_slip", "damaged",
                  "not_a_package")
ATTACKS["docx"] = ATTACKS["odt"] = ZIPDOC_ATTACKS
ATTACKS["qdc"] = tuple(a for a in REFI_ATTACKS if a not in ("zip_slip", "wrong_offsets"))  # a codebook has no sources


def _docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _odt_bytes(paragraphs: list[str]) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    d = OpenDocumentText()
    for p in paragraphs:
        d.text.addElement(P(text=p))
    buf = io.BytesIO()
    d.write(buf)
    return buf.getvalue()


def _rezip(raw: bytes, edit: Callable[[str, bytes], bytes], extra: dict[str, bytes] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(raw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, edit(info.filename, src.read(info.filename)))
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return buf.getvalue()


def make_zipdoc(rng: random.Random, folder: Path, attack: str, fmt: str, *, bomb_bytes: int) -> Case:
    turns = [(s, _clean_sentence(rng)) for s, _ in _turns(rng)]
    raw = (_docx_bytes if fmt == "docx" else _odt_bytes)([f"{s}: {t}" for s, t in turns])
    main = "word/document.xml" if fmt == "docx" else "content.xml"
    secret = folder / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    outside = None

    def inject(doctype: str, entity: str) -> Callable[[str, bytes], bytes]:
        def edit(name: str, data: bytes) -> bytes:
            if name != main:
                return data
            head, _, rest = data.partition(b"?>")
            body = rest.replace(b"</w:t>" if fmt == "docx" else b"</text:p>", entity.encode() +
                                (b"</w:t>" if fmt == "docx" else b"</text:p>"), 1)
            return head + b"?>" + doctype.encode() + body
        return edit

    if attack == "billion_laughs":
        raw = _rezip(raw, inject(*billion_laughs()))
    elif attack == "external_entity":
        raw = _rezip(raw, inject(*external_entity(secret)))
    elif attack == "deep_nesting":
        n = rng.choice([500, 5000, 50000])
        tag = b"w:r" if fmt == "docx" else b"text:span"
        raw = _rezip(raw, lambda name, data: data.replace(
            b"</w:p>" if fmt == "docx" else b"</text:p>",
            (b"<" + tag + b">") * n + (b"</" + tag + b">") * n + (b"</w:p>" if fmt == "docx" else b"</text:p>"), 1)
            if name == main else data)
    elif attack == "zip_bomb":
        raw = _rezip(raw, lambda name, data: data.replace(b"?>", b"?><!--" + b" " * bomb_bytes + b"-->", 1)
                     if name == main else data)
    elif attack == "zip_slip":
        outside = folder.parent / f"slip_{rng.getrandbits(32):08x}.txt"
        raw = _rezip(raw, lambda name, data: data, {f"../../{outside.name}": b"evil", f"/{outside.name}": b"evil"})
    elif attack == "damaged":
        b = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        raw = bytes(b[: rng.randrange(1, len(b) + 1)]) if rng.random() < 0.5 else bytes(b)
    elif attack == "not_a_package":
        raw = rng.choice([b"", b"PK", b"\x00" * 10, b"Anne: hello", b"PK\x03\x04" + bytes(40)])
    path = folder / f"t.{fmt}"
    path.write_bytes(raw)
    return Case(fmt, attack, path, _expect_turns(turns) if attack in ("clean", "zip_slip") else _transcript_invariants,
                attack not in ("clean", "zip_slip"), outside)


def make_subtitles(rng: random.Random, folder: Path, attack: str, fmt: str) -> Case:
    turns = [(s, _clean_sentence(rng)) for s, _ in _turns(rng) for _ in range(rng.randint(1, 2))]
    lines = ["WEBVTT", ""] if fmt == "vtt" else []
    for k, (s, t) in enumerate(turns):
        a, b = k * 3, k * 3 + 2
        sep = "." if fmt == "vtt" else ","
        lines += ([str(k + 1)] if fmt == "srt" or rng.random() < 0.3 else [])
        lines += [f"00:00:{a:02d}{sep}000 --> 00:00:{b:02d}{sep}500",
                  f"<v {s}>{t}</v>" if fmt == "vtt" and rng.random() < 0.6 else f"{s}: {t}", ""]
    text = rng.choice(["\n", "\r\n"]).join(lines)
    raw = text.encode("utf-8")
    raw, expect, error_ok = _text_attack(rng, attack, raw, _expect_turns(_merge(turns)))
    path = folder / f"t.{fmt}"
    path.write_bytes(raw)
    return Case(fmt, attack, path, expect, error_ok)


def _text_attack(rng: random.Random, attack: str, raw: bytes, clean: Callable[[Any], list[str]]
                 ) -> tuple[bytes, Callable[[Any], list[str]], bool]:
    if attack == "clean":
        return raw, clean, False
    if attack == "damaged":
        b = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            i = rng.randrange(len(b) + 1)
            if op < 0.4 and b:
                b[min(i, len(b) - 1)] = rng.randrange(256)
            elif op < 0.7:
                b[i:i] = rng.choice([b"\x00", b"\xef\xbb\xbf", b"\r", b"-->", b"<v ", b":", b"\xff", b"\n\n"])
            else:
                del b[i:i + rng.randint(1, 20)]
        if rng.random() < 0.1:
            b = bytearray(b.decode("utf-8", "replace").encode("utf-16"))
        return bytes(b), _transcript_invariants, True
    if attack == "long_line":  # the turn rules' regular expressions against pathological lines
        unit = rng.choice([b"a:", b" ", b"a ", b"[", b"**", b"(", b"0:00 ", b"<v a", b"a" * 63 + b" :", b"\t:"])
        return raw + b"\n\n" + unit * rng.choice([2000, 20000, 100000]), _transcript_invariants, True
    if attack == "markup_soup":
        soup = b"".join(rng.choice([b"<v ", b"<b>", b"</v>", b"&amp;", b"-->", b"**", b"[x]", b"#", b"..", b"\n"])
                        for _ in range(rng.randint(50, 2000)))
        return raw + b"\n\n" + soup, _transcript_invariants, True
    raise ValueError(attack)


def make_txt(rng: random.Random, folder: Path, attack: str) -> Case:
    turns = _turns(rng)
    nl = rng.choice(["\n", "\r\n"])
    text = (nl + nl).join(f"{s}: {t}" for s, t in turns)
    raw = rng.choice([b"", b"\xef\xbb\xbf"]) + text.encode("utf-8")
    clean = [(s, t.strip()) for s, t in turns]
    raw, expect, error_ok = _text_attack(rng, attack, raw, _expect_turns(clean))
    path = folder / "t.txt"
    path.write_bytes(raw)
    return Case("txt", attack, path, expect, error_ok)


def _refused(_: Any) -> list[str]:
    return ["a member larger than MAX_MEMBER_BYTES was read (zip bomb)"]


def make_case(rng: random.Random, folder: Path, fmt: str, attack: str | None = None, *,
              bomb_bytes: int = 2**20) -> Case:
    """One generated file of ``fmt``: ``attack`` (default: drawn, 40% of them clean).

    A ``zip_bomb`` member holds ``bomb_bytes``: the campaign sets ``refi_qda.MAX_MEMBER_BYTES`` below it, so
    the only right outcome is a typed error.
    """
    case = _make(rng, folder, fmt, attack, bomb_bytes)
    if case.kind == "zip_bomb":
        case.expect = _refused
    return case


def _make(rng: random.Random, folder: Path, fmt: str, attack: str | None, bomb_bytes: int) -> Case:
    attacks = ATTACKS[fmt]
    if attack is None:
        attack = "clean" if rng.random() < 0.4 else rng.choice(attacks[1:])
    if fmt == "qdpx":
        return make_qdpx(rng, folder, attack, bomb_bytes=bomb_bytes)
    if fmt == "qdc":
        return make_qdc(rng, folder, attack, bomb_bytes=bomb_bytes)
    if fmt in ("docx", "odt"):
        return make_zipdoc(rng, folder, attack, fmt, bomb_bytes=bomb_bytes)
    if fmt in ("vtt", "srt"):
        return make_subtitles(rng, folder, attack, fmt)
    return make_txt(rng, folder, attack)


def load(case: Case) -> Any:
    """The loader a user would call: ``ingest`` for projects and transcripts, ``read_qdc`` for codebooks."""
    from stakeholder_nlp.corpus.ingest import ingest
    from stakeholder_nlp.corpus.refi_qda import read_qdc, read_qdpx

    if case.fmt == "qdc":
        return read_qdc(case.path)
    if case.fmt == "qdpx":
        project = read_qdpx(case.path)
        if any(s.text and s.text.strip() for s in project.sources):
            ingest([case.path], default_wave=1)  # the same file through ingest: must not fail untyped either
        return project
    return ingest([case.path], default_wave=1, drop_speakers=["Interviewer"])


def classify(case: Case, *, time_limit: float = 5.0) -> tuple[str, str]:
    """(outcome, detail) of loading ``case`` (see the module docstring)."""
    from stakeholder_nlp.errors import CorpusFormatError

    t0 = time.perf_counter()
    try:
        result = load(case)
    except CorpusFormatError as exc:
        outcome, detail = ("typed", "") if case.error_ok else ("wrong", f"error on a clean file: {exc}")
    except Exception as exc:  # noqa: BLE001 - what the campaign counts
        outcome, detail = "untyped", f"{type(exc).__name__}: {str(exc)[:300]}"
    else:
        problems = case.expect(result) if case.expect else []
        outcome, detail = ("wrong", "; ".join(problems)[:400]) if problems else ("correct", "")
    seconds = time.perf_counter() - t0
    if case.outside is not None and case.outside.exists():
        case.outside.unlink()
        outcome, detail = "wrong", f"wrote {case.outside} outside the folder (zip-slip)"
    if seconds > time_limit and outcome != "untyped":
        outcome, detail = "hang", f"{seconds:.1f}s ({outcome}) {detail}"
    return outcome, detail
