"""REFI-QDA import: the shared samples (read in place), lenient reading of deviant exports, codebooks."""

from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path

import pytest

from stakeholder_nlp.corpus.ingest import ingest
from stakeholder_nlp.corpus.refi_qda import codebook_toml, read_qdc, read_qdpx, read_refi
from stakeholder_nlp.errors import CorpusFormatError

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "refi_qda_samples"
needs_samples = pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/data/refi_qda_samples not present")

G = "{:08d}-0000-4000-8000-000000000000".format

PROJECT = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="tiny" origin="hand">
  <CodeBook><Codes>
    <Code guid="{G(1)}" name="Access" isCodable="false" color="#ff0000">
      <Description>Getting to data</Description>
      <Code guid="{G(2)}" name="Extraction" isCodable="true"><NoteRef targetGUID="{G(90)}"/></Code>
    </Code>
    <Code guid="{G(3)}" name="Staff" isCodable="true"/>
  </Codes></CodeBook>
  <Variables><Variable guid="{G(40)}" name="wave" typeOfVariable="Integer"/>
             <Variable guid="{G(41)}" name="site" typeOfVariable="Text"/></Variables>
  <Cases><Case guid="{G(50)}" name="Nurse A">
    <VariableValue><VariableRef targetGUID="{G(40)}"/><IntegerValue>2023</IntegerValue></VariableValue>
    <VariableValue><VariableRef targetGUID="{G(41)}"/><TextValue>North</TextValue></VariableValue>
    <SourceRef targetGUID="{G(10)}"/></Case></Cases>
  <Sources>
    <TextSource guid="{G(10)}" plainTextPath="interview.txt">
      <PlainTextSelection guid="{G(20)}" startPosition="3" endPosition="14">
        <Coding guid="{G(30)}"><CodeRef targetGUID="{G(2)}"/></Coding>
        <Coding guid="{G(31)}"><CodeRef targetGUID="{G(3)}"/></Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="{G(11)}" name="lost.txt" plainTextPath="internal://{G(11)}.txt"/>
    <PDFSource guid="{G(12)}" name="paper.pdf" path="internal://{G(12)}.pdf"/>
  </Sources>
  <Notes><Note guid="{G(90)}" name="memo"><PlainTextContent>we cannot get the data out</PlainTextContent></Note></Notes>
