"""The real model: fp32 reference vs the fast int8 paths on a small fixed set (no timing here)."""

from __future__ import annotations

import numpy as np
import pytest

from stakeholder_nlp.embedding import Embedder, embed_texts, load_embedder

pytestmark = pytest.mark.slow

SHORT = ["No.", "Thank you", "Not really.", "All good.", "Well done.", "Data are missing.",
         "The multidisciplinary team was left out of the cluster."]


@pytest.fixture(scope="module")
def texts(gp_corpus):
    return gp_corpus.texts + SHORT


def test_backends_satisfy_the_protocol(reference_embedder, fast_embedder):
    for e in (reference_embedder, fast_embedder):
        assert isinstance(e, Embedder)
        assert e.dim == 384
    assert reference_embedder.model_id != fast_embedder.model_id
    assert reference_embedder.model_id.split("/")[0] == fast_embedder.model_id.split("/")[0]


def test_fast_path_agrees_with_fp32_reference(texts, reference_embedder, fast_embedder):
    ref = embed_texts(texts, reference_embedder).vectors
    fast = embed_texts(texts, fast_embedder).vectors
    cos = (ref * fast).sum(1)
    assert cos.mean() >= 0.99, cos.mean()
    assert cos.min() >= 0.97, (cos.min(), texts[int(cos.argmin())])
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(("backend", "mean_cos", "min_cos"), [("onnx-fp32", 0.99999, 0.9999),
                                                                ("openvino-fp32", 0.99999, 0.9999),
                                                                ("onnx-int8", 0.985, 0.93)])
def test_graph_paths_agree_with_reference(texts, reference_embedder, backend, mean_cos, min_cos):
    ref = embed_texts(texts, reference_embedder).vectors
    other = embed_texts(texts, load_embedder(backend)).vectors
    cos = (ref * other).sum(1)
    assert cos.mean() >= mean_cos and cos.min() >= min_cos


def test_reference_equals_plain_sentence_transformers_on_texts_that_fit(reference_embedder):
    texts = SHORT
    ours = embed_texts(texts, reference_embedder).vectors
    plain = reference_embedder._model.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, plain, atol=1e-6)


def test_ray_actor_pool_gives_in_process_vectors(texts):
    ray = pytest.importorskip("ray")
    from stakeholder_nlp.embedding.distributed import embed_with_ray

    embedder = load_embedder("fast")
    sample = texts[:64]
    # the same 16-row batches in process: a batch is what a model call sees
    local = np.concatenate([embedder.encode(sample[k:k + 16], batch_size=16) for k in range(0, 64, 16)])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = embed_with_ray(sample, _fast_factory, actors=2, batch_size=16, rows_per_batch=16)
    finally:
        ray.shutdown()
    np.testing.assert_array_equal(remote, local)


def test_fast_path_vectors_do_not_depend_on_batch_neighbours(texts, fast_embedder):
    # static int8 scales: a text's vector is the same whichever texts share its batch
    alone = fast_embedder.encode(texts[:8], batch_size=1)
    together = fast_embedder.encode(texts[:8], batch_size=8)
    np.testing.assert_allclose(alone, together, atol=2e-5)


def _fast_factory():
    return load_embedder("fast")
