"""Safe outputs: formula cells neutralised (OWASP), atomic output folders and files, preflight checks,
read-only and full disks (a real tmpfs where we may mount one, else an injected ENOSPC)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.embedding.stream import save_npy
from stakeholder_nlp.errors import OutputError
from stakeholder_nlp.report import safety
from stakeholder_nlp.report.safety import (
    OutputExistsError,
    atomic_output_dir,
    check_output_dir,
    check_writable_dir,
    neutralise_cell,
    neutralise_frame,
    strip_formula_cells,
    write_csv,
)

EVIL = ["=HYPERLINK(\"http://x\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\uff1d1+1"]


@pytest.mark.parametrize("value", EVIL)
def test_formula_like_text_is_prefixed_with_a_quote(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "", "a=b", "'already", 3, -0.25, None])
def test_other_values_are_unchanged(value):
    assert neutralise_cell(value) == value


def test_csv_neutralises_text_cells_and_headers_but_not_numbers(tmp_path):
    df = pd.DataFrame({"text": EVIL, "score": [-0.5] * len(EVIL), "=wave": ["a"] * len(EVIL)})
    write_csv(df, tmp_path / "x.csv")
    back = pd.read_csv(tmp_path / "x.csv", keep_default_na=False)
    assert back.columns.tolist() == ["text", "score", "'=wave"]
    assert all(t.startswith("'") for t in back["text"]) and len(back) == len(EVIL)
    assert back["score"].tolist() == [-0.5] * len(EVIL)


@pytest.mark.parametrize("rows", [0, 1, 7, 9])
def test_csv_written_in_blocks_has_the_bytes_of_one_whole_frame_write(tmp_path, rows):
    values = (EVIL + ["a\r\nb", "plain", None])[:rows] + ["x"] * max(0, rows - len(EVIL) - 3)
    df = pd.DataFrame({"text": values, "score": np.linspace(-1, 1, rows) / 3, "n": range(rows),
                       "flag": [i % 2 == 0 for i in range(rows)], "=wave": ["w"] * rows})
    one = tmp_path / "one.csv"
    expected = neutralise_frame(df)
    expected["text"] = expected["text"].map(safety._unify_line_breaks)
    expected.to_csv(one, index=False, float_format="%.6g", lineterminator="\n")
    for block in (1, 2, 3, 100):
        write_csv(df, tmp_path / "blocks.csv", block_rows=block)
        assert (tmp_path / "blocks.csv").read_bytes() == one.read_bytes(), block


def test_xlsx_never_holds_a_formula_cell(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "m.xlsx"
    df = pd.DataFrame({"label": ["=HYPERLINK(\"http://x\")", "ok"], "n": [1, 2]})
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        df.to_excel(xw, index=False)  # unsanitised: openpyxl stores "=..." as a formula
    assert strip_formula_cells(path) == 1
    cells = [c for row in load_workbook(path).active.iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        neutralise_frame(df).to_excel(xw, index=False)
    assert strip_formula_cells(path) == 0


def _write_run(folder: Path, fail_after: int | None = None) -> None:
    for i, name in enumerate(["quotes.csv", "shifts.csv", "framework_matrix.xlsx"]):
        if fail_after is not None and i == fail_after:
            raise OSError(errno.ENOSPC, "No space left on device")
        (folder / name).write_text(f"{name}\n" * 100)
    (folder / "run.json").write_text(json.dumps({"complete": True}))


def test_a_failed_write_leaves_no_output_folder_and_no_partial_files(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="disk is full"), atomic_output_dir(out) as tmp:
        _write_run(tmp, fail_after=2)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_forced_rewrite_keeps_the_previous_complete_results(tmp_path):
    out = tmp_path / "out"
    with atomic_output_dir(out) as tmp:
        _write_run(tmp)
    before = {p.name: p.read_text() for p in out.iterdir()}
    with pytest.raises(OutputError), atomic_output_dir(out) as tmp:
        (tmp / "quotes.csv").write_text("new")
        _write_run(tmp, fail_after=1)
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_existing_results_need_force_and_an_unfinished_run_of_the_same_input_resumes(tmp_path):
    out = tmp_path / "out"
    with atomic_output_dir(out, input_sha256="abc") as tmp:
        _write_run(tmp)
    with pytest.raises(OutputExistsError, match="--force"):
        check_output_dir(out, False, input_sha256="abc")
    check_output_dir(out, True, input_sha256="abc")
    unfinished = tmp_path / "legacy"
    unfinished.mkdir()
    (unfinished / "quotes.csv").write_text("partial")
    (unfinished / safety.PARTIAL_MARKER).write_text(json.dumps({"pid": 2**22 + 7, "input_sha256": "abc"}))
    check_output_dir(unfinished, False, input_sha256="abc")  # same input, unfinished: resumes
    with pytest.raises(OutputExistsError):
        check_output_dir(unfinished, False, input_sha256="other")


def test_leftovers_of_a_dead_run_are_cleaned_and_a_swapped_out_result_is_restored(tmp_path):
    out = tmp_path / "out"
    dead = {"pid": 2**22 + 7}
    partial = tmp_path / ".out.partial-99"
    partial.mkdir()
    (partial / "quotes.csv").write_text("half")
    (partial / safety.PARTIAL_MARKER).write_text(json.dumps(dead))
    old = tmp_path / ".out.old-99"  # killed between the two renames of a --force swap
    old.mkdir()
    (old / "run.json").write_text("{}")
    (old / safety.PARTIAL_MARKER).write_text(json.dumps(dead))
    with pytest.raises(OutputExistsError):
        check_output_dir(out, False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]


def test_a_file_where_the_output_folder_should_be_is_an_output_error(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(tmp_path / "out", True)


def test_save_npy_is_all_or_nothing(tmp_path, monkeypatch):
    out = tmp_path / "v.npy"
    save_npy(out, np.ones((3, 2), dtype=np.float32))
    assert np.load(out).shape == (3, 2)

    def full(path, arr):
        Path(path).write_bytes(b"\x93NUMPY half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(OutputError, match="disk is full"):
        save_npy(out, np.zeros((5, 2), dtype=np.float32))
    monkeypatch.undo()
    assert np.load(out).shape == (3, 2)  # the previous file, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy"]


@contextlib.contextmanager
def _tmpfs(path: Path, options: str):
    path.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected-ENOSPC tests cover the logic")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def test_a_full_disk_fails_the_preflight_before_any_work(tmp_path):
    with _tmpfs(tmp_path / f"full-{uuid.uuid4().hex[:6]}", "size=64k") as mnt:
        with pytest.raises(OutputError, match="disk is full|MiB free"):
            check_output_dir(mnt / "out", False)
        with pytest.raises(OutputError):
            check_writable_dir(mnt / "cache", what="cache folder")


def test_a_disk_filling_up_mid_write_leaves_nothing_half_written(tmp_path):
    with _tmpfs(tmp_path / f"small-{uuid.uuid4().hex[:6]}", "size=256k") as mnt:
        out = mnt / "out"
        with pytest.raises(OutputError, match="disk is full"), atomic_output_dir(out) as tmp:
            (tmp / "quotes.csv").write_bytes(os.urandom(100_000))
            (tmp / "shifts.csv").write_bytes(os.urandom(400_000))  # does not fit
        assert list(mnt.iterdir()) == []


def test_a_read_only_location_fails_the_preflight(tmp_path):
    with _tmpfs(tmp_path / f"ro-{uuid.uuid4().hex[:6]}", "ro,size=1m") as mnt:
        with pytest.raises(OutputError, match="read-only"):
            check_output_dir(mnt / "out", False)
        with pytest.raises(OutputError, match="read-only"):
            check_writable_dir(mnt / "cache", what="cache folder")


def test_an_output_folder_that_cannot_be_renamed_gets_its_entries_swapped(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.csv").write_text("old")
    real_replace = os.replace

    def no_dir_rename(src, dst):
        if Path(src) == out:
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_replace(src, dst)

    monkeypatch.setattr(safety.os, "replace", no_dir_rename)
    with atomic_output_dir(out) as tmp:
        _write_run(tmp)
    assert sorted(p.name for p in out.iterdir()) == ["framework_matrix.xlsx", "quotes.csv", "run.json", "shifts.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_parquet_written_in_blocks_reads_back_as_the_whole_frame_does(tmp_path):
    import pyarrow.parquet as pq

    from stakeholder_nlp.report.safety import write_parquet

    n = 1_050
    df = pd.DataFrame({"quote_id": [f"q{i}" for i in range(n)],
                       "lemmas": ["a b" if i % 7 else "" for i in range(n)],
                       "label": [None] * 300 + ["positive"] * (n - 300),  # no value in the first block
                       "score": np.linspace(-1, 1, n), "count": np.arange(n, dtype=np.int64)})
    whole = tmp_path / "whole.parquet"
    df.to_parquet(whole, index=False)
    blocked = write_parquet(df, tmp_path / "blocked.parquet", block_rows=250)
    assert pq.ParquetFile(blocked).metadata.num_row_groups == 5
    pd.testing.assert_frame_equal(pd.read_parquet(blocked), pd.read_parquet(whole))
    pd.testing.assert_frame_equal(pd.read_parquet(write_parquet(df, tmp_path / "one.parquet")),
                                  pd.read_parquet(whole))