</Project>"""


def _qdpx(path: Path, xml: str, members: dict[str, str], qde: str = "Project.qde") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(qde, xml)
        for name, text in members.items():
            zf.writestr(name, text.encode("utf-8"))
    return path


def test_lenient_reader_reports_what_it_skipped(tmp_path):
    p = _qdpx(tmp_path / "t.qdpx", PROJECT, {"Sources/interview.txt": "\ufeffI: Ça marche 😀 ok\r\nR: yes"})
    proj = read_qdpx(p)
    assert proj.name == "tiny" and proj.origin == "hand"
    assert [c.name for c in proj.codes] == ["Access", "Extraction", "Staff"]
    assert proj.code_path(G(2)) == "Access/Extraction" and proj.depth() == 2
    assert proj.codes[0].description == "Getting to data" and not proj.codes[0].codable
    src = proj.sources[0]
    assert src.name == "interview.txt" and src.text == "I: Ça marche 😀 ok\r\nR: yes"
    assert src.text[3:14] == "Ça marche 😀"  # code points: the emoji is one
    assert [(s.start, s.end, s.codes) for s in src.selections] == [(3, 14, (G(2), G(3)))]
    assert proj.sources[1].text is None
    assert proj.cases[0].variables == {"wave": 2023, "site": "North"}
    assert proj.codes[1].notes == (G(90),) and proj.notes[0].text == "we cannot get the data out"
    skipped = " | ".join(proj.skipped)
    assert "lost.txt" in skipped and "not in the archive" in skipped and "PDFSource" in skipped
    assert "Project.qde" in skipped  # the spec says project.qde


def test_project_cases_give_speaker_wave_and_attributes_and_codings_give_codes(tmp_path):
    p = _qdpx(tmp_path / "t.qdpx", PROJECT, {"sources/interview.txt": "Ça marche 😀 bien.\n\nEncore."})
    res = ingest([p], unit="turn")
    q = res.corpus.quotes
    assert q["speaker"].tolist() == ["Nurse A"] and q["wave"].tolist() == [2023] and q["site"].tolist() == ["North"]
    assert list(q["codes"].iloc[0]) == ["Extraction", "Staff"]
    from stakeholder_nlp.corpus.manifest import parse_manifest

    m = parse_manifest("file,wave,speaker,speaker_id,team\nt.qdpx,,,,red\ninterview.txt,2025,Nurse A,N-1,\n")
    q2 = ingest([p], m).corpus.quotes
    assert (q2["wave"].tolist(), q2["team"].tolist()) == ([2023], ["red"])  # a speaker row sets no wave
    res = ingest([p], unit="codings")
    q = res.corpus.quotes
    assert q["text"].tolist() == ["marche 😀 bi"] and (q["start"].iloc[0], q["end"].iloc[0]) == (3, 14)
    assert any("lost.txt" in n for n in res.notes)


def test_codebook_toml_from_codes_parses_as_a_codebook(tmp_path):
    from stakeholder_nlp.themes.codebook import parse_codebook

    p = _qdpx(tmp_path / "t.qdpx", PROJECT, {})
    book = parse_codebook(codebook_toml(read_qdpx(p)))
    assert [(t.id, t.name) for t in book.themes] == [("extraction", "Access/Extraction"), ("staff", "Staff")]
    assert book.themes[0].examples == ("we cannot get the data out",)
    assert book.themes[1].description == "Staff" and book.themes[1].human_codes == ("Staff",)


def test_qdc_codebook_and_bad_files(tmp_path):
    qdc = tmp_path / "c.qdc"
    qdc.write_text(f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="{G(1)}" name="A" '
                   f'isCodable="true"><Description>alpha "quoted"</Description></Code></Codes></CodeBook>')
    proj = read_refi(qdc)
    assert [(c.name, c.description) for c in proj.codes] == [("A", 'alpha "quoted"')]
    assert read_qdc(qdc).codes == proj.codes
    (tmp_path / "x.qdpx").write_text("not a zip")
    with pytest.raises(CorpusFormatError, match="not a zip"):
        read_qdpx(tmp_path / "x.qdpx")
    with pytest.raises(CorpusFormatError, match="no .qde"):
        read_qdpx(_qdpx(tmp_path / "y.qdpx", "", {}, qde="readme.txt"))
    with pytest.raises(CorpusFormatError, match="does not parse"):
        read_qdpx(_qdpx(tmp_path / "z.qdpx", "<Project", {}))


@needs_samples
def test_qc_coded_sample_imports_codes_sources_and_codings():
    proj = read_qdpx(SAMPLES / "qc132_demo_coded.qdpx")
    s = proj.summary()
    assert (s["codes"], s["code_depth"], s["text_sources_with_text"], s["selections"], s["codings"]) == \
        (262, 7, 2, 158, 205)
    assert sorted(x.name for x in proj.sources) == ["admin-1.txt", "board_2017.txt"]  # no name attribute
    assert proj.skipped == ()
    from stakeholder_nlp.themes.codebook import parse_codebook

    book = parse_codebook(codebook_toml(proj))
    assert len(book.themes) == 262 and len(set(book.ids)) == 262
    res = ingest([SAMPLES / "qc132_demo_coded.qdpx"], unit="codings", default_wave=1)
    assert len(res.corpus) == 158 and sum(len(c) for c in res.corpus.quotes["codes"]) == 205


@needs_samples
def test_nvivo_codebook_export_imports_deep_codebook_and_empty_sources():
    proj = read_qdpx(SAMPLES / "nvivo15mac_codebook_export.qdpx")
    s = proj.summary()
    assert (s["codes"], s["code_depth"], s["text_sources"], s["selections"]) == (262, 7, 2, 0)
    assert all(x.text is not None and not x.text.strip() for x in proj.sources)
    res = ingest([SAMPLES / "nvivo15mac_codebook_export.qdpx"], default_wave=1)
    assert len(res.corpus) == 0 and sum("is empty" in n for n in res.notes) == 2


@needs_samples
def test_atlas_sample_imports_codes_and_says_every_source_is_missing():
    proj = read_qdpx(SAMPLES / "atlasti84_refi_standard_project.qdpx")
    s = proj.summary()
    assert (s["codes"], s["text_sources"], s["text_sources_with_text"], s["notes"], s["users"]) == (14, 6, 0, 2, 3)
    assert "Mabêl 2ième.txt" in [unicodedata.normalize("NFC", x.name) for x in proj.sources]  # stored NFD
    skipped = " | ".join(proj.skipped)
    assert skipped.count("not in the archive") == 6
    assert all(k in skipped for k in ("PDFSource", "PictureSource", "AudioSource", "VideoSource"))
    assert "Project.qde" in skipped


# ------------------------------------------------------------------ hostile files (found by the fuzz campaign)


def test_a_code_tree_thousands_of_levels_deep_reads_without_recursion(tmp_path):
    """The code tree was read recursively: 3,000 nested Codes raised RecursionError (an untyped crash)."""
    n = 5000
    codes = "".join(f'<Code guid="{G(k)}" name="c{k}">' for k in range(n)) + "</Code>" * n
    xml = f'<Project xmlns="urn:QDA-XML:project:1.0" name="deep"><CodeBook><Codes>{codes}</Codes></CodeBook></Project>'
    p = read_qdpx(_qdpx(tmp_path / "deep.qdpx", xml, {}))
    assert len(p.codes) == n and p.codes[-1].parent == G(n - 2) and p.depth() == n
    assert [c.name for c in p.codes[:3]] == ["c0", "c1", "c2"]  # document order


def test_a_damaged_archive_member_is_a_typed_error(tmp_path):
    """A bad CRC in a source member escaped as zipfile.BadZipFile."""
    p = _qdpx(tmp_path / "t.qdpx", PROJECT, {"sources/interview.txt": "I: Ça marche 😀 ok\r\nR: yes" * 50})
    raw = bytearray(p.read_bytes())
    at = raw.index(b"sources/interview.txt") + len("sources/interview.txt") + 5  # inside the member's data
    raw[at] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(CorpusFormatError, match="cannot be read"):
        read_qdpx(p)


def test_an_archive_member_over_the_size_cap_is_refused_unread(tmp_path, monkeypatch):
    """A zip bomb: the declared size of a member is checked before anything is decompressed."""
    from stakeholder_nlp.corpus import refi_qda

    monkeypatch.setattr(refi_qda, "MAX_MEMBER_BYTES", 1000)
    p = _qdpx(tmp_path / "t.qdpx", PROJECT, {"sources/interview.txt": "x" * 5000})
    with zipfile.ZipFile(p, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sources/other.txt", b"\0" * 10_000)
    with pytest.raises(CorpusFormatError, match="zip bomb"):
        read_qdpx(p)
    (tmp_path / "c.qdc").write_bytes(b"<CodeBook/>" + b" " * 2000)
    with pytest.raises(CorpusFormatError, match="more than"):
        read_qdc(tmp_path / "c.qdc")
    (tmp_path / "p.qde").write_bytes(b"<Project/>" + b" " * 2000)
    with pytest.raises(CorpusFormatError, match="more than"):
        read_qdpx(tmp_path / "p.qde")


def test_a_codebook_that_starts_like_a_zip_but_is_not_one_is_a_typed_error(tmp_path):
    (tmp_path / "c.qdc").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorpusFormatError, match="not a readable zip"):
        read_qdc(tmp_path / "c.qdc")


def test_entity_bombs_are_refused_and_external_entities_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET", encoding="utf-8")
    lol = ['<!ENTITY l0 "lol">'] + ['<!ENTITY l{} "{}">'.format(i, f"&l{i - 1};" * 10) for i in range(1, 10)]
    bomb = f'<!DOCTYPE r [{"".join(lol)}]><Project xmlns="urn:QDA-XML:project:1.0" name="&l9;"/>'
    with pytest.raises(CorpusFormatError, match="does not parse"):
        read_qdpx(_qdpx(tmp_path / "b.qdpx", bomb, {}))
    ext = (f'<!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
           '<Project xmlns="urn:QDA-XML:project:1.0" name="&x;"/>')
    with pytest.raises(CorpusFormatError, match="does not parse"):
        read_qdpx(_qdpx(tmp_path / "e.qdpx", ext, {}))
    par = (f'<!DOCTYPE r [<!ENTITY % x SYSTEM "{secret.as_uri()}"> %x;]>'
           '<Project xmlns="urn:QDA-XML:project:1.0" name="p"/>')
    assert read_qdpx(_qdpx(tmp_path / "p.qdpx", par, {})).name == "p"  # the parameter entity is not fetched


def test_member_names_that_climb_out_are_only_read_never_extracted(tmp_path):
    xml = PROJECT.replace('plainTextPath="interview.txt"', 'plainTextPath="internal://../../../evil.txt"')
    p = _qdpx(tmp_path / "t.qdpx", xml, {"../../../evil.txt": "I: in the archive", "/abs.txt": "x"})
    before = set(tmp_path.parent.iterdir())
    src = read_qdpx(p).sources[0]
    assert src.text == "I: in the archive" and set(tmp_path.parent.iterdir()) == before
