"""The Excel workbook a researcher reads (``framework_matrix.xlsx``), with openpyxl.

Sheets:

``framework`` (:data:`GRID_SHEET`)
    The framework matrix as researchers draw it: one row per theme (its subthemes' rows folded beneath it,
    indented, where the run has subthemes), one column per wave; each cell holds
    the numbers (quotes, speakers, share with interval, sentiment) and then the quote text, wrapped, rows
    sized to their text, header row and theme column frozen. A cell holds as many quotes as fit in
    :data:`CELL_CHARS` characters, then says how many more are on the quotes sheet.
``changes`` (when the analysis has change records)
    How each theme changed between waves (``theme_changes.csv``: who voices it, categories, phrases, echo
    counts, the sentence a researcher can paste).
``numbers``
    The framework matrix in long form (one row per theme × wave), numbers rounded for reading.
``shifts``
    The shift table, rounded (full precision stays in the CSV files).
``quotes``
    Every analysed quote with all its input metadata, human codes and the themes it carries, up to
    :data:`SHEET_MAX_QUOTES` rows (then the first ones in input order and a last row saying so; quotes.csv
    always holds every quote: a worksheet holds at most 1,048,576 rows, and openpyxl writes ~10,000 a second).
``set aside``
    The non-responses set aside before themes (when any).
``notes`` (:data:`NOTES_SHEET`, only when there is something to say)
    Every cell cut to fit: a worksheet cell holds at most :data:`CELL_MAX` characters, so a longer quote
    ends in :data:`CUT_MARK` in its cell and is listed here (sheet, quote id, column, its full length); its
    full text is in ``quotes.csv``. :func:`cut_cells` says which before the workbook is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

GRID_SHEET = "framework"
NOTES_SHEET = "notes"
CELL_CHARS = 6000
#: the most characters a worksheet cell holds (Excel's limit; openpyxl and pandas cut longer text silently)
CELL_MAX = 32_767
#: how a cut cell ends: ``{n}`` is the full length in characters
CUT_MARK = " … [cut here: {n:,} characters in all; the full text is in quotes.csv]"
NOTES_COLUMNS = ("sheet", "quote_id", "column", "characters", "note")
#: rows of the quotes sheet at most (see the module docstring)
SHEET_MAX_QUOTES = 20_000
SHEETS = (GRID_SHEET, "changes", "numbers", "shifts", "quotes", "set aside")
#: from this many quotes :func:`start_workbook` writes in a worker process (below it a fresh worker's
#: start-up, importing pandas and openpyxl, costs more than the workbook)
WORKER_MIN_QUOTES = 2_000


def _pct(x) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%".replace("-0%", "0%")


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(3)
        elif out[c].dtype == object:
            out[c] = out[c].map(lambda v: "; ".join(map(str, v)) if isinstance(v, list | tuple) else v)
    return out


def _clean(d: pd.DataFrame, sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None) -> pd.DataFrame:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    # control characters (e.g. \x0b in a pasted comment) cannot be stored in a worksheet: dropped here
    d = (sanitize or (lambda x: x))(d)
    return d.map(lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v)


def _cut(d: pd.DataFrame, sheet: str) -> tuple[pd.DataFrame, list[dict]]:
    """``d`` with every text cell longer than :data:`CELL_MAX` cut to fit, ending in :data:`CUT_MARK`; and a
    note (:data:`NOTES_COLUMNS`) per cut cell."""
    notes: list[dict] = []
    out = d
    ids = d["quote_id"].tolist() if "quote_id" in d.columns else None
    for j, col in enumerate(d.columns):
        if d[col].dtype != object and not pd.api.types.is_string_dtype(d[col]):
            continue
        values = d[col].tolist()
        long = [i for i, v in enumerate(values) if isinstance(v, str) and len(v) > CELL_MAX]
        if not long:
            continue
        if out is d:
            out = d.copy()
        for i in long:
            mark = CUT_MARK.format(n=len(values[i]))
            values[i] = values[i][: CELL_MAX - len(mark)] + mark
            notes.append({"sheet": sheet, "quote_id": None if ids is None else str(ids[i]), "column": str(col),
                          "characters": len(d.iat[i, j]),
                          "note": f"cut to {CELL_MAX:,} characters (a worksheet cell's limit); the full text "
                                  "is in quotes.csv"})
        out[col] = pd.Series(values, index=d.index, dtype=object)
    return out, notes


def cut_cells(quotes: pd.DataFrame, sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> list[dict]:
    """The notes (:data:`NOTES_COLUMNS`) on the quotes sheet's cells that :func:`write_workbook` will cut to
    fit a worksheet cell, without writing anything (the caller can say so before the workbook is done)."""
    rows = quotes.iloc[:SHEET_MAX_QUOTES]
    long = rows.map(lambda v: isinstance(v, str) and len(v) > CELL_MAX - 1).any(axis=1)  # sanitize adds 1
    if not long.any():
        return []
    return _cut(_clean(_rounded(rows[long.to_numpy()]), sanitize), "quotes")[1]


def cut_notice(notes: list[dict], *, limit: int = 10) -> str | None:
    """One line naming the quotes whose text was cut in the workbook and where the full text is."""
    ids = list(dict.fromkeys(n["quote_id"] for n in notes if n["sheet"] == "quotes" and n["quote_id"]))
    if not ids:
        return None
    shown = ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
    return (f"framework_matrix.xlsx: {len(ids)} quote(s) longer than a worksheet cell ({CELL_MAX:,} characters) "
            f"are cut there: {shown}; the full text is in quotes.csv (the workbook's {NOTES_SHEET} sheet lists "
            "them)")


def grid(matrix: pd.DataFrame, quotes: pd.DataFrame, membership: pd.DataFrame, waves: list,
         cell_chars: int = CELL_CHARS) -> pd.DataFrame:
    """Theme rows × wave columns of cell text (numbers line, then the quotes, exemplars first)."""
    q_wave = quotes["wave"].to_numpy()
    texts = quotes["text"].astype(str).tolist()
    ids = quotes["quote_id"].astype(str).tolist()
    spk = quotes["speaker"].tolist()
    pos = {qid: i for i, qid in enumerate(ids)}
    # each quote's place in quote-id order, sorted once (ids are unique: the order Python's sort gives)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(np.array(ids, dtype=object), kind="stable")] = np.arange(len(ids))
    in_wave = {w: q_wave == w for w in waves}
    rows = []
    for tid, grp in matrix.groupby("theme_id", sort=False):
        if grp["kind"].iat[0] == "subtheme":  # folded beneath its parent's row
            row = {"theme": f"    ↳ {grp['label'].iat[0]}\n    ({tid}, subtheme of {grp['parent'].iat[0]})"}
        else:
            row = {"theme": f"{grp['label'].iat[0]}\n({tid}, {grp['kind'].iat[0]})"}
        member = membership[tid].to_numpy()
        for w in waves:
            sub = grp[grp["wave"] == w]
            if not len(sub):
                row[str(w)] = ""
                continue
            r = sub.iloc[0]
            n_spk = f", {int(r['n_speakers']):,} speakers" if "n_speakers" in r.index else ""
            head = (f"{int(r['n_quotes']):,} quotes{n_spk}; share {_pct(r['share'])} ({_pct(r['share_lo'])}–"
                    f"{_pct(r['share_hi'])}); sentiment "
                    + ("–" if not np.isfinite(r["sentiment_mean"]) else f"{r['sentiment_mean']:+.2f}"))
            lead = [pos[x] for x in str(r["exemplar_quote_ids"]).split(";") if x in pos]
            rest = np.flatnonzero(member & in_wave[w])
            rest = rest[np.argsort(rank[rest], kind="stable")].tolist()
            order = lead + [i for i in rest if i not in lead]  # after the exemplars, by quote id (any row order)
            parts, used = [head], len(head)
            for k, i in enumerate(order):
                who = spk[i] if isinstance(spk[i], str) and spk[i] else "unattributed"
                line = f"“{' '.join(texts[i].split())}” [{who}, {ids[i]}]"
                if used + len(line) > cell_chars:
                    parts.append(f"… and {len(order) - k} more quotes on the quotes sheet")
                    break
                parts.append(line)
                used += len(line) + 2
            row[str(w)] = "\n\n".join(parts)
        rows.append(row)
    return pd.DataFrame(rows, columns=["theme", *[str(w) for w in waves]])


def write_workbook(path: Path, matrix: pd.DataFrame, shifts: pd.DataFrame, quotes: pd.DataFrame,
                   membership: pd.DataFrame, waves: list, set_aside: pd.DataFrame | None = None,
                   sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                   changes: pd.DataFrame | None = None) -> Path:
    """Write the workbook to ``path``; ``sanitize`` (e.g. formula neutralisation) is applied to every sheet.
    Text longer than a cell holds is cut, marked, and listed on the ``notes`` sheet (module docstring).
    ``changes``: the change records (``theme_changes.csv``), written as the ``changes`` sheet after the grid."""
    return write_sheets(path, workbook_sheets(matrix, shifts, quotes, membership, waves, set_aside, changes),
                        len(waves), sanitize)


def workbook_sheets(matrix: pd.DataFrame, shifts: pd.DataFrame, quotes: pd.DataFrame, membership: pd.DataFrame,
                    waves: list, set_aside: pd.DataFrame | None = None,
                    changes: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The workbook's sheets by name (:data:`SHEETS`, in order), before cleaning and cutting: what
    :func:`write_sheets` writes. Only the grid reads every quote; the quotes sheet holds the first
    :data:`SHEET_MAX_QUOTES`, so the sheets are small whatever the corpus size."""
    quote_rows = _rounded(quotes.iloc[:SHEET_MAX_QUOTES])
    if len(quotes) > SHEET_MAX_QUOTES:
        note = pd.DataFrame({quote_rows.columns[0]: [f"… {len(quotes) - SHEET_MAX_QUOTES:,} more quotes: "
                                                     f"every quote is in quotes.csv"]})
        quote_rows = pd.concat([quote_rows, note], ignore_index=True)
    sheets = {GRID_SHEET: grid(matrix, quotes, membership, waves)}
    if changes is not None:
        sheets["changes"] = _rounded(changes)
    sheets.update({"numbers": _rounded(matrix), "shifts": _rounded(shifts), "quotes": quote_rows})
    if set_aside is not None and len(set_aside):
        sheets["set aside"] = set_aside
    return sheets


