"""Faults while the embedding cache is written: a kill -9 in the middle of a batch's commit, a disk that fills
up, a cache that turns read-only. Each ends typed (:class:`OutputError` naming the cache, or the kill) and
leaves the cache consistent: every batch committed before is intact, nothing of the failed one is stored,
and a rerun embeds exactly what is missing. Faults are injected (SQLite's own SQLITE_FULL through
``max_page_count``, a read-only connection, a trace hook that kills at ``COMMIT``); no disk is filled."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.embedding.cache import EmbeddingCache, set_key
from stakeholder_nlp.embedding.engine import embed_texts
from stakeholder_nlp.errors import OutputError

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [f"quote number {i} about the waiting list" for i in range(300)]
EMBEDDER = HashingEmbedder(16)

# embed TEXTS into the cache in chunks of ~40 texts; die by SIGKILL when the chosen COMMIT starts
KILLED = textwrap.dedent("""
    import os, signal, sys
    from stakeholder_nlp.embedding import HashingEmbedder
    from stakeholder_nlp.embedding.cache import EmbeddingCache
    from stakeholder_nlp.embedding.engine import embed_texts

    folder, at = sys.argv[1], sys.argv[2]
    texts = [f"quote number {i} about the waiting list" for i in range(300)]
    state = {"commits": 0, "last": ""}
    def hook(sql):
        if sql == "COMMIT":
            state["commits"] += 1
            if (at == "batch" and state["commits"] == 3) or (at == "set" and state["last"].startswith(
                    "INSERT OR REPLACE INTO text_sets")):
                os.kill(os.getpid(), signal.SIGKILL)
        else:
            state["last"] = sql
    with EmbeddingCache(folder) as cache:
        cache._conn.set_trace_callback(hook)
        embed_texts(texts, HashingEmbedder(16), cache=cache, chunk_tokens=400)
    print("finished")
