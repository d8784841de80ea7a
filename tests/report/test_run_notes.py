"""What a run tells its user about the input it was given: how many quotes had no speaker (the summary,
run.json and the report's methods), and which quotes are too long for a worksheet cell (one line naming
them, a mark in the cell, a ``notes`` sheet; no raw library warning)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import analyze
from stakeholder_nlp.report import one_screen_summary, write_report
from stakeholder_nlp.report.workbook import CELL_MAX, NOTES_COLUMNS, NOTES_SHEET, cut_cells, write_workbook
from stakeholder_nlp.sentiment import VaderScorer

from .test_workbook import _inputs

LONG = "the waiting list " * 2_500  # 42,500 characters: more than a worksheet cell holds


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    rng = np.random.default_rng(0)
    words = "data practice nurse team access time cluster meeting budget patient care support".split()
    rows = [{"quote_id": f"w{w}-{i}", "text": " ".join(rng.choice(words, 6)), "wave": w,
             "speaker": None if i % 6 == 5 else f"s{w}-{i % 6}"} for w in (2016, 2021) for i in range(18)]
    rows[7]["text"] = LONG
    corpus = load_corpus(pd.DataFrame(rows))
    a = analyze(corpus, HashingEmbedder(64), sentiment=VaderScorer(), runs=0, n_boot=50)
    out = tmp_path_factory.mktemp("run") / "results"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' "Cell contents too long, truncated" UserWarning fails here
        write_report(a, out)
    return a, out


def test_the_summary_and_run_json_count_the_unattributed_quotes(run):
    a, out = run
    assert json.loads((out / "run.json").read_text())["n_unattributed_quotes"] == 6
    first = one_screen_summary(a, out).splitlines()[0]
    assert first.startswith("36 quotes, 10 speakers + 6 unattributed quotes (each its own speaker), waves")


def test_the_report_methods_state_the_unattributed_quotes(run):
    html = (run[1] / "report.html").read_text()
    methods = html[html.index('id="methods"'):]
    assert "6 of 36 quotes have no speaker\n(unattributed): each was counted as its own speaker" in methods


def test_a_quote_too_long_for_a_cell_is_named_in_one_line_and_kept_whole_in_the_csv(run):
    a, out = run
    lines = [line for line in one_screen_summary(a, out).splitlines() if "worksheet cell" in line]
    assert lines == ["framework_matrix.xlsx: 1 quote(s) longer than a worksheet cell (32,767 characters) are cut "
                     "there: w2016-7; the full text is in quotes.csv (the workbook's notes sheet lists them)"]
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["workbook_cut_quote_ids"] == ["w2016-7"] and run_json["notes"] == [lines[0]]
    assert LONG.strip() in pd.read_csv(out / "quotes.csv")["text"].tolist()
    wb = load_workbook(out / "framework_matrix.xlsx")
    cell = next(r[1] for r in wb["quotes"].iter_rows(values_only=True) if r[0] == "w2016-7")
    assert len(cell) == CELL_MAX and cell.endswith("[cut here: 42,499 characters in all; the full text is in "
                                                   "quotes.csv]")
    notes = list(wb[NOTES_SHEET].iter_rows(values_only=True))
    assert notes[0] == NOTES_COLUMNS and notes[1][:4] == ("quotes", "w2016-7", "text", 42_499)


def test_no_notes_sheet_and_no_notice_when_every_cell_fits(tmp_path):
    matrix, shifts, quotes, membership = _inputs()
    assert cut_cells(quotes) == []
    path = write_workbook(tmp_path / "m.xlsx", matrix, shifts, quotes, membership, [2016, 2021])
    assert NOTES_SHEET not in load_workbook(path).sheetnames


def test_a_long_metadata_cell_is_cut_and_noted_too(tmp_path):
    matrix, shifts, quotes, membership = _inputs()
    quotes = quotes.assign(site=["=" + "x" * CELL_MAX, "s", "n", "s"])  # neutralised to CELL_MAX + 2 characters
    from stakeholder_nlp.report.safety import neutralise_frame

    assert [(n["quote_id"], n["column"]) for n in cut_cells(quotes, neutralise_frame)] == [("a", "site")]
    path = write_workbook(tmp_path / "m.xlsx", matrix, shifts, quotes, membership, [2016, 2021],
                          sanitize=neutralise_frame)
    notes = list(load_workbook(path)[NOTES_SHEET].iter_rows(values_only=True))
    assert [n[:4] for n in notes[1:]] == [("quotes", "a", "site", CELL_MAX + 2)]
