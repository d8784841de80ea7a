"""A static embedder: one stored vector per word piece, a text's vector the mean of its pieces' vectors.

The table ``models/static_minilm/`` was distilled from the shipped all-MiniLM-L6-v2 with model2vec
(``scripts/distill_static.py``; how, size and licence in its ``MODEL_CARD.md``): each of the 29,525
vocabulary tokens run through MiniLM alone, reduced to 256 dimensions by PCA, weighted by SIF, stored as
float16. Encoding is a tokenizer call and a gather: no transformer pass, plain numpy, no torch.

A vector here is **not** a MiniLM vector (256 dimensions, another space): :attr:`StaticEmbedder.model_id`
names the table's own digest, so cache entries never mix with MiniLM's and models trained on MiniLM
embeddings (the quote-mode classifier, the embedding-head sentiment scorer) refuse it and say so.

Same as model2vec's ``StaticModel.encode`` on the same folder, except that nothing is truncated (model2vec
cuts at 512 word pieces; a static mean has no window) and a text with no known word piece (empty, only
symbols the vocabulary lacks) gets the ``[UNK]`` row rather than a zero vector, so every row has unit norm.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .base import l2_normalise

#: the files that define what the embedder computes (their digest is in ``model_id``)
MODEL_FILES = ("model.safetensors", "tokenizer.json")


def default_static_path() -> Path:
    """``models/static_minilm/`` of this checkout (an editable install), else of the installed package's
    parent tree."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "models" / "static_minilm"
        if (candidate / "model.safetensors").is_file():
            return candidate
    raise ModelError("models/static_minilm/model.safetensors not found; distil it with "
                     "scripts/distill_static.py or pass model_dir=")


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for name in MODEL_FILES:
        h.update(name.encode())
        h.update(hashlib.sha256((root / name).read_bytes()).digest())
    return h.hexdigest()


class StaticEmbedder:
    """Mean of the distilled token vectors, L2-normalised (float32 rows of :attr:`dim`)."""

    #: texts tokenised per ``encode_batch`` call: bounds the tokenizer's transient memory
    block = 4096

    def __init__(self, model_dir: str | Path | None = None) -> None:
        root = Path(model_dir) if model_dir is not None else default_static_path()
        missing = [n for n in MODEL_FILES if not (root / n).is_file()]
        if missing:
            raise ModelError(f"{root} lacks {missing}; expected a model2vec folder (model.safetensors, "
                             "tokenizer.json) as written by scripts/distill_static.py")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self._dir = root
        tables = load_file(str(root / "model.safetensors"))
        if "embeddings" not in tables:
            raise ModelError(f"{root / 'model.safetensors'} holds {sorted(tables)}; expected 'embeddings'")
        if "weights" in tables or "mapping" in tables:
            raise ModelError(f"{root} is a vocabulary-quantised model2vec model (weights/mapping); "
                             "distil without vocabulary_quantization")
        self._table = np.ascontiguousarray(tables["embeddings"], dtype=np.float32)
        self._tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        unk = json.loads(self._tok.to_str())["model"].get("unk_token")
        self._unk = self._tok.token_to_id(unk) if unk else None
        self._fallback = l2_normalise(self._table[[self._unk if self._unk is not None else 0]])[0]
        self._model_id = f"static-{_digest(root)[:16]}/m2v-mean"

    def __reduce__(self):
        return (type(self), (self._dir,))

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return int(self._table.shape[1])

    def encode(self, texts: Sequence[str], *, batch_size: int = 1024) -> np.ndarray:
        """Vectors in input order; ``batch_size`` does not change them (each row depends only on its text)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.block):
            chunk = [str(t) for t in texts[start:start + self.block]]
            encodings = self._tok.encode_batch(chunk, add_special_tokens=False)
            lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
            ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
            if self._unk is not None:  # unknown pieces carry no meaning: left out of the mean
                keep = ids != self._unk
                owner = np.repeat(np.arange(len(chunk)), lengths)[keep]
                ids = ids[keep]
                lengths = np.bincount(owner, minlength=len(chunk))
            # one zero row after the gathered rows: every segment start is a valid index, also an empty
            # last text's; each text's rows are summed alone, so a vector never depends on its neighbours
            rows = np.concatenate([self._table[ids], np.zeros((1, self.dim), dtype=np.float32)])
            sums = np.add.reduceat(rows, np.cumsum(lengths) - lengths, axis=0)
            block = out[start:start + len(chunk)]
            block[:] = sums / np.maximum(lengths, 1)[:, None]
            block[lengths == 0] = self._fallback
        return l2_normalise(out)
