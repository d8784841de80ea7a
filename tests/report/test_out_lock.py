"""One run per output folder: while a run holds ``--out`` a second one is refused with one line and exit 2
(before, both finished and the one that renamed last silently replaced the other's results); a lock left
by a killed run is stale and taken over."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stakeholder_nlp.errors import OutputError
from stakeholder_nlp.report.safety import OutputLockedError, hold_output_dir, lock_path

ROOT = Path(__file__).resolve().parents[2]

# `analyze` through the real CLI, stopped for good once it holds the folder (where the model would load)
HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import stakeholder_nlp.embedding as embedding
    from stakeholder_nlp.cli import app

    ready = Path(sys.argv[1])
    def stall(*args, **kwargs):
        ready.write_text("holding")
        time.sleep(600)
    embedding.load_embedder = stall
    app(sys.argv[2:])
""")
CLI = "from stakeholder_nlp.cli import app; app()"


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("text,wave,speaker\n" + "".join(f"quote {i} about the {w} clinic,{w},s{i}\n"
                                                     for w in (2016, 2021) for i in range(6)))
    return path


def _env(tmp_path) -> dict[str, str]:
    return {**os.environ, "STAKEHOLDER_NLP_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1"}


def _start_holder(tmp_path, args: list[str]) -> subprocess.Popen:
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(ready), *args], cwd=ROOT, env=_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240  # a safety net, not a measurement
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode()[-2000:])
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the first run never reached the point where it holds the folder")
        time.sleep(0.1)
    return proc


def test_a_second_analyze_on_a_held_out_is_refused_and_a_killed_holders_lock_is_taken_over(tmp_path, corpus):
    out = tmp_path / "results"
    args = ["analyze", str(corpus), "--out", str(out), "--runs", "0", "--n-boot", "50"]
    first = _start_holder(tmp_path, args)
    try:
        holder = json.loads(lock_path(out).read_text())
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()

        second = subprocess.run([sys.executable, "-c", CLI, *args, "--seed", "1"], cwd=ROOT, env=_env(tmp_path),
                                capture_output=True, text=True, timeout=600)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith(f"error: [Errno 16] output folder {out} is in use by another run (pid {first.pid} on host "
                                   f"{socket.gethostname()}, since ")
        assert lines[0].endswith("wait for it to finish or choose another --out")
        assert "report:" not in second.stdout
        with pytest.raises(OutputLockedError, match=f"pid {first.pid}"):  # the library's writer is refused too
            with hold_output_dir(out):
                pass
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        first.stderr.close()

    # the killed run's lock file is still there, naming a dead pid: stale, so the next run takes it over
    assert json.loads(lock_path(out).read_text())["pid"] == first.pid
    with hold_output_dir(out) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock_path(out).exists()  # released with the run
    assert not out.exists()  # the killed run never wrote results


def test_a_lock_file_naming_a_dead_process_is_stale(tmp_path):
    out = tmp_path / "out"
    lock_path(out).write_text(json.dumps({"pid": 2**22 + 7, "host": socket.gethostname(), "started": 0}))
    with hold_output_dir(out) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []


def test_the_holding_process_may_take_its_own_lock_again(tmp_path):
    out = tmp_path / "out"
    with hold_output_dir(out):  # the CLI holds it for the command; the writer takes it again
        with hold_output_dir(out):
            pass
        assert lock_path(out).exists()  # the inner exit does not release the outer hold
    assert not lock_path(out).exists()


def test_a_lock_that_cannot_be_created_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot be written"):
        with hold_output_dir(tmp_path / "file" / "out"):
            pass