def write_sheets(path: Path, sheets: dict[str, pd.DataFrame], n_waves: int,
                 sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Path:
    """Write :func:`workbook_sheets`' ``sheets`` to ``path`` (the grid's wave columns ``n_waves`` wide),
    each cleaned by ``sanitize``, cut to fit and listed on the ``notes`` sheet."""
    from openpyxl.styles import Alignment, Font

    wrapped = Alignment(wrap_text=True, vertical="top")  # one style object: a new one per cell costs 6x
    notes: list[dict] = []
    for name in list(sheets):
        sheets[name], cut = _cut(_clean(sheets[name], sanitize), name)
        notes += cut
    if notes:
        sheets[NOTES_SHEET] = _clean(pd.DataFrame(notes, columns=list(NOTES_COLUMNS)), sanitize)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            ws.freeze_panes = "B2"
            bold = Font(bold=True)
            for cell in ws[1]:
                cell.font = bold
                cell.alignment = wrapped
            widths = {GRID_SHEET: [34] + [70] * n_waves}.get(name)
            for j, col in enumerate(df.columns):
                if widths:
                    w = widths[j]
                else:
                    longest = max([len(str(col))] + [len(str(v)) for v in df[col].head(200).tolist()])
                    w = min(60 if col == "text" else 40, max(8, longest + 2))
                ws.column_dimensions[ws.cell(row=1, column=j + 1).column_letter].width = w
            if name in (GRID_SHEET, "changes", "quotes", "set aside"):
                col_widths = [ws.column_dimensions[ws.cell(row=1, column=j + 1).column_letter].width or 10
                              for j in range(len(df.columns))]
                for r_idx, row in enumerate(ws.iter_rows(min_row=2), start=2):
                    lines = 1
                    for cell, width in zip(row, col_widths, strict=False):
                        cell.alignment = wrapped
                        text = str(cell.value or "")
                        lines = max(lines, sum(1 + len(p) // max(1, int(width * 1.1)) for p in text.split("\n")))
                    ws.row_dimensions[r_idx].height = min(409, 15 * lines)
    return path


def start_workbook(path: Path, matrix: pd.DataFrame, shifts: pd.DataFrame, quotes: pd.DataFrame,
                   membership: pd.DataFrame, waves: list, set_aside: pd.DataFrame | None = None,
                   sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                   changes: pd.DataFrame | None = None):
    """:func:`write_workbook`, from :data:`WORKER_MIN_QUOTES` quotes in a worker process (joblib's reusable
    loky executor: the workers of the lemmatiser and the stability reruns, already started), so that the
    caller writes the other files meanwhile (openpyxl is pure Python: ~1 s per 1,000 quote rows). The sheets
    are made here (:func:`workbook_sheets`) and only they travel to the worker, not the corpus's quotes.
    Returns a ``concurrent.futures.Future`` of the path: call ``result()`` before using the file; the bytes
    written are those of :func:`write_workbook` in this process."""
    from concurrent.futures import Future

    done: Future = Future()
    try:
        sheets = workbook_sheets(matrix, shifts, quotes, membership, waves, set_aside, changes)
        if len(quotes) >= WORKER_MIN_QUOTES:
            from joblib.executor import get_memmapping_executor

            return get_memmapping_executor(1).submit(write_sheets, path, sheets, len(waves), sanitize)
        done.set_result(write_sheets(path, sheets, len(waves), sanitize))
    except Exception as exc:  # raised by result(), as from a worker
        done.set_exception(exc)
    return done
