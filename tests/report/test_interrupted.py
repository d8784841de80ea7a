"""kill -9 while writing: the results folder and the embed ``.npy`` are complete or absent, never
half-written, and the rerun needs no ``--force``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

ANALYSIS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np, pandas as pd
    from stakeholder_nlp.corpus import load_corpus
    from stakeholder_nlp.embedding import HashingEmbedder
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.report import writer
    from stakeholder_nlp.sentiment import VaderScorer

    out, ready, slow = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "slow"
    rng = np.random.default_rng(0)
    words = "data practice nurse team access time cluster meeting budget patient care support".split()
    rows = [{"text": " ".join(rng.choice(words, 6)), "wave": w, "speaker": f"s{w}-{i % 6}"}
            for w in (2016, 2021) for i in range(18)]
    a = analyze(load_corpus(pd.DataFrame(rows)), HashingEmbedder(64), sentiment=VaderScorer(), runs=0, n_boot=50)
    if slow:  # stop for good after the CSVs are written, before the figures, HTML and run.json
        original = writer.write_figures
        def stall(*args, **kwargs):
            ready.write_text("csv written")
            time.sleep(600)
            return original(*args, **kwargs)
        writer.write_figures = stall
    writer.write_report(a, out, input_path=None)
    ready.write_text("done")
""")

EMBED = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from stakeholder_nlp.embedding import HashingEmbedder, engine, stream

    src, out, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    calls = []
    original = engine.embed_texts
    def slow(texts, embedder, **kw):
        calls.append(1)
        if len(calls) == 2:
            ready.write_text("first block written")
            time.sleep(600)
        return original(texts, embedder, **kw)
    stream.embed_texts = slow
    stream.embed_file(src, out, HashingEmbedder(32), block_rows=50)
""")


def _run_until(script: str, args: list[str], ready: Path, timeout: float = 240) -> None:
    """Start ``script``, wait until it writes ``ready``, then SIGKILL it."""
    log = ready.with_name("stderr.log")
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=err)
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None:
                raise AssertionError(log.read_text()[-2000:])
            if time.monotonic() > deadline:
                raise AssertionError("the writer never reached the point to kill it at")
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        log.unlink(missing_ok=True)


def test_kill_9_while_writing_leaves_no_results_folder_and_the_rerun_needs_no_force(tmp_path):
    out = tmp_path / "results"
    ready = tmp_path / "ready"
    _run_until(ANALYSIS, [str(out), str(ready), "slow"], ready)
    assert ready.read_text() == "csv written"
    assert not out.exists()  # the CSVs went to .results.partial-<pid>, never to results/
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".results.partial-")]
    assert len(leftovers) == 1 and (tmp_path / leftovers[0] / "quotes.csv").exists()

    ready.unlink()
    done = subprocess.run([sys.executable, "-c", ANALYSIS, str(out), str(ready), "fast"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "run.json").exists() and (out / "quotes.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready", "results"]  # the dead run's folder is gone


@pytest.mark.parametrize("suffix", [".csv"])
def test_kill_9_during_embed_leaves_no_npy_at_the_final_path(tmp_path, suffix):
    src = tmp_path / f"texts{suffix}"
    src.write_text("text\n" + "".join(f"quote number {i} about data\n" for i in range(200)))
    out = tmp_path / "vectors.npy"
    ready = tmp_path / "ready"
    np.save(out, np.full((2, 2), 7.0, dtype=np.float32))  # an earlier result
    _run_until(EMBED, [str(src), str(out), str(ready)], ready)
    assert np.load(out).tolist() == [[7.0, 7.0], [7.0, 7.0]]  # untouched, not zeros of the new shape
    assert not (tmp_path / "vectors.npy.json").exists()  # nor a record of vectors that were never written
    from stakeholder_nlp.embedding import HashingEmbedder
    from stakeholder_nlp.embedding.stream import embed_file

    res = embed_file(src, out, HashingEmbedder(32), block_rows=50)
    assert res.rows == 200 and np.load(out).shape == (200, 32)
    # the vectors and the record of their model and texts that `analyze --embeddings` checks
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready", "texts.csv", "vectors.npy", "vectors.npy.json"]
