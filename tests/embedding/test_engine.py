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

from stakeholder_nlp.embedding import EmbeddingCache, HashingEmbedder, embed_texts, model_fingerprint
from stakeholder_nlp.errors import ModelError


class CountingEmbedder(HashingEmbedder):
    """Hashing embedder that counts what it is asked to encode and has a small token window."""

    max_tokens = 12

    def __init__(self):
        super().__init__(dim=64)
        self.seen: list[str] = []

    def token_lengths(self, texts):
        return [len(t.split()) + 2 for t in texts]

    def encode(self, texts, *, batch_size=32):
        self.seen.extend(texts)
        return super().encode(texts, batch_size=batch_size)


TEXTS = [f"quote {i} about data " + "word " * (i % 4) for i in range(50)]


def test_order_is_restored_exactly():
    emb = CountingEmbedder()
    res = embed_texts(TEXTS, emb)
    np.testing.assert_array_equal(res.vectors, HashingEmbedder(dim=64).encode(TEXTS))
    assert not res.vectors.flags.writeable


def test_duplicates_are_embedded_once():
    emb = CountingEmbedder()
    texts = TEXTS[:5] * 4
    res = embed_texts(texts, emb)
    assert sorted(emb.seen) == sorted(TEXTS[:5])
    assert (res.n_texts, res.n_unique, res.n_embedded) == (20, 5, 5)
    np.testing.assert_array_equal(res.vectors[0], res.vectors[5])


def test_cache_hit_embeds_nothing_and_miss_embeds_only_new(tmp_path):
    with EmbeddingCache(tmp_path) as cache:
        first = embed_texts(TEXTS[:30], CountingEmbedder(), cache=cache)
        emb = CountingEmbedder()
        again = embed_texts(TEXTS, emb, cache=cache)
    assert first.n_embedded == 30
    assert (again.n_cached, again.n_embedded) == (30, 20)
    assert sorted(emb.seen) == sorted(TEXTS[30:])
    np.testing.assert_array_equal(again.vectors[:30], first.vectors)


def test_cache_never_mixes_models(tmp_path):
    with EmbeddingCache(tmp_path) as cache:
        embed_texts(TEXTS, HashingEmbedder(dim=64, seed=1), cache=cache)
        res = embed_texts(TEXTS, HashingEmbedder(dim=64, seed=2), cache=cache)
    assert res.n_cached == 0
    np.testing.assert_array_equal(res.vectors, HashingEmbedder(dim=64, seed=2).encode(TEXTS))


def test_long_texts_are_split_and_counted_not_truncated():
    emb = CountingEmbedder()
    long_text = "First point here. Second point there. Third point elsewhere. Fourth point again."
    res = embed_texts(["short", long_text], emb)
    assert res.n_long_split == 1
    assert all(len(t.split()) + 2 <= 12 for t in emb.seen)
    assert "Fourth point again." in " ".join(emb.seen)


def test_fingerprint_follows_file_content_not_name(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "config.json").write_text("{}")
        (d / "model.safetensors").write_bytes(b"weights")
    assert model_fingerprint(a) == model_fingerprint(b)
    (b / "model.safetensors").write_bytes(b"weights2")
    assert model_fingerprint(a) != model_fingerprint(b)
    (b / "README.md").write_text("docs do not change the model")
    (b / "model.safetensors").write_bytes(b"weights")
    assert model_fingerprint(a) == model_fingerprint(b)
    with pytest.raises(ModelError, match="does not exist"):
        model_fingerprint(tmp_path / "missing")


def test_kill_mid_run_loses_at_most_a_chunk_and_resumes(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parents[2] / 'src')!r})
        from stakeholder_nlp.embedding import EmbeddingCache, HashingEmbedder, embed_texts

        class Slow(HashingEmbedder):
            def encode(self, texts, *, batch_size=32):
                time.sleep(0.05)
                print("chunk", flush=True)
                return super().encode(texts, batch_size=batch_size)

        texts = [f"text number {{i}}" for i in range(2000)]
        embed_texts(texts, Slow(dim=32), cache=EmbeddingCache({str(tmp_path)!r}), chunk_tokens=40)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    chunks = 0
    for line in proc.stdout:
        chunks += line.startswith("chunk")
        if chunks >= 20:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    time.sleep(0.1)
    texts = [f"text number {i}" for i in range(2000)]
    reference = HashingEmbedder(dim=32).encode(texts)
    with EmbeddingCache(tmp_path) as cache:
        stored = cache.get(HashingEmbedder(dim=32).model_id, texts, 32)
        assert 0 < len(stored) < 2000
        for i, vec in stored.items():  # nothing partial or wrong
            np.testing.assert_array_equal(vec, reference[i])
        res = embed_texts(texts, HashingEmbedder(dim=32), cache=cache)
    assert res.n_cached == len(stored) and res.n_embedded == 2000 - len(stored)
    np.testing.assert_array_equal(res.vectors, reference)


def test_whole_set_rerun_reads_one_entry_and_matches(tmp_path):
    texts = [f"comment {i} on the ward" for i in range(400)]
    with EmbeddingCache(tmp_path) as cache:
        first = embed_texts(texts, HashingEmbedder(dim=32), cache=cache)
        emb = CountingEmbedder()
        again = embed_texts(texts + texts[:10], HashingEmbedder(dim=32), cache=cache)
        assert emb.seen == []
    assert again.n_embedded == 0 and again.n_cached == 400
    np.testing.assert_array_equal(again.vectors[:400], first.vectors)


def test_streaming_a_csv_matches_in_memory_embedding(tmp_path):
    import pandas as pd

    from stakeholder_nlp.embedding import embed_file

    texts = [f"row {i} " + "word " * (i % 5) for i in range(2500)]
    pd.DataFrame({"id": range(2500), "text": texts}).to_csv(tmp_path / "big.csv", index=False)
    with EmbeddingCache(tmp_path / "cache") as cache:
        res = embed_file(tmp_path / "big.csv", tmp_path / "vec.npy", HashingEmbedder(dim=32), cache=cache,
                         block_rows=700)
    vec = np.load(tmp_path / "vec.npy", mmap_mode="r")
    assert res.rows == 2500 and vec.shape == (2500, 32)
    np.testing.assert_array_equal(vec, HashingEmbedder(dim=32).encode(texts))


def test_sets_too_large_for_one_blob_use_per_text_rows_only(tmp_path, monkeypatch):
    """A 1,000,000-text set would exceed SQLite's 1e9-byte blob limit: above SET_CACHE_MAX_BYTES no
    whole-set row is written, and a rerun still finds every vector."""
    from stakeholder_nlp.embedding import engine

    texts = [f"comment number {i}" for i in range(300)]
    monkeypatch.setattr(engine, "SET_CACHE_MAX_BYTES", 300 * 64 * 4 - 1)
    with EmbeddingCache(tmp_path / "c") as cache:
        first = embed_texts(texts, HashingEmbedder(dim=64), cache=cache)
        assert cache._conn.execute("SELECT COUNT(*) FROM text_sets").fetchone()[0] == 0
        again = embed_texts(texts, HashingEmbedder(dim=64), cache=cache)
    assert again.n_cached == 300 and again.n_embedded == 0
    np.testing.assert_array_equal(first.vectors, again.vectors)
