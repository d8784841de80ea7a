"""The default sentiment scorer: a fine-tuned MiniLM (4 layers) with a 3-class head, int8.

Trained across registers (Reddit comments, policy news, patient comments; ``scripts/train_sentiment.py``,
model card ``models/sentiment_minilm/MODEL_CARD.md``). Loaded from a local folder; nothing is downloaded
and nothing is built at first use (the shipped graph is the runtime graph). The graph ``model.int8.onnx``
is static int8 (NNCF post-training quantisation, quantize/dequantize pairs with activation scales fixed
at export), so a text's score depends on the text alone, not on its batch neighbours (up to float
rounding, ~1e-7). ONNX Runtime runs it by default; OpenVINO reads the same file (``backend="openvino"``).

Long quotes are scored on their sentences: a quote is cut at sentence ends (a sentence longer than the
model's window is cut again into word windows), each piece is scored, and the quote's class probabilities
are the mean of its pieces' (each sentence counts once, whatever its length: chosen on the validation
parts, where it beat both the word-count-weighted mean and scoring the whole quote at once).
:meth:`FineTunedScorer.score_quotes` returns one row per quote (:data:`QUOTE_SCORE_COLUMNS`):

``score``          P(positive) - P(negative) of the combined probabilities, in [-1, 1]
``label``          the most probable class of the combined probabilities
``p_negative`` / ``p_neutral`` / ``p_positive``
``n_sentences``    how many pieces were scored
``combine``        how the score was combined: ``"whole"`` (one piece), ``"sentence-mean"`` (several
                   pieces that agree in direction) or ``"sentence-mean-mixed"`` (the quote holds both a
                   clearly positive and a clearly negative piece, e.g. it turns from hope to complaint:
                   its mean sits near 0 and says less than either part)
``min_sentence`` / ``max_sentence``  the lowest and highest piece score
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ModelError

CLASSES = ("negative", "neutral", "positive")
QUOTE_SCORE_COLUMNS = ("score", "label", "p_negative", "p_neutral", "p_positive", "n_sentences", "combine",
                       "min_sentence", "max_sentence")
#: a piece scoring at least this far from 0 counts as clearly positive/negative for ``combine``
MIXED_THRESHOLD = 0.5
MODEL_DIRNAME = "sentiment_minilm"
GRAPH = "model.int8.onnx"
BACKENDS = ("auto", "openvino", "onnxruntime")

_SENTENCE_END = re.compile(r"(?<=[.!?;])[\"'”’)]*\s+(?=[\"'“‘(]*[A-Z0-9])")


def split_sentences(text: str, *, min_words: int = 3, max_words: int = 40) -> list[str]:
    """Sentences of ``text``; fragments under ``min_words`` words are joined to their neighbour, and
    sentences over ``max_words`` words are cut into windows of at most ``max_words`` words."""
    parts = [p.strip() for p in _SENTENCE_END.split(str(text).strip()) if p.strip()]
    merged: list[str] = []
    for p in parts:
        if merged and (len(p.split()) < min_words or len(merged[-1].split()) < min_words):
            merged[-1] = f"{merged[-1]} {p}"
        else:
            merged.append(p)
    out: list[str] = []
    for p in merged or [str(text).strip()]:
        words = p.split()
        if len(words) <= max_words:
            out.append(p)
            continue
        n = -(-len(words) // max_words)
        size = -(-len(words) // n)
        out.extend(" ".join(words[i:i + size]) for i in range(0, len(words), size))
    return out or [""]


def sentence_pieces(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Every text's pieces (:func:`split_sentences`) in text order, and for each piece the index of its
    text (non-decreasing; every text has at least one piece)."""
    pieces, owner = [], []
    for i, t in enumerate(texts):
        for s in split_sentences(t):
            pieces.append(s)
            owner.append(i)
    return pieces, np.asarray(owner, dtype=np.int64)


