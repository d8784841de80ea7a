"""What keeps the report's cost flat in the corpus size: the workbook's quotes sheet is capped (quotes.csv
holds every quote), and the formula check decides on the file's XML without parsing every cell."""

from __future__ import annotations

from openpyxl import Workbook, load_workbook

from stakeholder_nlp.report import workbook
from stakeholder_nlp.report.safety import strip_formula_cells
from tests.report.test_workbook import _inputs


def test_quotes_sheet_is_capped_with_a_row_that_says_so(tmp_path, monkeypatch):
    matrix, shifts, quotes, membership = _inputs()
    monkeypatch.setattr(workbook, "SHEET_MAX_QUOTES", 3)
    path = workbook.write_workbook(tmp_path / "m.xlsx", matrix, shifts, quotes, membership, [2016, 2021])
    rows = list(load_workbook(path)["quotes"].values)
    assert [r[0] for r in rows[1:4]] == ["a", "b", "c"]
    assert len(rows) == 1 + 3 + 1 and "1 more quotes: every quote is in quotes.csv" in rows[-1][0]


def test_formula_cells_are_found_and_text_that_looks_like_the_tag_is_not(tmp_path):
    wb = Workbook()
    wb.active["A1"] = "=SUM(1,2)"
    wb.active["A2"] = "<f>not a formula</f>"
    wb.save(tmp_path / "f.xlsx")
    assert strip_formula_cells(tmp_path / "f.xlsx") == 1
    assert load_workbook(tmp_path / "f.xlsx").active["A1"].data_type == "s"
    assert strip_formula_cells(tmp_path / "f.xlsx") == 0  # nothing left to strip: the file is not rewritten


def test_report_counts_are_printed_with_thousands_separators():
    from stakeholder_nlp.report.html import _count

    assert [_count(n) for n in (12, 1000, 999_420, 1_000_000)] == ["12", "1,000", "999,420", "1,000,000"]
