"""A comment holding a control character (a pasted vertical tab) still gets a workbook."""

from openpyxl import load_workbook

from stakeholder_nlp.report.workbook import write_workbook

from .test_workbook import _inputs


def test_workbook_drops_control_characters_a_worksheet_cannot_hold(tmp_path):
    matrix, shifts, quotes, membership = _inputs()
    quotes = quotes.copy()
    quotes.loc[quotes.index[0], "text"] = "waiting\x0b for the call"
    path = write_workbook(tmp_path / "m.xlsx", matrix, shifts, quotes, membership, [2016, 2021])
    cells = {v for row in load_workbook(path)["quotes"].iter_rows(values_only=True) for v in row}
    assert "waiting for the call" in cells
