"""REFI-QDA export: schema-valid projects that re-import identically (non-ASCII, CRLF, emoji offsets)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from stakeholder_nlp.corpus.ingest import ingest
from stakeholder_nlp.corpus.refi_qda import (
    NS,
    RefiCase,
    RefiCode,
    RefiNote,
    RefiProject,
    RefiSelection,
    RefiSource,
    read_qdpx,
)
from stakeholder_nlp.report.qdpx import (
    EMERGENT_PARENT,
    QdpxValidationError,
    analysis_project,
    export_analysis,
    guid,
    lf_text,
    project_xml,
    validate_project_xml,
    write_qdpx,
)

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "refi_qda_samples"

TEXT = "Intervieweuse: Ça va ? 😀\r\n\r\nRésidente: Très bien 👍🏽, merci… 東京\r\nFin.\r\n"
LF = TEXT.replace("\r\n", "\n")  # what the .qdpx holds (see test_sources_are_written_with_lf_line_endings...)


def _project() -> RefiProject:
    a, b, c = guid("c", 1), guid("c", 2), guid("c", 3)
    s1 = TEXT.index("Très")
    sels = (RefiSelection(guid("s", 1), s1, s1 + len("Très bien 👍🏽"), (b,), "sel 1", guid("u")),
            RefiSelection(guid("s", 2), TEXT.index("東京"), TEXT.index("東京") + 2, (b, c)))
    return RefiProject(
        "Projet été 😀", (RefiCode(a, "Accès", None, "Getting to data\nline two", "#aabbcc", False),
                         RefiCode(b, "Émotions 👍", a, "", None, True), RefiCode(c, "Lieu", None, "place")),
        (RefiSource(guid("src"), "entretien é.txt", TEXT, sels, None, {"wave": 2023}),),
        (RefiCase(guid("case"), "Résidente", {"wave": 2023, "site": "Nord", "age": 71, "score": 0.5,
                                               "consent": True}, (guid("src"),), (guid("s", 1),)),),
        (RefiNote(guid("n"), "mémo", "note ✓"),), ((guid("u"), "anne"),), "test")


def test_written_project_validates_and_reimports_identically(tmp_path):
    proj = _project()
    xml, members = project_xml(proj)
    assert validate_project_xml(xml) == []
    out = write_qdpx(proj, tmp_path / "p.qdpx", line_endings="keep")
    back = read_qdpx(out)
    assert back.skipped == ()
    assert back.codes == proj.codes
    assert [(s.name, s.text, s.selections, s.variables) for s in back.sources] == \
        [(s.name, s.text, s.selections, s.variables) for s in proj.sources]
    # the cases' 'wave' is also a sources' variable: written as 'wave (case)' (see the test below)
    assert back.cases == tuple(replace(c, variables={("wave (case)" if k == "wave" else k): v
                                                      for k, v in c.variables.items()}) for c in proj.cases)
    assert back.notes == proj.notes and back.name == proj.name
    src = back.sources[0]
    assert [src.text[x.start:x.end] for x in src.selections] == ["Très bien 👍🏽", "東京"]
    (tmp_path / "ref").write_text("x")
    assert out.stat().st_mode & 0o777 == (tmp_path / "ref").stat().st_mode & 0o777  # as readable as any new file
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(["project.qde", f"sources/{guid('n')}.txt", f"sources/{guid('src')}.txt"])
        assert zf.read(f"sources/{guid('src')}.txt") == TEXT.encode("utf-8")  # CRLF kept (as asked), no BOM


def test_sources_are_written_with_lf_line_endings_and_offsets_move_with_them(tmp_path):
    """QualCoder (a real importer) reads a CRLF source with universal newlines and pads every line by a
    space to keep CRLF offsets; ATLAS.ti counts a CRLF as one character: only LF text is read the same way by
    both. Lone CRs become LF too; segment texts are the originals with LF line endings."""
    proj = _project()
    text = "A: one\r\ntwo\rthree 😀\r\n\r\nB: é\r\nfin"
    sels = tuple(RefiSelection(guid("s", k), text.index(a), text.index(a) + len(a), (guid("c", 2),))
                 for k, a in enumerate(["one\r\ntwo\rthree 😀", "é\r\nfin", "fin", "A"]))
    src = RefiSource(guid("src"), "x.txt", text, sels)
    out = write_qdpx(replace(proj, sources=(src,), cases=()), tmp_path / "p.qdpx")
    with zipfile.ZipFile(out) as zf:
        raw = zf.read(f"sources/{guid('src')}.txt").decode("utf-8")
    assert "\r" not in raw and raw == "A: one\ntwo\nthree 😀\n\nB: é\nfin"
    back = read_qdpx(out).sources[0]
    assert back.text == raw
    assert [back.text[x.start:x.end] for x in back.selections] == ["one\ntwo\nthree 😀", "é\nfin", "fin", "A"]
    move = lf_text("ab\r\ncd")[1]
    assert [move(i) for i in range(6)] == [0, 1, 2, 2, 3, 4]  # an offset inside a CRLF lands on its LF


def test_notes_are_files_with_a_creation_time_so_qualcoder_imports_them(tmp_path):
    """QualCoder's importer crashed on a Note without creationDateTime (every analysis export has one: the
    shift note) and imports a note as a journal only from its plainTextPath."""
    proj = replace(_project(), created="2026-12-07T03:04:06Z")
    out = write_qdpx(proj, tmp_path / "p.qdpx")
    with zipfile.ZipFile(out) as zf:
        root = ET.fromstring(zf.read("project.qde"))
        assert zf.read(f"sources/{guid('n')}.txt").decode("utf-8") == "note ✓"
        assert {i.date_time for i in zf.infolist()} == {(2026, 12, 7, 3, 4, 6)}
    (note,) = root.iter(f"{{{NS}}}Note")
    assert note.get("creationDateTime") == "2026-12-07T03:04:06Z" and note.get("creatingUser") == guid("u")
    assert note.get("plainTextPath") == f"internal://{guid('n')}.txt" and len(note) == 0
    assert root.get("creationDateTime") == "2026-12-07T03:04:06Z"
    assert read_qdpx(out).notes == proj.notes
    again = write_qdpx(proj, tmp_path / "q.qdpx")
    assert again.read_bytes() == out.read_bytes()  # a fixed creation time: the same bytes


def test_a_variable_of_both_cases_and_sources_becomes_two_variables(tmp_path):
    """QualCoder keeps one kind (case or file) per attribute name: a 'wave' of cases and of sources made the
    sources' waves vanish from its file attributes."""
    out = write_qdpx(_project(), tmp_path / "p.qdpx")
    with zipfile.ZipFile(out) as zf:
        root = ET.fromstring(zf.read("project.qde"))
    names = sorted(v.get("name") for v in root.iter(f"{{{NS}}}Variable"))
    assert names == ["age", "consent", "score", "site", "wave", "wave (case)"]
    back = read_qdpx(out)
    assert back.sources[0].variables == {"wave": 2023}
    assert back.cases[0].variables["wave (case)"] == 2023 and "wave" not in back.cases[0].variables