def default_model_dir() -> Path:
    """``models/sentiment_minilm`` in the source checkout."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "models" / MODEL_DIRNAME
        if (candidate / "model.int8.onnx").exists():
            return candidate
    raise ModelError(f"models/{MODEL_DIRNAME}/model.int8.onnx not found next to the package; train it with "
                     "scripts/train_sentiment.py or pass path=")


class FineTunedScorer:
    """The fine-tuned sentiment model, static int8. ``backend``: ``"auto"`` / ``"onnxruntime"`` (the
    faster here) or ``"openvino"`` (the same graph; canonical shapes: texts batched only with texts of the
    same padded width, a fixed row count per width, so a text always runs in the same input shape).
    ``threads`` defaults to all cores, at most 8. ``logit_bias``: three numbers added to every piece's
    class logits before the softmax (a prior correction); ``None`` reads ``logit_bias`` from the model's
    config.json (zeros when absent: the shipped config has none, because a bias fitted on validation parts by
    ``scripts/train_sentiment_bias.py`` lowered two held-out sets; see the model card), ``(0, 0, 0)`` gives
    the raw network.

    ONNX Runtime: texts in length-sorted batches of at most ``max_batch_tokens`` padded word pieces, run by
    ``threads`` single-threaded sessions side by side (one batch each at a time). On small matrices this
    beats one session spreading each product over the cores (measured 1.4x on 2 cores); 512-token batches
    ran 7% faster than 1,024-token ones (interleaved A/B), with identical scores."""

    name = "minilm-sentiment"
    #: padded widths are multiples of this; batches hold about this many tokens
    pad_multiple = 8
    canonical_batch_tokens = 2048
    canonical_max_rows = 64

    def __init__(self, path: str | Path | None = None, *, threads: int | None = None,
                 max_batch_tokens: int = 512, backend: str = "auto",
                 logit_bias: Sequence[float] | None = None) -> None:
        import os

        self._init_kwargs = {"path": path, "threads": threads, "max_batch_tokens": max_batch_tokens,
                             "backend": backend, "logit_bias": None if logit_bias is None else list(logit_bias)}
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
        root = Path(path) if path is not None else default_model_dir()
        graph, tok_file, cfg_file = root / GRAPH, root / "tokenizer.json", root / "config.json"
        if backend == "auto":
            backend = "onnxruntime"
        for f in (graph, tok_file, cfg_file):
            if not f.exists():
                raise ModelError(f"{f} not found; a sentiment model folder holds {GRAPH}, tokenizer.json and "
                                 "config.json (scripts/train_sentiment.py writes them)")
        config = json.loads(cfg_file.read_text())
        if tuple(config.get("classes", ())) != CLASSES:
            raise ModelError(f"{cfg_file}: classes {config.get('classes')} are not {list(CLASSES)}")
        from tokenizers import Tokenizer

        bias = config.get("logit_bias", [0.0, 0.0, 0.0]) if logit_bias is None else logit_bias
        self.logit_bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        if self.logit_bias.shape != (len(CLASSES),) or not np.all(np.isfinite(self.logit_bias)):
            raise ModelError(f"logit_bias must be {len(CLASSES)} finite numbers (one per class {list(CLASSES)}); "
                             f"got {bias!r}")
        self._tok = Tokenizer.from_file(str(tok_file))
        self._tok.no_padding()
        self.max_length = int(config.get("max_length", 128))
        self._tok.enable_truncation(self.max_length)
        # each ONNX Runtime session holds its own copy of the weights (~40 MB resident): at most 8 by default
        n_threads = threads or min(8, os.cpu_count() or 1)
        if backend == "openvino":
            from ..embedding.offline import import_openvino

            try:
                ov = import_openvino()
            except ImportError as exc:
                raise ModelError("backend='openvino' needs the 'openvino' package (pip install openvino)") from exc
            self._ov = ov
            self._compiled = ov.Core().compile_model(
                str(graph), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": str(n_threads),
                                    "INFERENCE_PRECISION_HINT": "f32"})
            self._n_requests = 2 * int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        else:
            from ..embedding.offline import import_onnxruntime

            ort = import_onnxruntime()  # telemetry off before the first session
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # the graph gives each integer MatMul its own quantize/dequantize pair; merging those copies
            # (common-subexpression elimination) would leave the query/key/value products in fp32
            self._sessions = [ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"],
                                                   disabled_optimizers=["CommonSubexpressionElimination"])
                              for _ in range(n_threads)]
        self.backend = backend
        self._max_batch_tokens = max_batch_tokens
        self.path = root
        self.config = config

    def __reduce__(self):
        # the sessions cannot be pickled: the scorer pickles as the arguments that rebuild it (a Ray actor
        # or a worker process reads the same model files)
        return (_rebuild, (self._init_kwargs,))

    # -- raw model -------------------------------------------------------------------------------------
    def model_batches(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The positions of ``texts`` in the batches one :meth:`piece_outputs` call on all of them runs: each
        group, passed alone and in this order, runs as that same batch, so its outputs are the same floats."""
        from ..embedding.batching import token_budget_batches

        lengths = np.array([len(e.ids) for e in self._tok.encode_batch([str(t) for t in texts])])
        return [np.asarray(b) for b in token_budget_batches(lengths, max_tokens=self._max_batch_tokens,
                                                            max_batch=256)]

    def _run_planned(self, texts: Sequence[str], executor) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_run` with its batches run by ``executor`` (:mod:`~stakeholder_nlp.embedding.executor`)."""
        from ..embedding.executor import run_units

        groups = self.model_batches(texts)
        parts = run_units(executor, self, "piece_outputs", [[texts[i] for i in g] for g in groups])
        n = len(texts)
        dim = parts[0][1].shape[1] if parts else 384
        logits, feats = np.empty((n, 3), np.float32), np.empty((n, dim), np.float32)
        for g, (lo, fe) in zip(groups, parts, strict=True):
            logits[g], feats[g] = lo, fe
        return logits, feats

    def _run(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(logits (n, 3), features (n, d)) for texts as given (no sentence splitting); the logits include
        :attr:`logit_bias`."""
        n = len(texts)
        if n == 0:
            return np.empty((0, 3), np.float32), np.empty((0, 384), np.float32)
        enc = [e.ids for e in self._tok.encode_batch([str(t) for t in texts])]
        lengths = np.array([len(e) for e in enc])
        run = self._run_openvino if self.backend == "openvino" else self._run_onnxruntime
        logits, feats = run(enc, lengths)
        return logits + self.logit_bias, feats

    @staticmethod
    def _pad(rows: list[list[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.zeros((len(rows), width), np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for r, row in enumerate(rows):
            ids[r, :len(row)] = row
            mask[r, :len(row)] = 1
        return ids, mask

    def _run_onnxruntime(self, enc: list[list[int]], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import queue
        from concurrent.futures import ThreadPoolExecutor

        from ..embedding.batching import token_budget_batches

        n = len(enc)
        logits = np.empty((n, 3), np.float32)
        dim = self._sessions[0].get_outputs()[1].shape[-1]
        feats = np.empty((n, dim if isinstance(dim, int) else 384), np.float32)
        free: queue.SimpleQueue = queue.SimpleQueue()
        for session in self._sessions:
            free.put(session)

        def run(idx: np.ndarray) -> None:  # onnxruntime releases the GIL while it computes
            ids, mask = self._pad([enc[i] for i in idx], int(lengths[idx].max()))
            session = free.get()
            try:
                lo, fe = session.run(None, {"input_ids": ids, "attention_mask": mask})
            finally:
                free.put(session)
            logits[idx], feats[idx] = lo, fe

        batches = [np.asarray(b) for b in token_budget_batches(lengths, max_tokens=self._max_batch_tokens,
                                                                max_batch=256)]
        if len(self._sessions) == 1 or len(batches) == 1:
            for b in batches:
                run(b)
        else:
            with ThreadPoolExecutor(len(self._sessions)) as pool:
                list(pool.map(run, batches))
        return logits, feats

    def canonical_rows(self, width: int) -> int:
        """Rows of every OpenVINO batch of padded width ``width``: a function of the width alone."""
        return int(max(1, min(self.canonical_max_rows, self.canonical_batch_tokens // max(width, 1))))

    def _run_openvino(self, enc: list[list[int]], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(enc)
        widths = -(-lengths // self.pad_multiple) * self.pad_multiple
        dim = int(self._compiled.output("features").get_partial_shape()[-1].get_length())
        logits = np.empty((n, 3), np.float32)
        feats = np.empty((n, dim), np.float32)

        def collect(request, rows) -> None:
            if rows is None:  # the request is idle
                return
            request.wait()
            logits[rows] = request.get_tensor("logits").data[:len(rows)]
            feats[rows] = request.get_tensor("features").data[:len(rows)]

        # a ring of plain infer requests collected in this thread: no Python callback on OpenVINO's stream
        # threads (with AsyncInferQueue's, dropping the compiled model could deadlock on the GIL)
        requests = [self._compiled.create_infer_request() for _ in range(self._n_requests)]
        jobs: list[np.ndarray | None] = [None] * len(requests)
        slot = 0
        for w in np.unique(widths):
            members = np.flatnonzero(widths == w)
            k = self.canonical_rows(int(w))
            for s in range(0, len(members), k):
                rows = members[s:s + k]
                ids, mask = self._pad([enc[i] for i in rows] + [enc[rows[0]]] * (k - len(rows)), int(w))
                collect(requests[slot], jobs[slot])
                requests[slot].start_async({"input_ids": ids, "attention_mask": mask})
                jobs[slot] = rows
                slot = (slot + 1) % len(requests)
        for request, rows in zip(requests, jobs, strict=True):
            collect(request, rows)
        return logits, feats

    def piece_outputs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Logits and pooled features of each text, unsplit (the few-shot adaptation re-fits on these)."""
        return self._run(texts)

    @staticmethod
    def softmax(logits: np.ndarray) -> np.ndarray:
        z = np.asarray(logits, np.float64)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    # -- quotes ----------------------------------------------------------------------------------------
    def score_quotes(self, texts: Sequence[str], *, head=None, executor=None) -> pd.DataFrame:
        """One row per quote (:data:`QUOTE_SCORE_COLUMNS`), long quotes scored on their sentences.
        ``head``: optional callable ``(logits, features) -> probabilities`` replacing the shipped head
        (an adapted head from :mod:`stakeholder_nlp.sentiment.validation`). ``executor``: where the model's
        batches run (:class:`~stakeholder_nlp.embedding.distributed.RayExecutor`; default this process):
        the same batches either way (:meth:`model_batches`), so the same scores."""
        pieces, owner_arr = sentence_pieces(texts)
        # distinct pieces in code-point order (as np.unique orders them), without a fixed-width copy of all
        # the pieces (a '<U' array is as wide as the longest piece, for every piece)
        uniq = np.asarray(sorted(set(pieces)), dtype=object)
        position = {t: i for i, t in enumerate(uniq.tolist())}
        inverse = np.fromiter((position[t] for t in pieces), dtype=np.int64, count=len(pieces))
        if executor is None:
            logits, feats = self._run(uniq.tolist())
        else:
            logits, feats = self._run_planned(uniq.tolist(), executor)
        probs_u = head(logits, feats) if head is not None else self.softmax(logits)
        probs = probs_u[inverse]
        weight = np.ones(len(pieces), dtype=np.float64)  # one vote per sentence
        n = len(texts)
        total = np.zeros((n, 3))
        np.add.at(total, owner_arr, probs * weight[:, None])
        wsum = np.bincount(owner_arr, weights=weight, minlength=n)
        combined = total / np.maximum(wsum, 1e-12)[:, None]
        piece_score = probs[:, 2] - probs[:, 0]
        counts = np.bincount(owner_arr, minlength=n)
        mins = np.full(n, np.inf)
        maxs = np.full(n, -np.inf)
        np.minimum.at(mins, owner_arr, piece_score)
        np.maximum.at(maxs, owner_arr, piece_score)
        combine = np.where(counts == 1, "whole",
                           np.where((mins <= -MIXED_THRESHOLD) & (maxs >= MIXED_THRESHOLD),
                                    "sentence-mean-mixed", "sentence-mean"))
        return pd.DataFrame({"score": combined[:, 2] - combined[:, 0],
                             "label": [CLASSES[k] for k in combined.argmax(axis=1)],
                             "p_negative": combined[:, 0], "p_neutral": combined[:, 1],
                             "p_positive": combined[:, 2], "n_sentences": counts, "combine": combine,
                             "min_sentence": mins, "max_sentence": maxs}, columns=list(QUOTE_SCORE_COLUMNS))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.score_quotes(texts)["score"].to_numpy(np.float64)

    def label(self, texts: Sequence[str]) -> list[str]:
        return self.score_quotes(texts)["label"].tolist()


def _rebuild(kwargs: dict) -> FineTunedScorer:
    return FineTunedScorer(**kwargs)
