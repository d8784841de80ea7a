"""Runs sharing one embedding cache at the same time: each gets what a solo run gets, and the cache stays whole.

* Opening: two processes setting up a new cache file at once can deadlock inside SQLite (both switching it
  to WAL), which SQLite breaks by failing one at once with "database is locked" (it was seen in the
  stress test below before the fix); opening retries that, and a lock held past ``LOCK_TIMEOUT_S`` is an
  ``OutputError`` (EBUSY) that says so.
* Four processes open one new cache at the same instant and interleave their writes (batches of
  overlapping texts, whole-set blobs): all succeed, ``PRAGMA integrity_check`` is ``ok``, every vector is
  the one written.
* Two ``analyze`` processes on one fresh ``--cache`` at the same time (fake, slowed embedder, so their
  embedding overlaps) write the files a solo run writes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from stakeholder_nlp.embedding import cache as cache_mod
from stakeholder_nlp.embedding.cache import EmbeddingCache, text_key
from stakeholder_nlp.errors import OutputError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "gp_clusters" / "quotes.jsonl"


def _locked() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = 5  # SQLITE_BUSY, as SQLite reports a deadlock it breaks
    return exc


def test_opening_retries_when_sqlite_breaks_a_setup_deadlock(monkeypatch, tmp_path):
    real, calls = cache_mod._configure, []

    def flaky(conn):
        calls.append(1)
        if len(calls) <= 2:
            raise _locked()
        real(conn)

    monkeypatch.setattr(cache_mod, "_configure", flaky)
    with EmbeddingCache(tmp_path / "c") as c:
        c.put("m", ["a"], np.ones((1, 4), np.float32))
        assert c.count("m") == 1
    assert len(calls) == 3


def test_a_lock_held_past_the_timeout_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(cache_mod, "LOCK_TIMEOUT_S", 0.3)
    monkeypatch.setattr(cache_mod, "_configure", lambda conn: (_ for _ in ()).throw(_locked()))
    with pytest.raises(OutputError) as err:
        EmbeddingCache(tmp_path / "c")
    assert err.value.errno == errno.EBUSY
    assert "is locked: another run held it for more than 0 s" in str(err.value)
    assert "wait for that run to finish or choose another --cache folder" in str(err.value)


WRITER = textwrap.dedent("""
    import hashlib, sys, time
    import numpy as np
    from stakeholder_nlp.embedding.cache import EmbeddingCache, set_key

    path, start, worker = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])

    def vec(t):
        return np.frombuffer(hashlib.sha512(t.encode()).digest()[:64], dtype=np.uint8).astype(np.float32)

    texts = [f"text {i}" for i in range(2000)]
    rng = np.random.default_rng(worker)
    while time.time() < start:  # all open the new cache at the same instant
        pass
    with EmbeddingCache(path) as c:
        for _ in range(40):
            batch = [texts[i] for i in rng.choice(len(texts), 25, replace=False)]
            found, got = c.get_many("m", batch, 64)
            assert all((got[i] == vec(t)).all() for i, t in enumerate(batch) if found[i])
            c.put("m", batch, np.stack([vec(t) for t in batch]))
        whole = sorted(texts[:500])
        c.put_set("m", set_key(whole), np.stack([vec(t) for t in whole]))
        assert (c.get_set("m", set_key(whole), len(whole), 64) == np.stack([vec(t) for t in whole])).all()
""")


def _vec(t: str) -> np.ndarray:
    return np.frombuffer(hashlib.sha512(t.encode()).digest()[:64], dtype=np.uint8).astype(np.float32)


def test_processes_opening_one_new_cache_at_once_interleave_writes_without_loss_or_corruption(tmp_path):
    for round_ in range(3):
        path = tmp_path / f"cache{round_}"
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start), str(w)],
                                  stderr=subprocess.PIPE, text=True) for w in range(4)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err[-2000:]
        conn = sqlite3.connect(path / "embeddings.sqlite")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT text_sha256, vector FROM vectors WHERE model = 'm'").fetchall()
        by_key = {text_key(f"text {i}"): f"text {i}" for i in range(2000)}
        assert len(rows) == len({k for k, _ in rows})  # one row per text
        assert all((np.frombuffer(v, np.float32) == _vec(by_key[k])).all() for k, v in rows)
        assert conn.execute("SELECT COUNT(*) FROM text_sets").fetchone()[0] == 1
        conn.close()


#: the CLI with a fake embedder slowed down (its encode calls of the two runs overlap) and VADER; waits for
#: a common start time after its imports
ANALYZE = textwrap.dedent("""
    import sys, time
    import stakeholder_nlp.embedding as embedding
    import stakeholder_nlp.sentiment as sentiment
    from stakeholder_nlp.cli import app
    from stakeholder_nlp.embedding import HashingEmbedder
    from stakeholder_nlp.sentiment import VaderScorer

    class SlowHashing(HashingEmbedder):
        def encode(self, texts, **kwargs):
            time.sleep(0.5)
            return super().encode(texts, **kwargs)

    embedding.load_embedder = lambda *a, **k: SlowHashing(dim=64)
    sentiment.load_scorer = lambda *a, **k: VaderScorer()
    start = float(sys.argv[1])
    while time.time() < start:
        time.sleep(0.005)
    sys.argv = ["stakeholder-nlp", *sys.argv[2:]]
    app()
""")


def _analyze(start: float, out: Path, cache: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ANALYZE, str(start), "analyze", str(CORPUS), "--out", str(out),
                             "--cache", str(cache), "--runs", "0", "--n-boot", "50", "--n-topics", "4"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cells(path: Path) -> list[list[tuple]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        return [list(ws.iter_rows(values_only=True)) for ws in wb.worksheets]
    finally:
        wb.close()


def _same_as(solo: Path, other: Path) -> list[str]:
    """Files of ``other`` that differ from ``solo``'s (run.json without timings, the workbook by its cells)."""
    files = sorted(str(p.relative_to(solo)) for p in solo.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(other)) for p in other.rglob("*") if p.is_file())
    differ = []
    for name in files:
        a, b = solo / name, other / name
        if name == "run.json":
            ja, jb = (json.loads(p.read_text()) for p in (a, b))
            same = {k: v for k, v in ja.items() if k != "timings_s"} == {k: v for k, v in jb.items()
                                                                        if k != "timings_s"}
        elif name.endswith(".xlsx"):
            same = _cells(a) == _cells(b)
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            differ.append(name)
    return differ


@pytest.mark.slow
def test_two_analyze_runs_sharing_a_cache_at_once_write_what_a_solo_run_writes(tmp_path):
    shared = tmp_path / "shared-cache"
    start = time.time() + 4  # after both have imported the stack
    runs = {name: _analyze(start, tmp_path / name, shared) for name in ("first", "second")}
    for name, p in runs.items():
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, f"{name}: {err[-3000:]}"
    solo = _analyze(0, tmp_path / "solo", tmp_path / "solo-cache")
    _, err = solo.communicate(timeout=600)
    assert solo.returncode == 0, err[-3000:]

    assert _same_as(tmp_path / "solo", tmp_path / "first") == []
    assert _same_as(tmp_path / "solo", tmp_path / "second") == []
    conn = sqlite3.connect(shared / "embeddings.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_texts = len({json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line})
    assert conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == n_texts
    solo_conn = sqlite3.connect(tmp_path / "solo-cache" / "embeddings.sqlite")
    q = "SELECT model, text_sha256, vector FROM vectors ORDER BY model, text_sha256"
    assert conn.execute(q).fetchall() == solo_conn.execute(q).fetchall()
    conn.close()
    solo_conn.close()
