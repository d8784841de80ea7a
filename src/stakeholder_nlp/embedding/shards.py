"""Embed a folder of parquet or CSV shards into one ``.npy``, each shard read by the worker that embeds it.

A national survey arrives as many files (a month of comments as ``part-0000.parquet`` ...). With an executor
(:class:`~.distributed.RayExecutor`: Ray Data ``map_batches`` on an actor pool), one unit of work is one
shard's *path*: the actor opens the file itself (every node sees the same shared folder), reads its text
column in blocks, embeds each block through :func:`~.engine.embed_texts` and sends back the shard's vectors.
No text travels from the driver. The driver writes each shard's vectors into the output ``.npy`` (a memory
map, reserved up front, renamed into place when complete: :mod:`.stream`) at the shard's row offset, as the
shards come back in any order.

Row ``i`` of the output is the vector of row ``i`` of the shards read in name order, which is also the row
order :func:`stakeholder_nlp.corpus.shards.read_shards` (``analyze FOLDER``) gives the corpus, and the
``<out>.json`` record carries the same texts digest :func:`~.stream.embed_file` would write for one file
holding every row, so ``analyze FOLDER --embeddings out.npy`` checks it as it checks any vectors file.
Without an executor the shards are embedded here, one after another: the same units, the same vectors (the
test suite compares the two runs byte for byte on a local two-worker Ray instance).

The driver reads each shard's text column once, before the pass, to count its rows and to fingerprint the
texts (reading is seconds per million rows; the encoder pass is the cost that moves). The embedding cache is
not used on this path: a cache is one SQLite file on the driver, which workers on other nodes cannot share.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..corpus.shards import shard_paths
from ..errors import EmbeddingsFileError
from .base import Embedder
from .engine import embed_texts
from .stream import StreamResult, TextsDigest, _atomic, _blocks, _reserve, write_meta

__all__ = ["ShardEncoder", "embed_shards"]

@dataclass(frozen=True)
class ShardEncoder:
    """What each worker holds: the embedder (pickled as the arguments that rebuild it) and how to read a
    shard. :meth:`embed_shard` is one unit of work."""

    embedder: Embedder
    text_col: str = "text"
    block_rows: int = 20_000

    def embed_shard(self, path: str) -> np.ndarray:
        """The vectors of every row of the shard at ``path``, read here in blocks of ``block_rows``."""
        parts = [np.asarray(embed_texts(texts, self.embedder).vectors)
                 for texts in _blocks(Path(path), self.text_col, self.block_rows)]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), dtype=np.float32)


def _scan(path: Path, text_col: str, digest: TextsDigest) -> int:
    rows = 0
    for texts in _blocks(path, text_col, 100_000):
        digest.update(texts)
        rows += len(texts)
    return rows


def embed_shards(path: str | Path | Sequence[str | Path], out: str | Path, embedder: Embedder, *,
                 text_col: str = "text", executor=None, block_rows: int = 20_000,
                 progress: bool = False) -> StreamResult:
    """Embed every row of the shards (a folder, one file, or a list of files, read in that order) into the
    ``.npy`` file ``out``; ``executor``: where the shards are embedded (default: this process)."""
    from .executor import LocalExecutor

    start = time.perf_counter()
    paths = shard_paths(path) if isinstance(path, (str, Path)) else [Path(p) for p in path]
    out = Path(out)
    digest = TextsDigest()
    rows = [_scan(p, text_col, digest) for p in paths]
    offsets = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
    total, dim = int(offsets[-1]), embedder.dim
    model = ShardEncoder(embedder, text_col, block_rows)
    bar = None
    with _atomic(out) as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, dim))
        _reserve(tmp, os.path.getsize(tmp))  # ENOSPC now, not SIGBUS when the memory map is written
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="rows", dynamic_ncols=True, desc=f"embedding {len(paths)} shards")
        done = np.zeros(len(paths), dtype=bool)
        try:
            for i, vectors in (executor or LocalExecutor()).map(model, "embed_shard", [str(p) for p in paths]):
                if vectors.shape != (rows[i], dim):
                    raise EmbeddingsFileError(f"{paths[i]}: the worker returned {vectors.shape[0]} vectors of "
                                              f"{vectors.shape[1]} dimensions; the driver counted {rows[i]} rows "
                                              f"(expected ({rows[i]}, {dim})): did the shard change during the run?")
                mm[offsets[i]:offsets[i + 1]] = vectors
                done[i] = True
                if bar is not None:
                    bar.update(rows[i])
            if not done.all():  # never a block of zeros for a shard that did not come back
                missing = [str(paths[i]) for i in np.flatnonzero(~done)[:3]]
                raise RuntimeError(f"{int((~done).sum())} of {len(paths)} shards did not come back from the "
                                   f"executor {getattr(executor, 'name', executor)!r} (first: {missing})")
            mm.flush()
        finally:
            del mm
            if bar is not None:
                bar.close()
    source = str(path) if isinstance(path, (str, Path)) else ", ".join(map(str, paths))
    write_meta(out, model_id=embedder.model_id, rows=total, dim=dim, texts_sha256=digest.hexdigest(),
               source=source)
    return StreamResult(out, total, dim, total, 0, time.perf_counter() - start)
