"""Build the fast backends' model files once, from the installed weights, into a local cache folder.

Nothing is fetched: the fp32 ONNX graph is exported from the local sentence-transformers folder with
``torch.onnx.export`` (mean pooling and L2 normalisation inside the graph), then

* ``onnx-int8``: ONNX Runtime dynamic quantisation, int8 weights per channel;
* ``openvino-int8``: OpenVINO static post-training quantisation with NNCF, calibrated on a fixed set of
  sentences cut from the built-in corpus (so the result is reproducible).

Each artefact lives in ``<cache_dir>/<fingerprint[:16]>/`` next to a ``recipe.json``; a half-written
file is never used (written under a temporary name, then renamed).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from ..errors import ModelError

RECIPE_VERSION = 2
CALIBRATION_SIZE = 300


def _quiet(fn: Callable) -> Callable:
    """Build steps call torch's TorchScript exporter (deliberately: the dynamo one needs extra packages),
    NNCF and ONNX Runtime's quantiser, which warn about their own deprecations; those warnings are about
    their internals, not the caller's code, so they are silenced here and only here."""

    @wraps(fn)
    def inner(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)

    return inner


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@_quiet
def export_onnx_fp32(model_dir: Path, out_dir: Path) -> Path:
    """Export the transformer + mean pooling + normalisation to ``model.onnx`` (opset 17)."""
    target = out_dir / "model.onnx"
    if target.exists():
        return target
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    model = Pooled(encoder).eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = _atomic_target(target)
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(tmp), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}})
    os.replace(tmp, target)
    return target


@_quiet
def quantise_onnx_int8(fp32: Path, out_dir: Path) -> Path:
    target = out_dir / "model.int8.onnx"
    if target.exists():
        return target
    from .offline import import_onnxruntime

    import_onnxruntime()  # telemetry off before onnxruntime.quantization imports it
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _atomic_target(target)
    quantize_dynamic(str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
    os.replace(tmp, target)
    return target


def calibration_texts(n: int = CALIBRATION_SIZE) -> list[str]:
    """A fixed, varied-length calibration set: whole quotes and single sentences of the built-in corpus."""
    from ..corpus import builtin_corpus_path

    try:
        path = builtin_corpus_path()
    except FileNotFoundError as exc:
        raise ModelError("openvino-int8 calibrates on corpus/gp_clusters/quotes.jsonl, which was not found; "
                         "run from the project checkout or pass calibration= texts") from exc
    quotes = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    sentences = [s for q in quotes for s in re.split(r"(?<=[.!?])\s+", q) if len(s.split()) >= 3]
    pool = quotes + sentences
    return [pool[i % len(pool)] for i in range(n)]


def _import_nncf():
    """NNCF (model export only), with OpenVINO first and NNCF's telemetry client replaced by its stub."""
    from .offline import import_openvino, import_without_telemetry

    import_openvino()
    nncf = import_without_telemetry("nncf")
    from nncf.telemetry import decorator, wrapper

    stub = wrapper.NNCFTelemetryStub()
    wrapper.telemetry = stub
    decorator.telemetry = stub
    return nncf


@_quiet
def quantise_openvino_int8(fp32: Path, out_dir: Path, tokenizer, calibration: list[str] | None = None) -> Path:
    """NNCF static PTQ (transformer preset) of the fp32 ONNX graph, saved as OpenVINO IR."""
    target = out_dir / "model.ov-int8.xml"
    if target.exists() and target.with_suffix(".bin").exists():
        return target
    from .offline import import_openvino

    try:
        ov = import_openvino()
        nncf = _import_nncf()
    except ImportError as exc:
        raise ModelError("the openvino-int8 backend needs 'openvino' and 'nncf' (pip install openvino nncf)") from exc

    texts = calibration or calibration_texts()
    items = []
    for k in range(0, len(texts), 8):
        ids, mask = tokenizer.batch(texts[k:k + 8])
        items.append({"input_ids": ids, "attention_mask": mask})
    core = ov.Core()
    model = core.read_model(str(fp32))
    quantised = nncf.quantize(model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(items))
    tmp = out_dir / f".tmp-{os.getpid()}.xml"
    ov.save_model(quantised, str(tmp), compress_to_fp16=False)
    os.replace(tmp.with_suffix(".bin"), target.with_suffix(".bin"))
    os.replace(tmp, target)
    return target


def write_recipe(out_dir: Path, fingerprint: str) -> None:
    recipe = out_dir / "recipe.json"
    if not recipe.exists():  # written under a temporary name: a run beside this one never reads half of it
        tmp = _atomic_target(recipe)
        tmp.write_text(json.dumps({"source_fingerprint": fingerprint, "recipe_version": RECIPE_VERSION,
                                   "onnx_int8": "quantize_dynamic QInt8 per-channel",
                                   "openvino_int8": f"nncf.quantize TRANSFORMER, {CALIBRATION_SIZE} "
                                                    "calibration texts from the built-in corpus"},
                                  indent=2))
        os.replace(tmp, recipe)
