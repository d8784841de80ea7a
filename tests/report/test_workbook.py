"""The Excel workbook: a theme-rows × wave-columns grid with quote text, wrapped and frozen; a quotes sheet
with every metadata column and the human codes; numbers rounded for reading."""

from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from stakeholder_nlp.report.workbook import GRID_SHEET, grid, write_workbook


def _inputs():
    quotes = pd.DataFrame({"quote_id": ["a", "b", "c", "d"], "text": ["Data are missing.", "No analyst to help us.",
                                                                     "The nurse was left out.", "We lack data."],
                           "speaker": ["p1", "p2", None, "p3"], "wave": [2016, 2016, 2021, 2021],
                           "themes": ["data", "data", "team", "data"], "codes": ["Data access", "", "MDT", "Data access"],
                           "site": ["north", "south", "north", "south"]})
    membership = pd.DataFrame({"data": [True, True, False, True], "team": [False, False, True, False]})
    rows = []
    for tid, label in (("data", "Data inadequacy"), ("team", "MDT exclusion")):
        for w in (2016, 2021):
            m = membership[tid] & (quotes["wave"] == w)
            rows.append({"theme_id": tid, "label": label, "kind": "codebook", "wave": w, "n_quotes": int(m.sum()),
                         "n_speakers": int(m.sum()), "share": m.sum() / 2 + 1e-9 * np.pi,
                         "share_lo": 0.123456789, "share_hi": 0.987654321, "sentiment_mean": -0.1234567,
                         "sentiment_lo": -0.5, "sentiment_hi": 0.25, "distinctive_terms": "data",
                         "exemplar_quote_ids": ";".join(quotes["quote_id"][m])})
    matrix = pd.DataFrame(rows)
    shifts = pd.DataFrame({"theme_id": ["data", "team"], "label": ["Data inadequacy", "MDT exclusion"],
                           "share_diff": [-0.5000000001, 0.5], "share_q": [0.123456789, 0.9]})
    return matrix, shifts, quotes, membership


def test_grid_has_theme_rows_wave_columns_and_quote_text():
    matrix, _, quotes, membership = _inputs()
    g = grid(matrix, quotes, membership, [2016, 2021])
    assert list(g.columns) == ["theme", "2016", "2021"]
    assert g["theme"].str.startswith("Data inadequacy").tolist() == [True, False]
    cell = g.iloc[0]["2016"]
    assert "2 quotes, 2 speakers; share 100%" in cell
    assert "“Data are missing.” [p1, a]" in cell and "“No analyst to help us.” [p2, b]" in cell
    assert "[unattributed, c]" in g.iloc[1]["2021"]


def test_long_cells_say_how_many_more_quotes_there_are():
    matrix, _, quotes, membership = _inputs()
    g = grid(matrix, quotes, membership, [2016, 2021], cell_chars=90)
    assert "… and 1 more quotes on the quotes sheet" in g.iloc[0]["2016"]


def test_workbook_sheets_are_wrapped_frozen_rounded_and_keep_metadata(tmp_path):
    matrix, shifts, quotes, membership = _inputs()
    set_aside = pd.DataFrame({"quote_id": ["z"], "text": ["N/A"], "speaker": [None], "wave": [2016],
                              "reason": ["nonresponse: n a"]})
    path = write_workbook(tmp_path / "m.xlsx", matrix, shifts, quotes, membership, [2016, 2021], set_aside=set_aside)
    wb = load_workbook(path)
    assert wb.sheetnames == [GRID_SHEET, "numbers", "shifts", "quotes", "set aside"]
    ws = wb[GRID_SHEET]
    assert ws.freeze_panes == "B2"
    assert [c.value for c in ws[1]] == ["theme", "2016", "2021"]
    assert ws["B2"].alignment.wrap_text and "Data are missing." in ws["B2"].value
    assert ws.column_dimensions["B"].width >= 60 and ws.row_dimensions[2].height > 15
    numbers = pd.read_excel(path, sheet_name="numbers")
    assert numbers["share_lo"].tolist() == [0.123] * 4  # rounded for reading
    assert pd.read_excel(path, sheet_name="shifts")["share_q"].tolist() == [0.123, 0.9]
    q = pd.read_excel(path, sheet_name="quotes")
    assert {"codes", "site"} <= set(q.columns) and q["site"].tolist() == ["north", "south", "north", "south"]
    assert pd.read_excel(path, sheet_name="set aside", keep_default_na=False)["text"].tolist() == ["N/A"]


def test_grid_lists_a_cells_quotes_after_its_exemplars_in_quote_id_order_whatever_the_row_order():
    rng = np.random.default_rng(3)
    ids = [f"q{k}" for k in rng.permutation(300)]  # "q10" sorts before "q9": string order, not number order
    quotes = pd.DataFrame({"quote_id": ids, "text": [f"text {x}" for x in ids], "speaker": ["p"] * 300,
                           "wave": [2016] * 300})
    membership = pd.DataFrame({"t": rng.random(300) < 0.5})
    member_ids = [x for x, m in zip(ids, membership["t"], strict=True) if m]
    matrix = pd.DataFrame([{"theme_id": "t", "label": "T", "kind": "auto", "wave": 2016, "n_quotes": len(member_ids),
                            "share": 0.5, "share_lo": 0.4, "share_hi": 0.6, "sentiment_mean": 0.0,
                            "exemplar_quote_ids": member_ids[7]}])
    cell = grid(matrix, quotes, membership, [2016], cell_chars=10**6).iloc[0]["2016"]
    shown = [line.rsplit(", ", 1)[1].rstrip("]") for line in cell.split("\n\n")[1:]]
    assert shown == [member_ids[7]] + sorted(x for x in member_ids if x != member_ids[7])


def test_a_workbook_written_in_the_worker_process_holds_the_same_cells(tmp_path, monkeypatch):
    from stakeholder_nlp.report import workbook

    matrix, shifts, quotes, membership = _inputs()
    here = write_workbook(tmp_path / "here.xlsx", matrix, shifts, quotes, membership, [2016, 2021])
    monkeypatch.setattr(workbook, "WORKER_MIN_QUOTES", 1)
    there = workbook.start_workbook(tmp_path / "there.xlsx", matrix, shifts, quotes, membership, [2016, 2021]).result()
    a, b = load_workbook(here), load_workbook(there)
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        assert list(a[name].values) == list(b[name].values), name
