from __future__ import annotations

import re

import pytest

from stakeholder_nlp.corpus.gp_clusters import (
    build_corpus_file,
    code_wave,
    extract_quotes,
    normalise_code,
    parse_source,
)
from tests.conftest import CORPUS, ROOT, SOURCE

pytestmark = pytest.mark.skipif(not SOURCE.exists(), reason="source document not beside the checkout")


@pytest.fixture(scope="module")
def records():
    return parse_source(SOURCE)


def _find(records, fragment):
    hits = [r for r in records if fragment in r["text"]]
    assert len(hits) == 1, f"{fragment!r} found {len(hits)} times"
    return hits[0]


def test_rebuild_is_byte_for_byte_identical(tmp_path):
    out = tmp_path / "quotes.jsonl"
    build_corpus_file(SOURCE, out)
    assert out.read_bytes() == CORPUS.read_bytes()


def test_every_coded_quote_sits_in_its_speakers_wave(records):
    for r in records:
        if r["speaker"]:
            assert code_wave(r["speaker"]) == r["wave"], r


def test_counts_match_the_corpus_readme(records):
    readme = (ROOT / "corpus" / "gp_clusters" / "README.md").read_text()
    rows = dict(re.findall(r"^\| (2016|2021|all) \| (\d+) \|", readme, flags=re.M))
    assert int(rows["2016"]) == sum(r["wave"] == 2016 for r in records)
    assert int(rows["2021"]) == sum(r["wave"] == 2021 for r in records)
    assert int(rows["all"]) == len(records)
    for code, _table, n16, n21 in re.findall(r"^\| ([A-Z][^|]+?) \| (S2\.\d) \| (\d+) \| (\d+) \|$", readme, flags=re.M):
        got16 = sum(r["codes"] == [code] and r["wave"] == 2016 for r in records)
        got21 = sum(r["codes"] == [code] and r["wave"] == 2021 for r in records)
        assert (got16, got21) == (int(n16), int(n21)), code


def test_roughly_80_quotations_and_35_phrases(records):
    kinds = [r["kind"] for r in records]
    assert 70 <= kinds.count("quotation") <= 95
    assert 28 <= kinds.count("phrase") <= 45


def test_interleaved_columns_are_separated(records):
    # S2.1 first row: left column P2 / right column SH06, interleaved line by line with tabs
    p2 = _find(records, "major potential role in making clusters work")
    assert p2["speaker"] == "P2" and p2["wave"] == 2016 and "step back" not in p2["text"]
    sh06 = _find(records, "in some of the areas we had to step back")
    assert sh06["wave"] == 2021 and sh06["speaker"] == "SH06"
    assert "organisational design and set up" in sh06["text"]


def test_flattened_line_is_split_by_column_and_row(records):
    sh01 = _find(records, "the external role...requires a lot of data")
    assert sh01["wave"] == 2021 and sh01["codes"] == ["Data analytic support"]
    assert "Public Health Scotland having more public health clinicians working" in sh01["text"]
    assert "manageable form" not in sh01["text"]
    p9 = _find(records, "what I'm going to do is put it into some sort of manageable form")
    assert p9["text"].endswith("send it on to them") and p9["wave"] == 2016
    admin = _find(records, "limited in their admin support")
    assert admin["codes"] == ["Administrative support"] and admin["speaker"] == "SH02"
    deskilled = _find(records, "completely de-skilled in working out quality improvement")
    assert deskilled["codes"] == ["Training"] and deskilled["kind"] == "phrase"


def test_quote_continues_across_a_page_break(records):
    sh05 = _find(records, "Surely to be that lead within the system")
    assert "safety and quality fellowship run by NES" in sh05["text"]
    assert sh05["speaker"] == "SH05" and sh05["wave"] == 2021
    p9 = _find(records, "I'm sure that there are ideas and issues")
    assert p9["text"].endswith("done and maybe change the things that are done in other places.")
    assert p9["speaker"] == "P9" and p9["wave"] == 2016
    gp_focused = _find(records, "very GP focused and very uni professional focused")
    assert gp_focused["wave"] == 2016 and "felt quite disempowered" in gp_focused["text"]
    two_cqls = _find(records, "you almost need two CQLs for each cluster")
    assert two_cqls["speaker"] == "SH02" and "different set of skills" in two_cqls["text"]


def test_sho2_typo_reads_as_sh02(records):
    assert normalise_code("SHO2") == "SH02"
    assert _find(records, "team sport")["speaker"] == "SH02"


def test_uncoded_quote_keeps_no_speaker(records):
    assert _find(records, "measurements are a very tricky issue")["speaker"] is None


def test_extract_quotes_attributes_and_classifies():
    stream = 'He said it was "essential", and "quick to do" [P3]. Then:\n"a standalone quotation here" [SH01]'
    qs = extract_quotes(stream)
    assert [(q.text, q.speaker, q.kind) for q in qs] == [
        ("essential", "P3", "phrase"),
        ("quick to do", "P3", "phrase"),
        ("a standalone quotation here", "SH01", "quotation"),
    ]


def test_phrase_context_is_the_authors_sentence(records):
    nuts = _find(records, "nuts and bolts")
    assert nuts["kind"] == "phrase"
    assert "the use of data was seen as fundamental" in nuts["context"]
    assert '"nuts and bolts"' in nuts["context"]


def test_quotation_context_is_the_lead_in_with_the_quote_elided(records):
    q = _find(records, "in some of the areas we had to step back")
    assert q["context"].startswith("A LIST analyst interviewed highlighted the challenges")
    assert '"…"' in q["context"] and "step back" not in q["context"]
    assert "delay in access to data support" in q["context"]  # the authors' remark after the code
    # a quotation following another one does not carry the other quotation's words
    later = _find(records, "what I'm not confident in")
    assert "not short of hearing stories" not in later["context"]


def test_context_is_absent_only_without_authors_words(records):
    with_context = [r for r in records if r["context"]]
    assert len(with_context) >= 0.8 * len(records)
    assert all("[P" not in r["context"] and "[SH" not in r["context"] for r in with_context)


def test_loaded_corpus_exposes_context_not_as_metadata(gp_corpus):
    assert "context" not in gp_corpus.metadata_columns
    contexts = gp_corpus.contexts
    assert len(contexts) == len(gp_corpus) and sum(c is not None for c in contexts) >= 90
