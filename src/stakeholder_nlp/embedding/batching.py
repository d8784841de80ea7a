"""Batching that wastes nothing: duplicates once, length-sorted buckets under a token budget,
texts longer than the model's window split at sentence boundaries, and exact order restoration."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


def dedupe(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Unique texts in first-seen order, and ``inverse`` with ``unique[inverse[i]] == texts[i]``."""
    index: dict[str, int] = {}
    inverse = np.empty(len(texts), dtype=np.int64)
    for i, t in enumerate(texts):
        inverse[i] = index.setdefault(t, len(index))
    return list(index), inverse


def token_budget_batches(lengths: Sequence[int], *, max_tokens: int = 8192,
                         max_batch: int = 256) -> list[np.ndarray]:
    """Group indices into batches sorted by length, each padded batch within ``max_tokens``.

    The padded cost of a batch is ``len(batch) * longest``; a single text over the budget gets a batch of
    its own. Every index appears in exactly one batch.
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[np.ndarray] = []
    current: list[int] = []
    longest = 0
    for idx in order.tolist():
        n = int(lengths[idx])
        new_longest = max(longest, n)
        if current and (new_longest * (len(current) + 1) > max_tokens or len(current) >= max_batch):
            batches.append(np.asarray(current, dtype=np.int64))
            current, new_longest = [], n
        current.append(idx)
        longest = new_longest
    if current:
        batches.append(np.asarray(current, dtype=np.int64))
    return batches


@dataclass(frozen=True, slots=True)
class Windows:
    """Pieces to embed, and how to pool them back: ``owner[j]`` is the text piece ``j`` belongs to,
    ``weight[j]`` its token count (the pooled vector is the token-weighted mean, renormalised)."""

    pieces: list[str]
    owner: np.ndarray
    weight: np.ndarray
    n_split: int


def split_long_texts(texts: Sequence[str], lengths: Sequence[int], max_tokens: int,
                     count: Callable[[Sequence[str]], list[int]]) -> Windows:
    """Split each text longer than ``max_tokens`` word pieces into sentence windows that fit.

    Sentences are packed greedily into windows; a single sentence over the window is cut on word
    boundaries. Texts that fit are passed through unchanged (one piece, weight = its length).
    """
    pieces: list[str] = []
    owner: list[int] = []
    weight: list[int] = []
    n_split = 0
    for i, (text, n) in enumerate(zip(texts, lengths, strict=True)):
        if n <= max_tokens:
            pieces.append(text)
            owner.append(i)
            weight.append(max(n, 1))
            continue
        n_split += 1
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        units: list[str] = []
        for s, k in zip(sentences, count(sentences), strict=True):
            if k <= max_tokens:
                units.append(s)
                continue
            words = s.split()
            step = max(1, int(len(words) * max_tokens / k * 0.9))
            units.extend(" ".join(words[j:j + step]) for j in range(0, len(words), step))
        unit_lengths = count(units)
        window, window_len = [], 0
        for u, k in zip(units, unit_lengths, strict=True):
            if window and window_len + k > max_tokens:
                pieces.append(" ".join(window))
                owner.append(i)
                weight.append(window_len)
                window, window_len = [], 0
            window.append(u)
            window_len += k
        if window:
            pieces.append(" ".join(window))
            owner.append(i)
            weight.append(window_len)
    return Windows(pieces, np.asarray(owner, dtype=np.int64), np.asarray(weight, dtype=np.float32), n_split)


def pool_windows(vectors: np.ndarray, windows: Windows, n_texts: int) -> np.ndarray:
    """Token-weighted mean of each text's window vectors, L2-normalised; a text embedded in one piece
    keeps its vector bit for bit."""
    dim = vectors.shape[1]
    counts = np.bincount(windows.owner, minlength=n_texts)
    out = np.zeros((n_texts, dim), dtype=np.float64)
    np.add.at(out, windows.owner, vectors.astype(np.float64) * windows.weight[:, None])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    pooled = (out / np.maximum(norms, 1e-12)).astype(np.float32)
    single = counts[windows.owner] == 1
    pooled[windows.owner[single]] = vectors[single]
    return pooled
