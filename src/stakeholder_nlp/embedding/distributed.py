"""Optional: the same embedder run as a Ray Data ``map_batches`` actor pool (``pip install
stakeholder-nlp[ray]``). Each actor builds its own embedder from a picklable factory; the vectors are the
ones the in-process embedder gives for the same batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .base import Embedder


class _EmbedActor:
    def __init__(self, factory: Callable[[], Embedder], batch_size: int) -> None:
        self.embedder = factory()
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        return {"row": batch["row"], "vector": self.embedder.encode(texts, batch_size=self.batch_size)}


def embed_with_ray(texts: Sequence[str], factory: Callable[[], Embedder], *, actors: int = 2,
                   batch_size: int = 64, rows_per_batch: int = 256) -> np.ndarray:
    """Embed ``texts`` on the running Ray cluster (call ``ray.init`` first); returns input order."""
    import ray.data

    ds = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
    out = ds.map_batches(_EmbedActor, fn_constructor_args=(factory, batch_size), batch_size=rows_per_batch,
                         concurrency=actors, batch_format="numpy")
    vectors = None
    for batch in out.iter_batches(batch_size=4096, batch_format="numpy"):
        if vectors is None:
            vectors = np.zeros((len(texts), batch["vector"].shape[1]), dtype=np.float32)
        vectors[batch["row"]] = batch["vector"]
    return vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)
