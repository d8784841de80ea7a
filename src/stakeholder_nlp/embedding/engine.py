"""Embed texts through an :class:`~.base.Embedder`: deduplicated, cached, batched by a token budget,
long texts split at sentence boundaries and pooled, order restored exactly.

Long texts: all-MiniLM-L6-v2 sees at most 256 word pieces, and sentence-transformers silently truncates
beyond that. A quote is one person's answer, so dropping its end would drop content: texts over the window
are split into sentence windows that fit, each embedded, and pooled by a token-weighted mean (then
renormalised). ``EmbeddingResult.n_long_split`` counts them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .base import Embedder, TokenCounter
from .batching import dedupe, pool_windows, split_long_texts, token_budget_batches
from .cache import EmbeddingCache, set_key
from .executor import Executor

#: unique-text lists at least this long are also stored as one blob for fast whole-set re-runs
SET_CACHE_MIN = 256
#: ... and at most this many bytes of vectors: SQLite refuses a blob over 1e9 bytes by default (650,000
#: texts of 384 floats); larger sets use per-text rows
SET_CACHE_MAX_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    """Vectors (read-only, float32, L2-normalised, input order) and what it took to make them."""

    vectors: np.ndarray
    model_id: str
    n_texts: int
    n_unique: int
    n_cached: int
    n_embedded: int
    n_long_split: int
    seconds: float


def _lengths(embedder: Embedder, texts: Sequence[str]) -> list[int]:
    if isinstance(embedder, TokenCounter):
        return embedder.token_lengths(texts)
    return [max(1, len(t) // 4) + 2 for t in texts]  # a rough word-piece estimate


def embed_texts(texts: Sequence[str], embedder: Embedder, *, cache: EmbeddingCache | None = None,
                batch_size: int = 128, chunk_tokens: int = 32768, progress: bool = False,
                executor: Executor | None = None) -> EmbeddingResult:
    """Embed ``texts``; with a ``cache``, only texts it has not seen are embedded.

    Unseen unique texts are sorted by length and cut into chunks of at most ``chunk_tokens`` padded word
    pieces; each chunk is embedded (the embedder batches within it) and stored before the next starts,
    so an interrupted run loses at most the chunk in flight and resumes where it stopped.

    ``executor`` (:mod:`~.executor`; e.g. :class:`~.distributed.RayExecutor`): where the chunks are embedded
    (default: this process). Each chunk is one ``encode`` call wherever it runs, so the vectors are the same;
    chunks are stored as they come back.
    """
    start = time.perf_counter()
    texts = [str(t) for t in texts]
    unique, inverse = dedupe(texts)
    dim = embedder.dim
    whole_set = SET_CACHE_MIN <= len(unique) and len(unique) * dim * 4 <= SET_CACHE_MAX_BYTES
    key = set_key(unique) if cache is not None and whole_set else None
    whole = cache.get_set(embedder.model_id, key, len(unique), dim) if key is not None else None
    if whole is not None:
        out = whole if len(unique) == len(texts) else whole[inverse]
        out.setflags(write=False)
        return EmbeddingResult(out, embedder.model_id, len(texts), len(unique), len(unique), 0, 0,
                               time.perf_counter() - start)
    if cache is not None:
        found, vectors = cache.get_many(embedder.model_id, unique, dim)
    else:
        found, vectors = np.zeros(len(unique), dtype=bool), np.zeros((len(unique), dim), dtype=np.float32)
    n_cached = int(found.sum())
    todo = np.flatnonzero(~found)
    n_split = 0
    if len(todo):
        todo_texts = [unique[i] for i in todo]
        lengths = _lengths(embedder, todo_texts)
        window = int(getattr(embedder, "max_tokens", 10**9))
        windows = split_long_texts(todo_texts, lengths, window, lambda ts: _lengths(embedder, ts))
        n_split = windows.n_split
        pieces_of: dict[int, list[int]] = {}
        for j, owner in enumerate(windows.owner.tolist()):
            pieces_of.setdefault(owner, []).append(j)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(unique), initial=n_cached, unit="texts", dynamic_ncols=True,
                       desc=f"embedding {embedder.model_id}")
        cost = np.minimum(np.asarray(lengths), window)
        chunks = [np.sort(c) for c in token_budget_batches(cost, max_tokens=chunk_tokens,
                                                           max_batch=max(batch_size, 512))]
        pieces = [[j for t in chunk.tolist() for j in pieces_of[t]] for chunk in chunks]
        if executor is None:  # one chunk's texts at a time in memory
            encoded = ((k, embedder.encode([windows.pieces[j] for j in js], batch_size=batch_size))
                       for k, js in enumerate(pieces))
        else:
            encoded = executor.map(embedder, "encode", [[windows.pieces[j] for j in js] for js in pieces],
                                   batch_size=batch_size)
        n_done = 0
        try:
            for k, piece_vecs in encoded:
                n_done += 1
                chunk, js = chunks[k], pieces[k]
                local = type(windows)([], np.searchsorted(chunk, windows.owner[js]), windows.weight[js], 0)
                pooled = pool_windows(piece_vecs, local, len(chunk))
                rows = todo[chunk]
                vectors[rows] = pooled
                if cache is not None:
                    cache.put(embedder.model_id, [unique[r] for r in rows], pooled)
                if bar is not None:
                    bar.update(len(chunk))
            if n_done != len(chunks):  # never a vector of zeros for a chunk that did not come back
                raise RuntimeError(f"{len(chunks) - n_done} of {len(chunks)} embedding chunks did not come back "
                                   f"from the executor {getattr(executor, 'name', executor)!r}")
        finally:  # a failed write (the cache filled up) ends the bar's line before the error is printed
            if bar is not None:
                bar.close()
    if key is not None:
        cache.put_set(embedder.model_id, key, vectors)
    out = vectors if len(unique) == len(texts) else vectors[inverse]  # all distinct: inverse is the identity
    out.setflags(write=False)
    return EmbeddingResult(out, embedder.model_id, len(texts), len(unique), n_cached, len(todo), n_split,
                           time.perf_counter() - start)