""")


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def _assert_consistent(folder: Path) -> int:
    """The cache holds only exact vectors, and a rerun embeds exactly what is missing; returns the count."""
    assert _integrity(folder / "embeddings.sqlite") == "ok"
    expected = embed_texts(TEXTS, EMBEDDER).vectors
    with EmbeddingCache(folder) as cache:
        n = cache.count(EMBEDDER.model_id)
        found, vectors = cache.get_many(EMBEDDER.model_id, TEXTS, EMBEDDER.dim)
        assert int(found.sum()) == n
        np.testing.assert_array_equal(vectors[found], expected[found])  # no half-written vector
        rerun = embed_texts(TEXTS, EMBEDDER, cache=cache, chunk_tokens=400)
    assert (rerun.n_cached, rerun.n_embedded) == (n, len(TEXTS) - n)
    np.testing.assert_array_equal(rerun.vectors, expected)
    return n


@pytest.mark.parametrize("at", ["batch", "set"])
def test_kill_9_during_a_commit_leaves_the_committed_batches_and_nothing_of_the_killed_one(tmp_path, at):
    done = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path), at], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]  # killed at the COMMIT, not finished
    with EmbeddingCache(tmp_path) as cache:
        whole = cache.get_set(EMBEDDER.model_id, set_key(TEXTS), len(TEXTS), EMBEDDER.dim)
    n = _assert_consistent(tmp_path)
    if at == "batch":  # two chunks were committed, the third was being committed
        assert 0 < n < len(TEXTS)
    else:  # every per-text row was committed; the whole-set blob's transaction died
        assert n == len(TEXTS)
    assert whole is None  # no whole-set entry, let alone a partial one


def _fill_up(cache: EmbeddingCache) -> None:
    """From now on the database may not grow: SQLite fails the next write that needs a page (SQLITE_FULL)."""
    pages = cache._conn.execute("PRAGMA page_count").fetchone()[0]
    cache._conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_during_a_batch_is_an_output_error_and_the_earlier_batches_stay(tmp_path):
    vectors = embed_texts(TEXTS, EMBEDDER).vectors
    with EmbeddingCache(tmp_path) as cache:
        cache.put(EMBEDDER.model_id, TEXTS[:5], vectors[:5])
        _fill_up(cache)
        with pytest.raises(OutputError) as err:
            cache.put(EMBEDDER.model_id, TEXTS[5:], vectors[5:])
        assert err.value.errno == errno.ENOSPC
        assert str(err.value).startswith(f"[Errno 28] embedding cache {cache.path} cannot be written: the disk "
                                         "is full; free space or choose another --cache folder")
        assert cache.count() == 5  # nothing of the failed batch
        with pytest.raises(OutputError, match="disk is full"):  # the whole-set blob: no partial row either
            cache.put_set(EMBEDDER.model_id, set_key(TEXTS), vectors)
        assert cache.get_set(EMBEDDER.model_id, set_key(TEXTS), len(TEXTS), EMBEDDER.dim) is None
    assert _assert_consistent(tmp_path) == 5


def test_a_full_disk_in_the_middle_of_embedding_stops_typed_and_the_rerun_resumes(tmp_path, monkeypatch):
    real_put = EmbeddingCache.put
    calls = []

    def put_then_fill(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            _fill_up(self)
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(EmbeddingCache, "put", put_then_fill)
    with EmbeddingCache(tmp_path) as cache, pytest.raises(OutputError, match="disk is full"):
        embed_texts(TEXTS, EMBEDDER, cache=cache, chunk_tokens=400)
    monkeypatch.undo()
    assert 0 < _assert_consistent(tmp_path) < len(TEXTS)  # the two chunks before the full disk were kept


def test_a_cache_that_turned_read_only_is_an_output_error_and_keeps_its_vectors(tmp_path):
    vectors = embed_texts(TEXTS, EMBEDDER).vectors
    with EmbeddingCache(tmp_path) as cache:
        cache.put(EMBEDDER.model_id, TEXTS[:5], vectors[:5])
        cache._conn.close()  # the file is now opened read-only (a read-only mount, permissions taken away)
        cache._conn = sqlite3.connect(f"file:{cache.path}?mode=ro", uri=True)
        with pytest.raises(OutputError, match="read-only or not writable by you") as err:
            cache.put(EMBEDDER.model_id, TEXTS[5:], vectors[5:])
        assert err.value.errno == errno.EROFS
    assert _assert_consistent(tmp_path) == 5


def test_a_cache_folder_that_cannot_be_opened_for_writing_is_an_output_error(tmp_path, monkeypatch):
    import stakeholder_nlp.embedding.cache as cache_module

    real_connect = sqlite3.connect
    monkeypatch.setattr(cache_module.sqlite3, "connect",
                        lambda path, **kw: real_connect(f"file:{path}?mode=ro", uri=True, **kw))
    with pytest.raises(OutputError, match="cannot be opened for writing .*choose another --cache folder"):
        EmbeddingCache(tmp_path / "cache")


def test_analyze_with_a_cache_that_fills_up_exits_2_in_one_line_and_writes_no_results(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import stakeholder_nlp.embedding as embedding
    from stakeholder_nlp.cli import app

    corpus = tmp_path / "q.csv"
    corpus.write_text("text,wave,speaker\n" + "".join(f"quote {i} about the {w} clinic and its car park,{w},s{i}\n"
                                                     for w in (2016, 2021) for i in range(40)))
    monkeypatch.setattr(embedding, "load_embedder", lambda *a, **k: HashingEmbedder(64))
    real_put = EmbeddingCache.put

    def full(self, *args, **kwargs):
        _fill_up(self)
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(EmbeddingCache, "put", full)
    cache, out = tmp_path / "cache", tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(corpus), "--out", str(out), "--cache", str(cache), "--runs", "0"])
    assert res.exit_code == 2, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert errors == [line for line in res.output.splitlines() if "Traceback" in line or line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: [Errno 28] embedding cache {cache / 'embeddings.sqlite'} "
                                                     "cannot be written: the disk is full")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cache", "q.csv"]
    assert _integrity(cache / "embeddings.sqlite") == "ok"
