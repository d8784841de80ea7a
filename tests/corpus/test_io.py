from __future__ import annotations

import json

import pandas as pd
import pytest

from stakeholder_nlp.corpus import Corpus, load_corpus, read_csv, read_jsonl
from stakeholder_nlp.errors import CorpusFormatError, TooFewWavesError


def _rows():
    return [
        {"quote_id": "a", "text": "Data are hard to get.", "speaker": "P1", "wave": 2016, "site": "x"},
        {"quote_id": "b", "text": "Still no data.", "speaker": "S1", "wave": 2021, "site": "y"},
    ]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_all_formats_load_the_same_corpus(tmp_path):
    df = pd.DataFrame(_rows())
    df.to_csv(tmp_path / "q.csv", index=False)
    df.to_parquet(tmp_path / "q.parquet")
    _write_jsonl(tmp_path / "q.jsonl", _rows())
    corpora = [load_corpus(df)] + [load_corpus(tmp_path / f"q.{ext}") for ext in ("csv", "parquet", "jsonl")]
    for c in corpora:
        assert isinstance(c, Corpus)
        assert c.quotes["quote_id"].tolist() == ["a", "b"]
        assert c.waves == [2016, 2021]
        assert c.metadata_columns == ["site"]


def test_column_names_are_configurable(tmp_path):
    df = pd.DataFrame({"comment": ["one", "two"], "year": [1, 2], "person": ["p", "q"]})
    c = load_corpus(df, text_col="comment", wave_col="year", speaker_col="person")
    assert c.texts == ["one", "two"] and c.quotes["speaker"].tolist() == ["p", "q"]


def test_missing_column_names_the_column_and_file(tmp_path):
    p = _write_jsonl(tmp_path / "q.jsonl", [{"text": "x", "speaker": "a"}])
    with pytest.raises(CorpusFormatError, match=r"q\.jsonl.*'wave'.*wave_col"):
        read_jsonl(p)


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"text": "   "}, "text", "empty or whitespace-only"),
        ({"wave": None}, "wave", "wave is missing"),
        ({"quote_id": "a"}, "quote_id", "duplicate quote_id 'a'"),
    ],
)
def test_bad_row_error_names_file_row_and_field(tmp_path, bad, field, message):
    rows = _rows()
    rows[1].update(bad)
    p = _write_jsonl(tmp_path / "q.jsonl", rows)
    with pytest.raises(CorpusFormatError, match=message) as info:
        read_jsonl(p)
    assert info.value.row == 2 and info.value.field == field and info.value.path == str(p)
    assert "row 2" in str(info.value) and str(p) in str(info.value)


def test_json_line_that_does_not_parse_names_the_line(tmp_path):
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps(_rows()[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="row 2.*not a JSON object"):
        read_jsonl(p)


def test_undecodable_bytes_name_the_line(tmp_path):
    p = tmp_path / "q.csv"
    p.write_bytes(b"text,wave\nfine,2016\nbad \xff byte,2021\n")
    with pytest.raises(CorpusFormatError, match="row 3.*UTF-8"):
        read_csv(p)


def test_skipped_rows_are_counted_not_dropped_silently(tmp_path):
    rows = _rows() + [{"quote_id": "c", "text": "", "speaker": "S2", "wave": 2021}]
    p = _write_jsonl(tmp_path / "q.jsonl", rows)
    with open(p, "a") as fh:
        fh.write("{broken\n")
    c = read_jsonl(p, on_error="skip")
    assert len(c) == 2
    assert sorted((s.row, s.field or "") for s in c.skipped) == [(3, "text"), (4, "")]


def test_single_wave_corpus_refuses_a_comparison():
    c = load_corpus(pd.DataFrame({"text": ["a", "b"], "wave": [2016, 2016]}))
    with pytest.raises(TooFewWavesError, match="at least 2 waves.*found 1"):
        c.require_waves(2)


def test_codes_accept_lists_json_and_semicolons():
    df = pd.DataFrame({"text": ["a", "b", "c"], "wave": [1, 1, 2],
                       "codes": [["x", "y"], '["z"]', "u; v"]})
    assert load_corpus(df).quotes["codes"].tolist() == [("x", "y"), ("z",), ("u", "v")]


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_corpus(tmp_path / "nope.jsonl")