def test_added_codes_get_names_unique_in_the_whole_project():
    """QualCoder keeps one code per name; a second code of that name loses its codings."""
    base = RefiProject("b", (RefiCode(guid("p"), "Parent", None, "", None, False),
                             RefiCode(guid("k"), "Data access", guid("p")),
                             RefiCode(guid("e"), EMERGENT_PARENT)))
    themes = pd.DataFrame({"theme_id": ["data", "t0", "t1"], "label": ["Data access", "rota", "rota"],
                           "kind": ["codebook", "topic", "topic"], "terms": [[], [], []]})
    quotes = pd.DataFrame({"quote_id": ["q1"], "text": ["x"], "speaker": ["s"], "wave": [1], "source": [None]})
    proj, _ = analysis_project(quotes, themes, pd.DataFrame({"data": [True], "t0": [True], "t1": [True]}), base=base)
    names = [c.name for c in proj.codes]
    assert len(names) == len(set(names))
    assert names[3:] == ["Data access (stakeholder-nlp)", f"{EMERGENT_PARENT} (stakeholder-nlp)", "rota",
                         "rota (stakeholder-nlp)"]


def test_invalid_project_is_refused_before_anything_is_written(tmp_path):
    bad = RefiProject("p", (RefiCode(guid("c"), "A", None, "", "red", True),))
    with pytest.raises(QdpxValidationError, match="schema"):
        write_qdpx(bad, tmp_path / "bad.qdpx")
    assert not list(tmp_path.iterdir())


