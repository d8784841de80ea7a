from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from stakeholder_nlp.embedding.batching import dedupe, pool_windows, split_long_texts, token_budget_batches


@given(st.lists(st.sampled_from(["a", "b", "c", "dd", "e e"]), max_size=40))
def test_dedupe_inverse_restores_every_text(texts):
    unique, inverse = dedupe(texts)
    assert len(set(unique)) == len(unique)
    assert [unique[i] for i in inverse] == texts


@given(st.lists(st.integers(1, 300), max_size=200), st.integers(64, 4096))
def test_token_budget_batches_cover_each_index_once_within_budget(lengths, budget):
    batches = token_budget_batches(lengths, max_tokens=budget, max_batch=64)
    flat = np.concatenate(batches) if batches else np.array([], dtype=int)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    for b in batches:
        padded = max(lengths[i] for i in b) * len(b)
        assert padded <= budget or len(b) == 1
        assert len(b) <= 64


def test_batches_are_length_sorted():
    lengths = [50, 3, 20, 3, 49]
    flat = np.concatenate(token_budget_batches(lengths, max_tokens=10_000)).tolist()
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_long_text_split_at_sentences_and_pooled():
    def count(ts):
        return [len(t.split()) + 2 for t in ts]

    long_text = " ".join(f"Sentence number {i} is here." for i in range(30))
    texts = ["short one", long_text]
    w = split_long_texts(texts, count(texts), 40, count)
    assert w.n_split == 1
    assert w.pieces[0] == "short one"
    assert all(count([p])[0] <= 40 for p in w.pieces)
    assert " ".join(w.pieces[1:]) == long_text
    vecs = np.eye(len(w.pieces), 8, dtype=np.float32)
    pooled = pool_windows(vecs, w, 2)
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0)
    assert pooled[0, 0] == 1.0 and pooled[1, 0] == 0.0
