"""Embedding: the Embedder protocol, backends (reference fp32, fast int8), cache, engine, streaming.

Importing this package does not import torch, onnxruntime or OpenVINO; the backends import them when built.
"""

from .base import Embedder, HashingEmbedder, TokenCounter, default_model_path, l2_normalise, model_fingerprint
from .cache import EmbeddingCache
from .engine import EmbeddingResult, embed_texts

__all__ = [
    "Embedder", "EmbeddingCache", "EmbeddingResult", "HashingEmbedder", "TokenCounter", "default_model_path",
    "embed_texts", "l2_normalise", "load_embedder", "model_fingerprint", "embed_file",
]


def load_embedder(backend: str = "fast", **kwargs):
    """See :func:`stakeholder_nlp.embedding.backends.load_embedder`."""
    from .backends import load_embedder as _load

    return _load(backend, **kwargs)


def embed_file(*args, **kwargs):
    """See :func:`stakeholder_nlp.embedding.stream.embed_file`."""
    from .stream import embed_file as _embed_file

    return _embed_file(*args, **kwargs)
