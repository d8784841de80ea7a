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


# ------------------------------------------------------------------ typed values (issue 15)
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("text", 42, "text must be a string; got int"),
        ("text", True, "text must be a string; got bool"),
        ("text", ["a"], "text must be a string; got list"),
        ("text", "\u200b\ufeff\u200d", "no visible character"),
        ("text", "\x00\x00", "NUL character"),
        ("speaker", True, "boolean"),
        ("speaker", [1], "got list"),
        ("speaker", 1.5, "got the number 1.5"),
        ("wave", ["2016"], "got list"),
        ("wave", True, "boolean"),
        ("wave", "NaN", "not a finite number"),
        ("wave", "Infinity", "not a finite number"),
        ("wave", "\ud83d", "lone surrogate"),
        ("text", "fine \ud83d", "lone surrogate"),
        ("codes", ["a", 1], "codes must be strings"),
    ],
)
def test_wrong_types_are_rejected_not_stringified(tmp_path, field, value, message):
    rows = _rows()
    rows[1][field] = value
    p = tmp_path / "q.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")  # ensure_ascii: "\ud83d" escape
    with pytest.raises(CorpusFormatError, match=message) as info:
        read_jsonl(p)
    assert info.value.row == 2 and info.value.field == field


def test_json_nan_and_duplicate_keys_are_errors_naming_the_line(tmp_path):
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps(_rows()[0]) + '\n{"text": "x", "wave": NaN}\n', encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="row 2.*NaN is not valid JSON"):
        read_jsonl(p)
    p.write_text('{"text": "a", "text": "b", "wave": 1}\n', encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="row 1.*'text' appears twice"):
        read_jsonl(p)


def test_waves_are_one_type_per_corpus():
    c = load_corpus(pd.DataFrame({"text": ["a", "b", "c"], "wave": [2016, "2016.0", " 2021 "]}))
    assert c.waves == [2016, 2021] and all(type(w) is int for w in c.quotes["wave"])
    c = load_corpus(pd.DataFrame({"text": ["a", "b"], "wave": [1, 1.5]}))
    assert c.quotes["wave"].tolist() == [1.0, 1.5]
    with pytest.raises(CorpusFormatError, match="row 3.*wave 'T3' is a label but 2 of 3 waves are numbers"):
        load_corpus(pd.DataFrame({"text": ["a", "b", "c"], "wave": [2016, 2021, "T3"]}))
    with pytest.raises(CorpusFormatError, match="not a finite number"):
        load_corpus(pd.DataFrame({"text": ["a"], "wave": [float("inf")]}))


def test_integer_ids_are_decimal_strings_in_every_format(tmp_path):
    df = pd.DataFrame({"text": ["a", "b"], "wave": [1, 2], "speaker": [17, None], "quote_id": [5, 6]})
    df.to_parquet(tmp_path / "q.parquet")  # an int column with a gap comes back as float64
    for c in (load_corpus(df), load_corpus(tmp_path / "q.parquet")):
        assert c.quotes["speaker"].tolist() == ["17", None]
        assert c.quotes["quote_id"].tolist() == ["5", "6"]


def test_two_columns_with_one_name_are_an_error(tmp_path):
    df = pd.DataFrame([["a", 1, "b"]], columns=["text", "wave", "text"])
    with pytest.raises(CorpusFormatError, match=r"\['text'\] appear more than once"):
        load_corpus(df)
    p = tmp_path / "q.csv"
    p.write_text("text,wave,text\na,1,b\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="row 1.*more than once"):
        read_csv(p)


def test_csv_errors_name_the_physical_line_and_tsv_is_tab_separated(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('text,wave\n"two\nlines",1\n\nok,1\nextra,1,field\n', encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="row 6.*3 fields but the header") as info:
        read_csv(p)
    assert info.value.row == 6  # line 6 of the file, though it is the 3rd record
    t = tmp_path / "q.tsv"
    t.write_text("text\twave\nhello, world\t2016\n", encoding="utf-8")
    assert load_corpus(t).texts == ["hello, world"]


def test_empty_files_and_folders_are_typed_errors(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(CorpusFormatError, match="is empty"):
        load_corpus(tmp_path / "e.csv")
    (tmp_path / "e.jsonl").write_bytes(b"\n\n")
    with pytest.raises(CorpusFormatError, match="no quotes"):
        load_corpus(tmp_path / "e.jsonl")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(CorpusFormatError, match="not a readable parquet file"):
        load_corpus(tmp_path / "bad.parquet")
    (tmp_path / "x.jsonl").mkdir()
    with pytest.raises(CorpusFormatError, match="is a folder"):
        load_corpus(tmp_path / "x.jsonl")


def test_a_bom_is_ignored_alike_in_jsonl_and_csv(tmp_path):
    (tmp_path / "q.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(_rows()[0]).encode() + b"\n")
    (tmp_path / "q.csv").write_bytes(b"\xef\xbb\xbftext,wave\nData are hard to get.,2016\n")
    assert load_corpus(tmp_path / "q.jsonl").texts == load_corpus(tmp_path / "q.csv").texts
    (tmp_path / "u.csv").write_bytes("text,wave\nx,1\n".encode("utf-16"))
    with pytest.raises(CorpusFormatError, match="UTF-16"):
        load_corpus(tmp_path / "u.csv")


def test_a_missing_speaker_column_is_a_warning_not_silence():
    c = load_corpus(pd.DataFrame({"text": ["a", "b"], "wave": [1, 2]}))
    assert c.quotes["speaker"].tolist() == [None, None]
    assert any("every quote is treated as a separate speaker" in w for w in c.warnings)
    c = load_corpus(pd.DataFrame({"text": ["a", "b"], "wave": [1, 2], "speaker": ["p", None]}))
    assert c.warnings == ("1 of 2 quotes have no speaker in column 'speaker': each is treated as a separate "
                          "speaker.",)


def test_a_metadata_column_named_like_a_schema_field_is_an_error():
    df = pd.DataFrame({"text": ["a"], "wave": [1], "person": ["p"], "speaker": ["someone else"]})
    with pytest.raises(CorpusFormatError, match="'speaker' is also the name of the schema field"):
        load_corpus(df, speaker_col="person")
