"""Transcript ingestion: turn rules, every format, offsets with non-ASCII text, units, manifest, the command."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stakeholder_nlp.corpus.formats import SourceDocument, read_document
from stakeholder_nlp.corpus.ingest import counts_table, ingest
from stakeholder_nlp.corpus.manifest import parse_manifest, read_manifest
from stakeholder_nlp.corpus.transcripts import choose_rule, split_turns
from stakeholder_nlp.corpus.units import segment, sentence_spans
from stakeholder_nlp.errors import CorpusFormatError

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
COVID = DATA / "ukcovid_inquiry_transcripts"
QUALCODER = DATA / "qualcoder_examples"


def turns_of(text: str, **kw):
    t = split_turns(SourceDocument("t.txt", text), **kw)
    for turn in t.turns:
        assert text[turn.start:turn.end] == turn.text
    return t, [(x.speaker, x.text) for x in t.turns]


# ------------------------------------------------------------------ turn rules


def test_colon_markers_open_turns_and_header_is_left_out():
    text = ("Interview 4, site B, recorded 2024\n\nInterviewer: How is the data?\n\n"
            "Dr. Amy Lee: It is poor.\nWe cannot extract it.\n\nInterviewer: Why?\n\nDr. Amy Lee: No analyst.")
    t, got = turns_of(text)
    assert t.rule == "colon"
    assert got == [("Interviewer", "How is the data?"), ("Dr. Amy Lee", "It is poor.\nWe cannot extract it."),
                   ("Interviewer", "Why?"), ("Dr. Amy Lee", "No analyst.")]
    assert t.header_chars == len("Interview 4, site B, recorded 2024")


def test_colon_rule_refuses_long_names_and_sentences_ending_in_a_colon():
    long_name = "A" * 64
    text = (f"P1: first\n\nThere are three things I want to say here: one\n\n{long_name}: not a name\n\n"
            "P2: second\n\nhttps://example.org is a link\n\nAt 10:30 we met")
    _, got = turns_of(text)
    assert [s for s, _ in got] == ["P1", "P2"]
    assert "three things" in got[0][1] and long_name in got[0][1]
    assert "10:30" in got[1][1]


def test_bracket_markers_like_qualcoder():
    _, got = turns_of("[id1] hello there\n\n[id2] I am struggling\n\n[id1] yes")
    assert got == [("id1", "hello there"), ("id2", "I am struggling"), ("id1", "yes")]


def test_bold_markers_and_non_speech_paragraphs():
    text = ("1 March 2024\n============\n\n*(10.00 am)*\n\n**Chair**: Good morning.\n\nWitness name\n"
            "------------\n\n*WITNESS (affirmed).*\n\n**Counsel**: Your name?\n\n**Witness**: Ann.\n\n"
            "More from Ann after a pause.\n\n*(11.00 am)*\n\nStill Ann.")
    t, got = turns_of(text)
    assert t.rule == "bold"
    assert got == [("Chair", "Good morning."), ("Counsel", "Your name?"),
                   ("Witness", "Ann.\n\nMore from Ann after a pause."), ("Witness", "Still Ann.")]
    assert t.turns[-1].continued and not t.turns[-2].continued
    assert t.n_not_speech == 5


def test_timestamps_are_removed_and_teams_style_speaker_lines_work():
    _, got = turns_of("[00:00:05] Ann: hello\n[00:00:09] Bob: 00:00:10 hi there")
    assert got == [("Ann", "hello"), ("Bob", "hi there")]
    _, got = turns_of("Ann Smith   0:03\nFirst words.\n\nBob Jones   0:10\nReply.")
    assert got == [("Ann Smith", "First words."), ("Bob Jones", "Reply.")]
    t, got = turns_of("Ann: one\n\n[00:01:02] two")
    assert got == [("Ann", "one\n\n[00:01:02] two")]
    assert [u.text for u in segment(t, "paragraph")] == ["one", "two"]


def test_teams_docx_transcript(tmp_path):
    doc = read_document(_docx(tmp_path / "teams.docx", ["Ann Lee   0:03", "Hello all.", "Bob   0:09", "Hi Ann.",
                                                        "More from Bob."]))
    t, got = turns_of(doc.text)
    assert t.rule == "timestamped"
    assert got == [("Ann Lee", "Hello all."), ("Bob", "Hi Ann.\n\nMore from Bob.")]


def test_custom_pattern_and_bad_patterns():
    _, got = turns_of("Q. Where?\nA. Here.\nQ. When?", pattern=r"(?P<speaker>[QA])\.\s")
    assert got == [("Q", "Where?"), ("A", "Here."), ("Q", "When?")]
    with pytest.raises(CorpusFormatError, match="group"):
        split_turns(SourceDocument("t", "x"), pattern=r"\w+:")
    with pytest.raises(CorpusFormatError, match="regular expression"):
        split_turns(SourceDocument("t", "x"), pattern=r"(?P<speaker>")


def test_auto_rule_picks_the_dominant_marker_style():
    text = "**A**: one: two\n\n**B**: three\n\nNote: aside\n\n**A**: four"
    assert choose_rule(text) == "bold"
    _, got = turns_of(text)
    assert [s for s, _ in got] == ["A", "B", "A"]


def test_document_without_markers_is_one_unnamed_turn():
    t, got = turns_of("Just my written answer.\n\nSecond paragraph.")
    assert t.rule == "none" and got == [(None, "Just my written answer.\n\nSecond paragraph.")]


# ------------------------------------------------------------------ offsets and units


def test_offsets_count_code_points_with_emoji_accents_and_crlf():
    text = "Intervieweuse: Ça va ? 😀\r\n\r\nRésidente: Très bien 👍🏽. Merci…\r\nVraiment.\r\n"
    t, got = turns_of(text)
    assert got == [("Intervieweuse", "Ça va ? 😀"), ("Résidente", "Très bien 👍🏽. Merci…\r\nVraiment.")]
    for u in segment(t, "sentences", window_words=1):
        assert text[u.start:u.end] == u.text
    assert [u.text for u in segment(t, "sentences", window_words=1)][1:] == ["Très bien 👍🏽.", "Merci…", "Vraiment."]


def test_units_paragraph_sentences_and_context():
    text = ("I: What changed?\n\nR: The data got worse. Nobody could extract it. We asked twice.\n\n"
            "Then the analyst left.\n\nI: And then?")
    t, _ = turns_of(text)
    paras = segment(t, "paragraph")
    assert [u.text for u in paras if u.speaker == "R"] == [
        "The data got worse. Nobody could extract it. We asked twice.", "Then the analyst left."]
    sents = [u.text for u in segment(t, "sentences", window_words=8) if u.speaker == "R"]
    assert sents == ["The data got worse. Nobody could extract it.", "We asked twice.", "Then the analyst left."]
    r = next(u for u in segment(t, "turn") if u.speaker == "R")
    assert r.context == "I: What changed?\nI: And then?"
    assert segment(t, "turn", context_chars=5)[1].context == "I: …nged?\nI: And t…"
    assert sentence_spans("Dr Who said so. Yes.", 0, 20) == [(0, 15), (16, 20)]
    text = "Dr. Ann Lee and J. Smith came, e.g. On Monday. Then No. 5 left!"
    assert [text[s:e] for s, e in sentence_spans(text, 0, len(text))] == [
        "Dr. Ann Lee and J. Smith came, e.g. On Monday.", "Then No. 5 left!"]


# ------------------------------------------------------------------ formats


def _docx(path: Path, paragraphs: list[str], table: list[tuple[str, str]] = ()) -> Path:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    if table:
        t = d.add_table(rows=0, cols=2)
        for a, b in table:
            cells = t.add_row().cells
            cells[0].text, cells[1].text = a, b
    d.save(str(path))
    return path


def _odt(path: Path, paragraphs: list[str]) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    doc = OpenDocumentText()
    for p in paragraphs:
        doc.text.addElement(P(text=p))
    doc.save(str(path))
    return path


def test_docx_paragraphs_and_table_rows(tmp_path):
    p = _docx(tmp_path / "int.docx", ["Header line", "Interviewer: How  was it ?", "", "Zoë: Fine , thanks €5."],
              [("Interviewer", "And the table?"), ("Zoë", "Also read.")])
    doc = read_document(p)
    assert doc.format == "docx"
    assert doc.text == ("Header line\n\nInterviewer: How was it?\n\nZoë: Fine, thanks €5.\n\n"
                        "Interviewer: And the table?\n\nZoë: Also read.")
    _, got = turns_of(doc.text)
    assert got[1] == ("Zoë", "Fine, thanks €5.") and got[-1] == ("Zoë", "Also read.")


def test_odt_paragraphs(tmp_path):
    doc = read_document(_odt(tmp_path / "int.odt", ["[A] first", "[B] second ümlaut"]))
    assert doc.text == "[A] first\n\n[B] second ümlaut"


def test_vtt_voice_spans_teams_style(tmp_path):
    p = tmp_path / "call.vtt"
    p.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann Lee>Hello there.</v>\n\n"
                 "00:00:02.000 --> 00:00:04.000\n<v Ann Lee>Still me 😀.</v>\n\n"
                 "00:00:04.000 --> 00:00:06.000\n<v Bob>Hi Ann.</v>\n", encoding="utf-8")
    doc = read_document(p)
    assert doc.text == "Ann Lee: Hello there. Still me 😀.\n\nBob: Hi Ann."
    _, got = turns_of(doc.text)
    assert got == [("Ann Lee", "Hello there. Still me 😀."), ("Bob", "Hi Ann.")]


def test_srt_zoom_name_prefixes(tmp_path):
    p = tmp_path / "zoom.srt"
    p.write_text("1\n00:00:01,000 --> 00:00:03,000\nAnn: Good morning.\n\n2\n00:00:03,000 --> 00:00:05,000\n"
                 "Bob: Morning,\nall.\n", encoding="utf-8")
    assert read_document(p).text == "Ann: Good morning.\n\nBob: Morning, all."


def test_text_files_keep_crlf_and_drop_the_bom(tmp_path):
    p = tmp_path / "a.md"
    p.write_bytes("\ufeffA: één\r\nB: two\r\n".encode())
    doc = read_document(p)
    assert doc.text == "A: één\r\nB: two\r\n" and doc.format == "md"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"A: ok\nB: \xff\xfe")
    with pytest.raises(CorpusFormatError, match="row 2.*UTF-8|UTF-8"):
        read_document(bad)
    with pytest.raises(CorpusFormatError, match="unknown transcript type"):
        (tmp_path / "x.pdf").write_text("x")
        read_document(tmp_path / "x.pdf")


# ------------------------------------------------------------------ manifest


MANIFEST = """file,wave,speaker,speaker_id,interviewer,role,site
a.txt,2023,,,,,North
b.txt,2024,,,,,South
*,,Interviewer,,yes,,
*,,R,Resp-1,,nurse,
b.txt,,Rx,Resp-1,,nurse,
"""


def test_manifest_waves_aliases_interviewers_attributes(tmp_path):
    (tmp_path / "a.txt").write_text("Interviewer: Q1?\n\nR: Answer one.\n\nInterviewer: Q2?\n\nR: Answer two.")
    (tmp_path / "b.txt").write_text("Interviewer: Q?\n\nRx: Later answer.")
    m = parse_manifest(MANIFEST, path="m.csv")
    res = ingest([tmp_path / "a.txt", tmp_path / "b.txt"], m)
    q = res.corpus.quotes
    assert q["speaker"].tolist() == ["Resp-1"] * 3
    assert q["wave"].tolist() == [2023, 2023, 2024]
    assert q["site"].tolist() == ["North", "North", "South"] and set(q["role"]) == {"nurse"}
    assert q["speaker_label"].tolist() == ["R", "R", "Rx"]
    assert q["context"].iloc[0] == "Interviewer: Q1?\nInterviewer: Q2?"
    assert q["quote_id"].iloc[0] == "a.txt:21-32" and q["text"].iloc[0] == "Answer one."
    c = res.counts.set_index(["speaker", "wave", "role"])
    assert c.loc[("Resp-1", 2023, "unit"), "units"] == 2
    assert c.loc[("Interviewer", 2024, "context only"), "turns"] == 1
    assert "Resp-1" in counts_table(res.counts)


def test_manifest_errors_name_line_and_field(tmp_path):
    with pytest.raises(CorpusFormatError, match="row 2.*interviewer"):
        parse_manifest("file,wave,interviewer\na.txt,1,maybe\n")
    with pytest.raises(CorpusFormatError, match="'file'"):
        parse_manifest("name,wave\na.txt,1\n")
    (tmp_path / "c.txt").write_text("A: hi")
    with pytest.raises(CorpusFormatError, match=r"no wave for \['c.txt'\]"):
        ingest([tmp_path / "c.txt"], parse_manifest("file,wave\nother.txt,1\n"))
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "none.csv")


def test_drop_and_keep_speakers_and_unnamed_files(tmp_path):
    (tmp_path / "g.txt").write_text("Mod: Q?\n\nP1: a\n\nP2: b\n\nMod: Q2?\n\nP1: c")
    (tmp_path / "solo.txt").write_text("My written answer.")
    res = ingest([tmp_path / "g.txt", tmp_path / "solo.txt"], default_wave="w1", drop_speakers=["mod"])
    assert res.corpus.quotes["speaker"].tolist() == ["P1", "P2", "P1", "solo"]
    res = ingest([tmp_path / "g.txt"], default_wave="w1", keep_speakers=["P2"])
    assert res.corpus.quotes["text"].tolist() == ["b"]


def test_ingest_command_writes_corpus_and_sources(tmp_path):
    from typer.testing import CliRunner

    from stakeholder_nlp.cli import app

    (tmp_path / "a.txt").write_text("I: Q?\n\nR: first answer 😀\n\nI: Q2?\n\nR: second", encoding="utf-8")
    (tmp_path / "b.txt").write_text("I: Q?\n\nR: later answer", encoding="utf-8")
    (tmp_path / "m.csv").write_text("file,wave\na.txt,1\nb.txt,2\n")
    out = tmp_path / "c.jsonl"
    r = CliRunner().invoke(app, ["ingest", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--manifest",
                                 str(tmp_path / "m.csv"), "--drop-speakers", "I", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "units per speaker and wave" in r.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [x["text"] for x in rows] == ["first answer 😀", "second", "later answer"]
    side = {json.loads(x)["source"]: json.loads(x)["text"] for x in
            out.with_suffix(".sources.jsonl").read_text(encoding="utf-8").splitlines()}
    for x in rows:
        assert side[x["source"]][x["start"]:x["end"]] == x["text"]
    counts = pd.read_csv(out.with_suffix(".counts.csv"))
    assert counts[counts["role"] == "unit"][["speaker", "wave", "units"]].values.tolist() == [["R", 1, 2], ["R", 2, 1]]
    from stakeholder_nlp.corpus import load_corpus

    assert load_corpus(out).waves == [1, 2]
    r = CliRunner().invoke(app, ["ingest", str(tmp_path / "a.txt"), "--out", str(out)])
    assert r.exit_code == 2 and "no wave" in r.output


# ------------------------------------------------------------------ shared real-world samples (read in place)


@pytest.mark.skipif(not COVID.exists(), reason="../shared/data/ukcovid_inquiry_transcripts not present")
def test_covid_inquiry_days_split_into_the_published_turn_counts():
    expected = {"module-1_2023-06-27.rst": 864, "module-2_2023-11-30.rst": 1191, "module-3_2024-11-21.rst": 1102}
    for name, n in expected.items():
        t = split_turns(read_document(COVID / name))
        assert t.rule == "bold" and len(t.turns) == n
        assert all(t.document.text[x.start:x.end] == x.text for x in t.turns)


@pytest.mark.skipif(not QUALCODER.exists(), reason="../shared/data/qualcoder_examples not present")
def test_qualcoder_examples_read():
    t = split_turns(read_document(QUALCODER / "transcript.txt"))
    assert t.rule == "bracket" and len(t.turns) == 7 and t.speakers == ["id1", "id2", "id3"]
    for name in ("ID1.docx", "ID2.odt"):
        doc = read_document(QUALCODER / name)
        assert "  " not in doc.text and " ." not in doc.text and len(doc.text) > 100
    assert "€" in read_document(QUALCODER / "ID1.docx").text + read_document(QUALCODER / "ID2.odt").text