def _themes():
    themes = pd.DataFrame({"theme_id": ["data", "topic_0"], "label": ["Data access", "rota / staff"],
                           "kind": ["codebook", "topic"], "n_quotes": [2, 1], "terms": [[], ["rota", "staff"]],
                           "representative": [[0], [1]]})
    return themes


def test_quote_table_becomes_one_source_per_speaker(tmp_path):
    quotes = pd.DataFrame({"quote_id": ["q1", "q2", "q3"], "text": ["Data is poor 😀", "Rota é", "Data again"],
                           "speaker": ["s1", "s2", "s1"], "wave": [2020, 2021, 2021], "source": [None] * 3,
                           "codes": [()] * 3, "role": ["gp", "nurse", "gp"]})
    member = pd.DataFrame({"data": [True, False, True], "topic_0": [False, True, True]})
    proj, notes = analysis_project(quotes, _themes(), member, descriptions={"data": "Data hard to get"},
                                   shift_sentences=["Data access rose."])
    assert "one text source per speaker" in notes[0]
    write_qdpx(proj, tmp_path / "t.qdpx")
    back = read_qdpx(tmp_path / "t.qdpx")
    src = {s.name: s for s in back.sources}
    assert src["s1.txt"].text == "Data is poor 😀\n\nData again" and src["s2.txt"].text == "Rota é"
    code_name = {c.guid: c.name for c in back.codes}
    got = sorted((s.name, s.text[x.start:x.end], tuple(sorted(code_name[g] for g in x.codes)))
                 for s in back.sources for x in s.selections)
    assert got == [("s1.txt", "Data again", ("Data access", "rota / staff")),
                   ("s1.txt", "Data is poor 😀", ("Data access",)), ("s2.txt", "Rota é", ("rota / staff",))]
    parent = next(c for c in back.codes if c.name == EMERGENT_PARENT)
    assert next(c for c in back.codes if c.name == "rota / staff").parent == parent.guid and not parent.codable
    assert next(c for c in back.codes if c.name == "Data access").description == "Data hard to get"
    cases = {c.name: c for c in back.cases}
    assert cases["s1"].variables == {"wave (case)": "2020; 2021", "role": "gp"}  # one type per variable
    assert cases["s2"].variables["wave (case)"] == "2021"
    assert back.notes[0].text == "Data access rose."


def test_ingested_transcripts_keep_their_text_and_offsets(tmp_path):
    (tmp_path / "a.txt").write_bytes(TEXT.encode("utf-8"))
    res = ingest([tmp_path / "a.txt"], default_wave="w1", drop_speakers=["Intervieweuse"], unit="sentences",
                 window_words=2)
    q = res.corpus.quotes
    member = pd.DataFrame({"data": [True] * len(q), "topic_0": [False] * len(q)})
    proj, notes = analysis_project(q, _themes(), member, sources={d.name: d.text for d in res.sources})
    assert notes == ()
    write_qdpx(proj, tmp_path / "x.qdpx")
    back = read_qdpx(tmp_path / "x.qdpx")
    (src,) = back.sources
    assert src.text == LF and src.variables == {"wave": "w1"}
    assert [src.text[x.start:x.end] for x in src.selections] == [t.replace("\r\n", "\n") for t in q["text"]]
    move = lf_text(TEXT)[1]
    assert [(x.start, x.end) for x in src.selections] == [(move(a), move(b)) for a, b in zip(q["start"], q["end"],
                                                                                              strict=True)]


