"""Faults during the ``--force`` swap, when the new results replace the previous ones: an error or a kill -9
at each step leaves ``OUT`` holding one complete result set (the previous one unless the new one was wholly
in place), never an absent or mixed folder; an error is an :class:`OutputError`. Injected by a
monkeypatched ``os.replace`` (no disk is filled)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stakeholder_nlp.errors import OutputError
from stakeholder_nlp.report import safety
from stakeholder_nlp.report.safety import atomic_output_dir, check_output_dir

ROOT = Path(__file__).resolve().parents[2]
OLD = {"quotes.csv": "old quotes\n", "shifts.csv": "old shifts\n", "run.json": '{"run": "old"}'}
NEW = {"quotes.csv": "new quotes\n", "shifts.csv": "new shifts\n", "extra.csv": "new only\n", "run.json": '{"run": "new"}'}


def _previous(out: Path) -> None:
    with atomic_output_dir(out) as tmp:
        for name, text in OLD.items():
            (tmp / name).write_text(text)


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


def _fail_on(monkeypatch, when) -> None:
    """``os.replace`` in safety raises EIO on the call for which ``when(src, dst, n)`` is true (n counts calls)."""
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(1)
        if when(Path(src), Path(dst), len(calls)):
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(safety.os, "replace", replace)


def _no_folder_rename(out: Path):
    """OUT is a mount point: renaming it fails, so the swap moves its entries instead."""
    return lambda src, dst, n: src == out


@pytest.mark.parametrize("step", ["new into place", "marker"])
def test_an_error_between_the_two_renames_puts_the_previous_results_back(tmp_path, monkeypatch, step):
    out = tmp_path / "out"
    _previous(out)
    if step == "new into place":
        _fail_on(monkeypatch, lambda src, dst, n: dst == out and src.name.startswith(".out.partial-"))
    else:  # writing the marker into the moved-aside folder fails (after OUT was renamed away)
        real_write = Path.write_text
        monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, "No space left on device")) if self.parent.name.startswith(".out.old-")
            else real_write(self, *a, **k))
    with pytest.raises(OutputError, match="output folder .* cannot be written"), atomic_output_dir(out) as tmp:
        for name, text in NEW.items():
            (tmp / name).write_text(text)
    assert _contents(out) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("fail_at", [2, 5, 8])  # moving an old entry out; the first new one in; run.json in
def test_an_error_while_swapping_entries_puts_every_previous_entry_back(tmp_path, monkeypatch, fail_at):
    out = tmp_path / "out"
    _previous(out)
    rename_out = _no_folder_rename(out)
    # call 1 is the refused folder rename; 2-4 move OLD's entries out, 5-8 move NEW's in (run.json last)
    _fail_on(monkeypatch, lambda src, dst, n: rename_out(src, dst, n) or n == fail_at)
    with pytest.raises(OutputError), atomic_output_dir(out) as tmp:
        for name, text in NEW.items():
            (tmp / name).write_text(text)
    monkeypatch.undo()
    assert _contents(out) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from stakeholder_nlp.report import safety

    out, mode, kill_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    real, calls = os.replace, []
    def replace(src, dst):
        if mode == "entries" and Path(src) == out:
            raise OSError(16, "Device or resource busy")  # a mount point: its entries are swapped
        calls.append(1)
        if len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)
    safety.os.replace = replace
    new = {"quotes.csv": "new quotes\\n", "shifts.csv": "new shifts\\n", "extra.csv": "new only\\n",
           "run.json": '{"run": "new"}'}
    with safety.atomic_output_dir(out) as tmp:
        for name, text in new.items():
            (tmp / name).write_text(text)
""")


@pytest.mark.parametrize(("mode", "kill_at", "survivor"), [
    ("rename", 2, OLD),  # OUT renamed aside, the new folder not yet in place
    ("entries", 2, OLD),  # one old entry moved out (calls 1-3 move the old entries, 4-7 the new, run.json last)
    ("entries", 5, OLD),  # every old entry out, the first new one in
    ("entries", 7, OLD),  # every new entry in but run.json, the completion file
])
def test_kill_9_during_the_swap_leaves_the_previous_results_for_the_next_run(tmp_path, mode, kill_at, survivor):
    out = tmp_path / "out"
    _previous(out)
    done = subprocess.run([sys.executable, "-c", KILLED, str(out), mode, str(kill_at)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    with pytest.raises(safety.OutputExistsError):  # the next run puts the previous results back, then refuses
        check_output_dir(out, False)
    assert _contents(out) == survivor
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_kill_9_after_every_new_entry_is_in_keeps_the_new_results(tmp_path):
    out = tmp_path / "out"
    _previous(out)
    old = tmp_path / ".out.old-99"  # killed after the swap's last move, before the old entries were removed
    old.mkdir()
    for name, text in OLD.items():
        (old / name).write_text(text)
    (old / safety.PARTIAL_MARKER).write_text(json.dumps({"pid": 2**22 + 7, "mode": "entries"}))
    for p in out.iterdir():
        p.unlink()
    for name, text in NEW.items():
        (out / name).write_text(text)
    check_output_dir(out, True)
    assert _contents(out) == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
