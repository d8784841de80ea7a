"""Tokenisation shared by the graph backends (ONNX Runtime, OpenVINO): a fast Rust tokenizer, no
truncation (the engine splits long texts), batches padded only to their own longest text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .batching import token_budget_batches


class WordPieceTokenizer:
    """The model's ``tokenizer.json`` via the ``tokenizers`` library, with its window size."""

    def __init__(self, model_dir: str | Path) -> None:
        from tokenizers import Tokenizer

        root = Path(model_dir)
        path = root / "tokenizer.json"
        if not path.exists():
            raise ModelError(f"{path} not found; expected a sentence-transformers folder with tokenizer.json")
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_truncation()
        self._tok.no_padding()
        config = root / "sentence_bert_config.json"
        self.max_tokens = int(json.loads(config.read_text()).get("max_seq_length", 256)) if config.exists() else 256

    #: batches are padded to a multiple of this many tokens: fewer distinct shapes for the runtimes
    #: to prepare kernels for, at a cost of a few padded tokens
    pad_multiple = 8

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids with [CLS]/[SEP]; remembers the last call's texts, so that asking for lengths
        and then for a batch of the same texts tokenises once."""
        key = tuple(texts)
        if getattr(self, "_memo_key", None) != key:
            self._memo_key = key
            self._memo = [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=True)]
        return self._memo

    #: above this many texts, :meth:`token_lengths` tokenises in blocks and keeps nothing: the engine asks
    #: for the lengths of every unseen text at once, and one ``encode_batch`` over 100,000 texts holds
    #: 100,000 ``Encoding`` objects (tokens, offsets, masks: ~4.5 kB each, kept as heap the process does
    #: not return), while the memo would only ever be reused for the same list of texts
    memo_max = 4096

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        if len(texts) <= self.memo_max:
            return [len(i) for i in self.ids(texts)]
        out: list[int] = []
        for k in range(0, len(texts), self.memo_max):
            out += [len(e) for e in self._tok.encode_batch(list(texts[k:k + self.memo_max]), add_special_tokens=True)]
        return out

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Padded ``input_ids`` and ``attention_mask`` (int64), cut at the window as a last resort."""
        longest = max(len(r) for r in rows)
        width = min(-(-longest // self.pad_multiple) * self.pad_multiple, self.max_tokens)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            n = min(len(r), width)
            ids[i, :n] = r[:n]
            mask[i, :n] = 1
            if len(r) > width:  # keep the [SEP] token at the cut
                ids[i, n - 1] = r[-1]
        return ids, mask

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.pad([e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=True)])


def encode_in_batches(texts: Sequence[str], tokenizer: WordPieceTokenizer, infer, dim: int, *,
                      batch_size: int, max_batch_tokens: int) -> np.ndarray:
    """Length-sorted token-budget batches through ``infer(ids, mask) -> (n, dim)``, order restored."""
    out = np.empty((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    all_ids = tokenizer.ids(texts)
    lengths = [len(r) for r in all_ids]
    for idx in token_budget_batches(lengths, max_tokens=max_batch_tokens, max_batch=batch_size):
        ids, mask = tokenizer.pad([all_ids[i] for i in idx])
        out[idx] = infer(ids, mask)
    return out
