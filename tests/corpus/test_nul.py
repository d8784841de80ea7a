"""A NUL character inside a value is refused with the file, row and field named (as a lone surrogate is):
a worksheet cannot hold one while CSV and HTML would, so the outputs would disagree."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from stakeholder_nlp.cli import app
from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.errors import CorpusFormatError


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [{"text": "the car park was full", "wave": 2016, "speaker": "p1"},
        {"text": "before\u0000after", "wave": 2016, "speaker": "p2"},
        {"text": "the staff were kind", "wave": 2021, "speaker": "p3"}]


def test_a_nul_inside_a_jsonl_quote_is_refused_naming_file_row_and_field(tmp_path):
    path = _jsonl(tmp_path / "q.jsonl", ROWS)
    with pytest.raises(CorpusFormatError, match="NUL character") as err:
        load_corpus(path)
    assert (err.value.path, err.value.row, err.value.field) == (str(path), 2, "text")
    assert str(err.value).startswith(f"file {path}, row 2, field 'text': text holds a NUL character ('\\x00') "
                                     "at position 6 of 12")


def test_a_nul_byte_in_a_csv_cell_is_refused_at_its_line(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b"text,wave,speaker\nfine words,2016,p1\nwords,2016,p\x002\n")
    with pytest.raises(CorpusFormatError, match="NUL") as err:
        load_corpus(path)
    assert (err.value.row, err.value.field) == (3, "speaker")


@pytest.mark.parametrize("field", ["speaker", "quote_id", "site"])
def test_a_nul_in_any_string_field_of_a_dataframe_is_refused(field):
    df = pd.DataFrame(ROWS).assign(text=["a", "b", "c"], quote_id=["x", "y", "z"], site=["n", "s", "n"])
    df.loc[1, field] = "bad\x00value"
    with pytest.raises(CorpusFormatError, match="NUL") as err:
        load_corpus(df)
    assert (err.value.row, err.value.field) == (2, field)


def test_skip_bad_rows_lists_the_nul_row_instead_of_keeping_it(tmp_path):
    corpus = load_corpus(_jsonl(tmp_path / "q.jsonl", ROWS), on_error="skip")
    assert corpus.texts == ["the car park was full", "the staff were kind"]
    assert [(s.row, s.field) for s in corpus.skipped] == [(2, "text")]
    assert not any("\x00" in t for t in corpus.texts)


def test_the_cli_refuses_with_one_line_and_exit_2(tmp_path):
    res = CliRunner().invoke(app, ["corpus", "summary", str(_jsonl(tmp_path / "q.jsonl", ROWS))])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "row 2, field 'text'" in lines[0] and "NUL character" in lines[0]
