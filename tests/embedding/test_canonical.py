"""Vectors depend only on the text: canonical batch shapes on the default backend, so results do not depend
on batch neighbours or on what the embedding cache already held (same input + seed => identical CSVs)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from stakeholder_nlp.embedding.backends import OpenVINOEmbedder


def _stub(tokens=512, rows=16):
    stub = SimpleNamespace(canonical_batch_tokens=tokens, canonical_max_rows=rows)
    stub.canonical_rows = lambda w: OpenVINOEmbedder.canonical_rows(stub, w)
    return stub


def test_canonical_batches_hold_one_width_and_a_row_count_fixed_by_the_width():
    rng = np.random.default_rng(0)
    widths = rng.choice([8, 16, 24, 40, 128, 256], size=500)
    stub = _stub()
    seen = set()
    for idx, n_rows in OpenVINOEmbedder.canonical_batches(stub, widths):
        w = set(widths[idx].tolist())
        assert len(w) == 1 and 1 <= len(idx) <= n_rows == stub.canonical_rows(w.pop())
        seen.update(idx.tolist())
    assert seen == set(range(500))
    assert stub.canonical_rows(8) == 16 and stub.canonical_rows(40) == 12 and stub.canonical_rows(256) == 2


@pytest.mark.slow
def test_a_texts_vector_is_the_same_alone_in_a_batch_or_in_any_subset(fast_embedder, gp_corpus):
    texts = gp_corpus.texts[:80]
    together = fast_embedder.encode(texts)
    alone = np.stack([fast_embedder.encode([t])[0] for t in texts])
    rng = np.random.default_rng(1)
    pick = rng.permutation(len(texts))[:23]
    subset = fast_embedder.encode([texts[i] for i in pick])
    assert np.array_equal(together, alone)
    assert np.array_equal(together[pick], subset)


@pytest.mark.slow
def test_fresh_cache_and_a_cache_filled_by_partial_runs_give_identical_csvs(fast_embedder, gp_corpus, tmp_path):
    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.report import write_report
    from stakeholder_nlp.sentiment import VaderScorer

    corpus = gp_corpus.subset([i < 70 for i in range(len(gp_corpus))])
    texts = corpus.texts
    rng = np.random.default_rng(2)
    outputs = []
    for name, partial_runs in (("fresh", 0), ("history", 3)):
        with EmbeddingCache(tmp_path / f"cache-{name}") as cache:
            for _ in range(partial_runs):  # interrupted / earlier runs over other subsets and chunkings
                part = [texts[i] for i in rng.permutation(len(texts))[: int(rng.integers(5, 40))]]
                embed_texts(part, fast_embedder, cache=cache, chunk_tokens=int(rng.integers(64, 2048)))
            a = analyze(corpus, fast_embedder, cache=cache, sentiment=VaderScorer(), runs=0, n_boot=50, seed=0)
        write_report(a, tmp_path / name)
        outputs.append({f: (tmp_path / name / f).read_bytes()
                        for f in ("quotes.csv", "framework_matrix.csv", "shifts.csv")})
    assert outputs[0] == outputs[1]