def test_import_export_import_keeps_the_input_projects_codes_and_codings(tmp_path):
    from tests.corpus.test_refi_qda import PROJECT, _qdpx

    p = _qdpx(tmp_path / "in.qdpx", PROJECT, {"sources/interview.txt": "I: Ça marche 😀 ok\r\nR: yes"})
    first = read_qdpx(p)
    res = ingest([p])
    q = res.corpus.quotes
    member = pd.DataFrame({"data": [True] * len(q), "topic_0": [False] * len(q)})
    proj, _ = analysis_project(q, _themes(), member, base=first)
    write_qdpx(proj, tmp_path / "out.qdpx")
    again = read_qdpx(tmp_path / "out.qdpx")
    assert again.codes[:len(first.codes)] == first.codes
    src = next(s for s in again.sources if s.name == "interview.txt")
    orig = next(s for s in first.sources if s.name == "interview.txt")
    assert src.text == orig.text.replace("\r\n", "\n")
    assert [src.text[x.start:x.end] for x in src.selections[:len(orig.selections)]] == \
        [orig.text[x.start:x.end].replace("\r\n", "\n") for x in orig.selections]
    assert [x.codes for x in src.selections[:len(orig.selections)]] == [x.codes for x in orig.selections]
    assert any("had no text" in n for n in _)


@pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/data/refi_qda_samples not present")
def test_qc_sample_round_trip_through_an_analysis_export(tmp_path):
    first = read_qdpx(SAMPLES / "qc132_demo_coded.qdpx")
    res = ingest([SAMPLES / "qc132_demo_coded.qdpx"], default_wave=1)
    q = res.corpus.quotes
    member = pd.DataFrame({"data": [i % 2 == 0 for i in range(len(q))], "topic_0": [i % 3 == 0 for i in range(len(q))]})
    result = SimpleNamespace(corpus=res.corpus, themes=SimpleNamespace(themes=_themes(), membership=member),
                             shifts=pd.DataFrame({"sentence": ["A rose.", None]}))
    summary = export_analysis(result, tmp_path / "qc.qdpx", base=first)
    again = read_qdpx(tmp_path / "qc.qdpx")
    assert again.codes[:262] == first.codes and len(again.codes) == 262 + 3
    for orig in first.sources:
        s = next(x for x in again.sources if x.name == orig.name)
        assert s.text == orig.text and s.selections[:len(orig.selections)] == orig.selections
    assert summary.codings == 205 + int(member.to_numpy().sum())
    assert again.notes[-1].text == "A rose."


def test_cli_reads_a_project_as_input_and_as_codebook_and_exports_with_its_sources(tmp_path):
    from stakeholder_nlp.cli import _codebook, _load
    from stakeholder_nlp.cli.ingest import export_qdpx, write_ingested
    from tests.corpus.test_refi_qda import PROJECT, _qdpx

    p = _qdpx(tmp_path / "in.qdpx", PROJECT, {"sources/interview.txt": "I: Ça marche 😀 ok\r\nR: yes"})
    corpus = _load(p, "text", "wave", "speaker")
    assert corpus.quotes["wave"].tolist() == [2023, 2023] and corpus.quotes["speaker"].tolist() == ["I", "R"]
    assert [t.name for t in _codebook(p).themes] == ["Access/Extraction", "Staff"]
    # an ingested corpus: the export finds the full texts (and the input project) beside the corpus file
    res = ingest([p])
    write_ingested(res, tmp_path / "c.jsonl")
    q = res.corpus.quotes
    member = pd.DataFrame({"data": [True] * len(q), "topic_0": [True] * len(q)})
    result = SimpleNamespace(corpus=res.corpus, themes=SimpleNamespace(themes=_themes(), membership=member),
                             shifts=pd.DataFrame())
    export_qdpx(result, tmp_path / "c.jsonl", tmp_path / "out.qdpx")
    back = read_qdpx(tmp_path / "out.qdpx")
    src = next(s for s in back.sources if s.name == "interview.txt")
    assert src.text == "I: Ça marche 😀 ok\nR: yes"
    assert sorted(src.text[x.start:x.end] for x in src.selections) == ["yes", "Ça marche 😀", "Ça marche 😀 ok"]


