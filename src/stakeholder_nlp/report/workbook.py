"""The Excel workbook a researcher reads (``framework_matrix.xlsx``), with openpyxl.

Sheets:

``framework`` (:data:`GRID_SHEET`)
    The framework matrix as researchers draw it: one row per theme, one column per wave; each cell holds
    the numbers (quotes, speakers, share with interval, sentiment) and then the quote text, wrapped, rows
    sized to their text, header row and theme column frozen. A cell holds as many quotes as fit in
    :data:`CELL_CHARS` characters, then says how many more are on the quotes sheet.
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
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

GRID_SHEET = "framework"
CELL_CHARS = 6000
#: rows of the quotes sheet at most (see the module docstring)
SHEET_MAX_QUOTES = 20_000
SHEETS = (GRID_SHEET, "numbers", "shifts", "quotes", "set aside")
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


def grid(matrix: pd.DataFrame, quotes: pd.DataFrame, membership: pd.DataFrame, waves: list,
         cell_chars: int = CELL_CHARS) -> pd.DataFrame:
    """Theme rows × wave columns of cell text (numbers line, then the quotes, exemplars first)."""
    q_wave = quotes["wave"].to_numpy()
    texts = quotes["text"].astype(str).tolist()
    ids = quotes["quote_id"].astype(str).tolist()
    spk = quotes["speaker"].tolist()
    pos = {qid: i for i, qid in enumerate(ids)}
    rows = []
    for tid, grp in matrix.groupby("theme_id", sort=False):
        row = {"theme": f"{grp['label'].iat[0]}\n({tid}, {grp['kind'].iat[0]})"}
        member = membership[tid].to_numpy()
        for w in waves:
            sub = grp[grp["wave"] == w]
            if not len(sub):
                row[str(w)] = ""
                continue
            r = sub.iloc[0]
            n_spk = f", {int(r['n_speakers'])} speakers" if "n_speakers" in r.index else ""
            head = (f"{int(r['n_quotes'])} quotes{n_spk}; share {_pct(r['share'])} ({_pct(r['share_lo'])}–"
                    f"{_pct(r['share_hi'])}); sentiment "
                    + ("–" if not np.isfinite(r["sentiment_mean"]) else f"{r['sentiment_mean']:+.2f}"))
            lead = [pos[x] for x in str(r["exemplar_quote_ids"]).split(";") if x in pos]
            order = lead + [int(i) for i in np.flatnonzero(member & (q_wave == w)) if int(i) not in lead]
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
                   sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Path:
    """Write the workbook to ``path``; ``sanitize`` (e.g. formula neutralisation) is applied to every sheet."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font

    def clean(d: pd.DataFrame) -> pd.DataFrame:
        # control characters (e.g. \x0b in a pasted comment) cannot be stored in a worksheet: dropped here
        d = (sanitize or (lambda x: x))(d)
        return d.map(lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v)
    quote_rows = _rounded(quotes.iloc[:SHEET_MAX_QUOTES])
    if len(quotes) > SHEET_MAX_QUOTES:
        note = pd.DataFrame({quote_rows.columns[0]: [f"… {len(quotes) - SHEET_MAX_QUOTES:,} more quotes: "
                                                     f"every quote is in quotes.csv"]})
        quote_rows = pd.concat([quote_rows, note], ignore_index=True)
    sheets = {GRID_SHEET: grid(matrix, quotes, membership, waves), "numbers": _rounded(matrix),
              "shifts": _rounded(shifts), "quotes": quote_rows}
    wrapped = Alignment(wrap_text=True, vertical="top")  # one style object: a new one per cell costs 6x
    if set_aside is not None and len(set_aside):
        sheets["set aside"] = set_aside
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, df in sheets.items():
            clean(df).to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            ws.freeze_panes = "B2"
            bold = Font(bold=True)
            for cell in ws[1]:
                cell.font = bold
                cell.alignment = wrapped
            widths = {GRID_SHEET: [34] + [70] * len(waves)}.get(name)
            for j, col in enumerate(df.columns):
                if widths:
                    w = widths[j]
                else:
                    longest = max([len(str(col))] + [len(str(v)) for v in df[col].head(200).tolist()])
                    w = min(60 if col == "text" else 40, max(8, longest + 2))
                ws.column_dimensions[ws.cell(row=1, column=j + 1).column_letter].width = w
            if name in (GRID_SHEET, "quotes", "set aside"):
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
                   sanitize: Callable[[pd.DataFrame], pd.DataFrame] | None = None):
    """:func:`write_workbook`, from :data:`WORKER_MIN_QUOTES` quotes in a worker process (joblib's reusable
    loky executor: the workers of the lemmatiser and the stability reruns, already started), so that the
    caller writes the other files meanwhile (openpyxl is pure Python: ~1 s per 1,000 quote rows). Returns a
    ``concurrent.futures.Future`` of the path: call ``result()`` before using the file; the bytes written
    are those of :func:`write_workbook` in this process."""
    from concurrent.futures import Future

    args = (path, matrix, shifts, quotes, membership, waves, set_aside, sanitize)
    if len(quotes) >= WORKER_MIN_QUOTES:
        from joblib.executor import get_memmapping_executor

        return get_memmapping_executor(1).submit(write_workbook, *args)
    done: Future = Future()
    try:
        done.set_result(write_workbook(*args))
    except Exception as exc:  # raised by result(), as from a worker
        done.set_exception(exc)
    return done
