"""The embedder implementations behind the :class:`~.base.Embedder` protocol.

* :class:`ReferenceEmbedder`: sentence-transformers on torch, fp32: the reference every other path is
  compared to.
* :class:`OnnxEmbedder`: ONNX Runtime; ``precision="int8"`` (dynamic, per-channel) or ``"fp32"``.
* :class:`OpenVINOEmbedder`: OpenVINO, NNCF static int8, bf16 or fp32 execution, asynchronous requests so
  tokenisation overlaps inference. Which is fastest depends on the CPU (:func:`fast_backend`): int8 needs
  VNNI instructions to pay (on an AVX2-only CPU the int8 graph ran slower than fp32), bf16 needs AMX.
* ``"static"``: :class:`~.static.StaticEmbedder`, a token-vector table distilled from MiniLM (another model:
  its own ``model_id``, 256 dimensions; no transformer pass).

Use :func:`load_embedder` to build one by name. Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import ModelError
from .base import default_model_path, l2_normalise, model_fingerprint
from .runtime import WordPieceTokenizer, encode_in_batches

Backend = Literal["fast", "reference", "onnx-int8", "onnx-fp32", "openvino-int8", "openvino-bf16",
                  "openvino-fp32", "static"]
BACKENDS: tuple[str, ...] = ("fast", "reference", "onnx-int8", "onnx-fp32", "openvino-int8", "openvino-bf16",
                             "openvino-fp32", "static")
DEFAULT_CACHE_DIR = None  # resolved at call time by paths.default_cache_dir(): per-user, never the cwd


def _file_digest(*paths: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def _rebuild(cls, args: tuple, kwargs: dict):
    return cls(*args, **kwargs)


class _Base:
    """Compiled runtimes cannot be pickled; an embedder pickles as the arguments that rebuild it, so it can
    be sent to worker processes (``stability --n-jobs``)."""

    _init_args: tuple = ()
    _init_kwargs: dict = {}

    def __reduce__(self):
        return (_rebuild, (type(self), self._init_args, self._reduce_kwargs()))

    def _reduce_kwargs(self) -> dict:
        return dict(self._init_kwargs)

    def __init__(self, model_dir: Path, fingerprint: str, variant: str) -> None:
        self._dir = model_dir
        self._fingerprint = fingerprint
        self._variant = variant  # built graphs add their own file digest: a rebuilt model is a new model
        self.tokenizer = WordPieceTokenizer(model_dir)

    @property
    def model_id(self) -> str:
        return f"{self._fingerprint[:16]}/{self._variant}"

    @property
    def max_tokens(self) -> int:
        return self.tokenizer.max_tokens

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        return self.tokenizer.token_lengths(texts)


class ReferenceEmbedder(_Base):
    """sentence-transformers ``encode`` in fp32 on the CPU (the reference)."""

    def __init__(self, model_dir: Path, fingerprint: str, threads: int | None = None) -> None:
        self._init_args = (model_dir, fingerprint, threads)
        super().__init__(model_dir, fingerprint, "st-fp32")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self._dim = int(get_dim())

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.empty((0, self._dim), dtype=np.float32)
        vecs = self._model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                  normalize_embeddings=True, show_progress_bar=False)
        return l2_normalise(vecs)


class OnnxEmbedder(_Base):
    """ONNX Runtime on the exported graph (pooling and normalisation inside the graph)."""

    def __init__(self, model_dir: Path, fingerprint: str, graph: Path, variant: str,
                 threads: int | None = None, max_batch_tokens: int = 8192) -> None:
        self._init_args = (model_dir, fingerprint, graph, variant)
        self._init_kwargs = {"threads": threads, "max_batch_tokens": max_batch_tokens}
        super().__init__(model_dir, fingerprint, f"{variant}-{_file_digest(graph)}")
        from .offline import import_onnxruntime

        ort = import_onnxruntime()  # telemetry off before the first session

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        self._dim = int(self._session.get_outputs()[0].shape[-1] or 384)
        self._max_batch_tokens = max_batch_tokens

    @property
    def dim(self) -> int:
        return self._dim

    def _infer(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def encode(self, texts: Sequence[str], *, batch_size: int = 128) -> np.ndarray:
        out = encode_in_batches(texts, self.tokenizer, self._infer, self._dim, batch_size=batch_size,
                                max_batch_tokens=self._max_batch_tokens)
        return l2_normalise(out)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            return next((set(line.split(":", 1)[1].split()) for line in fh if line.startswith("flags")), set())
    except OSError:
        return set()


def cpu_has_amx_bf16() -> bool:
    """True on CPUs with AMX bf16 tiles (Intel Sapphire Rapids and later), where bf16 runs as fast as int8."""
    return "amx_bf16" in _cpu_flags()


def cpu_has_vnni() -> bool:
    """True on CPUs with int8 dot-product instructions (AVX-512 VNNI or AVX-VNNI). Without them int8
    inference is emulated with wider instructions: on an AVX2-only AMD EPYC (Zen 3) the static int8 graph
    embedded 84 texts per CPU-second against 96-103 for the fp32 graph (README, *Stability and scale*)."""
    flags = _cpu_flags()
    return bool({"avx512_vnni", "avx_vnni"} & flags)


class OpenVINOEmbedder(_Base):
    """OpenVINO, THROUGHPUT hint, an asynchronous request queue kept full so tokenisation overlaps inference.

    ``precision="int8"``: the NNCF static int8 graph, with texts shorter than ``fp32_below`` word pieces
    ("No.", "Thank you") run through the fp32 graph instead: int8 activations on a handful of tokens drift
    furthest from fp32 (cosine down to 0.91 measured) and such texts cost little compute.
    ``precision="bf16"``: the fp32 graph executed in bf16 (AMX tiles where the CPU has them).
    ``precision="fp32"``: the fp32 graph in fp32 (CPUs without VNNI or AMX: faster than emulated int8, and
    the reference's vectors to cosine 0.99999).
    Canonical shapes (``canonical=True``, the default): texts are batched only with texts of the same
    padded width and every batch of a width has the same row count (:meth:`canonical_rows`; the last one
    filled with copies), so each text always runs in the same input shape. bf16 kernels (AMX) otherwise
    give vectors that depend on batch composition (up to 7e-4 measured), hence themes that depend on what
    the embedding cache held. Static int8 scales alone do not depend on the batch.
    """

    def __init__(self, model_dir: Path, fingerprint: str, graph: Path, fp32_graph: Path | None = None, *,
                 precision: str = "int8", threads: int | None = None, max_batch_tokens: int = 2048,
                 fp32_below: int = 16, canonical: bool = True, canonical_batch_tokens: int = 512,
                 canonical_max_rows: int = 16) -> None:
        from .offline import import_openvino

        self._init_args = (model_dir, fingerprint, graph, fp32_graph)
        self._init_kwargs = {"precision": precision, "threads": threads, "max_batch_tokens": max_batch_tokens,
                             "fp32_below": fp32_below, "canonical": canonical,
                             "canonical_batch_tokens": canonical_batch_tokens, "canonical_max_rows": canonical_max_rows}

        ov = import_openvino()

        if precision not in ("int8", "bf16", "fp32"):
            raise ModelError(f"precision must be 'int8', 'bf16' or 'fp32'; got {precision!r}")
        files = [graph.with_suffix(".bin") if graph.suffix == ".xml" else graph]
        if precision == "int8" and fp32_graph is not None:
            files.append(fp32_graph)
            variant = f"ov-int8-f32lt{fp32_below}"
        else:
            variant = f"ov-{precision}"
            fp32_below = 0
        if canonical:  # vectors from other batch shapes may differ: never mix them in one cache
            variant = f"{variant}-canon{canonical_batch_tokens}x{canonical_max_rows}"
        super().__init__(model_dir, fingerprint, f"{variant}-{_file_digest(*files)}")
        core = ov.Core()
        config = {"PERFORMANCE_HINT": "THROUGHPUT",
                  "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        self._compiled = core.compile_model(str(graph), "CPU", config)
        self._compiled_fp32 = (core.compile_model(str(fp32_graph), "CPU", {**config, "INFERENCE_PRECISION_HINT": "f32"})
                               if fp32_below else None)
        self._fp32_below = fp32_below
        # twice the optimal number in flight: a stream never waits for the next batch to be tokenised
        self._n_requests = 2 * int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._dim = int(self._compiled.outputs[0].get_partial_shape()[-1].get_length())
        self._max_batch_tokens = max_batch_tokens
        self.precision = precision
        self.canonical = canonical
        self.canonical_batch_tokens = canonical_batch_tokens
        self.canonical_max_rows = canonical_max_rows
        self._ov = ov

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 128) -> np.ndarray:
        """Vectors in input order. Canonical shapes (the default): a text's vector depends only on the
        text, never on its batch neighbours, so results do not depend on what a cache already held.
        ``batch_size`` is then ignored (it would change shapes); see :meth:`canonical_batches`."""
        from .batching import token_budget_batches

        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        all_ids = self.tokenizer.ids(texts)
        lengths = np.asarray([len(r) for r in all_ids])
        # round up to the padding multiple so that batches of one width get one row count: few shapes
        rounded = -(-lengths // self.tokenizer.pad_multiple) * self.tokenizer.pad_multiple

        short = np.flatnonzero(lengths < self._fp32_below)
        long_ = np.flatnonzero(lengths >= self._fp32_below)
        for model, subset in ((self._compiled_fp32, short), (self._compiled, long_)):
            if len(subset) == 0:
                continue
            # a ring of plain infer requests, collected here, in this thread: no Python callback runs on
            # OpenVINO's stream threads (AsyncInferQueue's callback let dropping a compiled model deadlock:
            # the GIL-holding destructor joined a stream thread waiting for the GIL)
            requests = [model.create_infer_request() for _ in range(self._n_requests)]
            jobs: list[tuple[np.ndarray, int] | None] = [None] * len(requests)
            next_slot = 0
            if self.canonical:
                batches = self.canonical_batches(rounded[subset])
            else:
                batches = [(b, len(b)) for b in token_budget_batches(rounded[subset],
                                                                     max_tokens=self._max_batch_tokens,
                                                                     max_batch=batch_size)]
            for idx, n_rows in batches:
                rows = subset[idx]
                ids, mask = self.tokenizer.pad([all_ids[i] for i in rows])
                if n_rows > len(rows):  # fill the canonical shape with copies of the first row
                    fill = n_rows - len(rows)
                    ids = np.concatenate([ids, np.repeat(ids[:1], fill, axis=0)])
                    mask = np.concatenate([mask, np.repeat(mask[:1], fill, axis=0)])
                slot = next_slot % len(requests)
                next_slot += 1
                _collect(requests[slot], jobs[slot], out)
                requests[slot].start_async({"input_ids": ids, "attention_mask": mask})
                jobs[slot] = (rows, len(rows))
            for request, job in zip(requests, jobs, strict=True):
                _collect(request, job, out)
        return l2_normalise(out)

    def _reduce_kwargs(self) -> dict:
        return {**self._init_kwargs, "canonical": self.canonical,
                "canonical_batch_tokens": self.canonical_batch_tokens, "canonical_max_rows": self.canonical_max_rows}

    def canonical_rows(self, width: int) -> int:
        """Rows of every batch of padded width ``width``: a function of the width alone."""
        return int(max(1, min(self.canonical_max_rows, self.canonical_batch_tokens // max(width, 1))))

    def canonical_batches(self, widths: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """``(positions, rows)``: texts grouped by their own padded width (none is padded further), in
        batches of :meth:`canonical_rows` rows (the last one of a width is filled with copies)."""
        batches = []
        for w in np.unique(widths):
            idx = np.flatnonzero(widths == w)
            n = self.canonical_rows(int(w))
            batches.extend((idx[k:k + n], n) for k in range(0, len(idx), n))
        return batches


def _collect(request, job: tuple[np.ndarray, int] | None, out: np.ndarray) -> None:
    """Wait for an infer request's batch (``job``: its rows and their count; ``None``: the request is idle)
    and copy its vectors into ``out``."""
    if job is None:
        return
    request.wait()
    rows, n = job
    out[rows] = request.get_output_tensor(0).data[:n]


def fast_backend() -> str:
    """The backend ``"fast"`` stands for on this machine: ``openvino-bf16`` where the CPU has AMX bf16 tiles
    (as fast as int8 there, cosine to fp32 >= 0.9999), ``openvino-int8`` where it has VNNI int8
    instructions (and NNCF is installed to build the graph), ``openvino-fp32`` on other CPUs (int8 without
    VNNI is slower than fp32), and ``onnx-int8`` when OpenVINO is not installed."""
    from importlib.util import find_spec

    if find_spec("openvino") is None:
        return "onnx-int8"
    if cpu_has_amx_bf16():
        return "openvino-bf16"
    if cpu_has_vnni():
        # find_spec, not import: importing nncf starts its telemetry (a network lookup on every run)
        return "openvino-int8" if find_spec("nncf") is not None else "onnx-int8"
    return "openvino-fp32"


def load_embedder(backend: Backend | str = "fast", *, model_dir: str | Path | None = None,
                  cache_dir: str | Path | None = DEFAULT_CACHE_DIR, threads: int | None = None):
    """Build an embedder by backend name; fast backends' model files are built once into ``cache_dir``.

    ``fast`` picks the fastest faithful path for this CPU (:func:`fast_backend`). ``static`` is the
    distilled static model (``model_dir``: its folder, default ``models/static_minilm/``; nothing is built).
    """
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
    if backend == "static":
        from .static import StaticEmbedder

        return StaticEmbedder(model_dir)
    root = Path(model_dir) if model_dir is not None else default_model_path()
    fingerprint = model_fingerprint(root)
    if backend == "reference":
        return ReferenceEmbedder(root, fingerprint, threads)
    if backend == "fast":
        backend = fast_backend()
    from . import export

    if cache_dir is None:
        from .paths import default_cache_dir

        cache_dir = default_cache_dir()
    out_dir = Path(cache_dir) / fingerprint[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    export.write_recipe(out_dir, fingerprint)
    fp32 = export.export_onnx_fp32(root, out_dir)
    if backend == "onnx-fp32":
        return OnnxEmbedder(root, fingerprint, fp32, "onnx-fp32", threads)
    if backend == "onnx-int8":
        return OnnxEmbedder(root, fingerprint, export.quantise_onnx_int8(fp32, out_dir), "onnx-int8", threads)
    if backend in ("openvino-bf16", "openvino-fp32"):
        return OpenVINOEmbedder(root, fingerprint, fp32, precision=backend.rsplit("-", 1)[1], threads=threads)
    graph = export.quantise_openvino_int8(fp32, out_dir, WordPieceTokenizer(root))
    return OpenVINOEmbedder(root, fingerprint, graph, fp32, precision="int8", threads=threads)