def test_ingested_interviews_analysed_and_exported_end_to_end(tmp_path):
    """Transcripts -> ingest -> the real pipeline (cheap embedder) -> .qdpx -> re-import: exact texts and offsets."""
    import numpy as np

    from stakeholder_nlp.corpus.manifest import parse_manifest
    from stakeholder_nlp.embedding import HashingEmbedder
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.sentiment import VaderScorer
    from stakeholder_nlp.themes import parse_codebook
    from tests.themes.test_codebook import GOOD

    rng = np.random.default_rng(0)
    words = {"data": ["data", "missing", "access", "extract", "données"], "team": ["nurse", "team", "excluded", "😀"],
             "time": ["time", "session", "workload", "busy"]}
    rows = ["file,wave,speaker,interviewer,site"]
    for wave in (2021, 2024):
        for s in range(5):
            name = f"int_{wave}_{s}.txt"
            turns = []
            for j in range(5):
                topic = list(words)[(s + j + (wave == 2024)) % 3]
                turns.append(f"Interviewer: question {j}?\r\n\r\nP{wave}{s}: " + " ".join(rng.choice(words[topic], 6))
                             + f" réponse {j}.")
            (tmp_path / name).write_text("Header, consent\r\n\r\n" + "\r\n\r\n".join(turns), encoding="utf-8",
                                         newline="")
            rows.append(f"{name},{wave},,,{'a' if s % 2 else 'b'}")
    rows.append("*,,Interviewer,yes,")
    res = ingest(sorted(tmp_path.glob("int_*.txt")), parse_manifest("\n".join(rows) + "\n"))
    assert len(res.corpus) == 50 and res.corpus.quotes["speaker"].nunique() == 10
    book = parse_codebook(GOOD)  # deductive: the codebook's themes only (no topic model: keeps the test cheap)
    a = analyze(res.corpus, HashingEmbedder(dim=64), codebook=book, mode="deductive", sentiment=VaderScorer(),
                runs=0, n_boot=50, strata=["site"])
    summary = export_analysis(a, tmp_path / "out.qdpx", sources={d.name: d.text for d in res.sources}, codebook=book)
    back = read_qdpx(tmp_path / "out.qdpx")
    assert summary.sources == 10 and len(back.cases) == 10
    texts = {d.name: d.text for d in res.sources}
    assert all(s.text == lf_text(texts[s.name])[0] for s in back.sources)
    q = a.corpus.quotes
    units = {(r.source, lf_text(texts[r.source])[1](r.start), lf_text(texts[r.source])[1](r.end)): r.text
             for r in q.itertuples()}
    for s in back.sources:
        for x in s.selections:
            assert units[(s.name, x.start, x.end)].replace("\r\n", "\n") == s.text[x.start:x.end]
    n_codings = int(a.themes.membership.to_numpy().sum())
    assert sum(len(x.codes) for s in back.sources for x in s.selections) == n_codings
    assert {(c.name, c.description) for c in back.codes} == {("Data", "data are missing"),
                                                              ("Teams", "the team is left out")}
    assert n_codings > 0 and back.notes and back.notes[-1].name.startswith("Shifts")
    assert all(c.variables.get("site") in ("a", "b") for c in back.cases)
