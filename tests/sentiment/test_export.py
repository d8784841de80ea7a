"""Graph rewrites applied when the sentiment model is exported (scripts/train_sentiment.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_sentiment.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("train_sentiment_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_graph(zero_point: np.ndarray):
    """ids -> DequantizeLinear(int8 table, one scale per row) -> Gather -> out, as NNCF writes embeddings."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    table = rng.integers(-127, 128, size=(50, 6)).astype(np.int8)
    scale = rng.uniform(0.001, 0.1, size=50).astype(np.float32)
    nodes = [helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["table"], name="dq", axis=0),
             helper.make_node("Gather", ["table", "ids"], ["out"], name="gather")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", "t", 6])],
        [numpy_helper.from_array(table, "q"), numpy_helper.from_array(scale, "s"),
         numpy_helper.from_array(zero_point.astype(np.int8), "zp")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, ids):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"ids": ids})[0]


@pytest.mark.parametrize("zero", [True, False])
def test_gather_then_dequantize_gives_the_same_floats(zero):
    script = _load_script()
    zp = np.zeros(50) if zero else np.random.default_rng(1).integers(-5, 6, size=50)
    before = _table_graph(zp)
    ids = np.array([[0, 7, 49, 7], [3, 3, 0, 12]], dtype=np.int64)
    expected = _run(before, ids)
    after = _table_graph(zp)
    assert script.gather_then_dequantize(after) == 1
    ops = [n.op_type for n in after.graph.node]
    assert "DequantizeLinear" not in ops and ops.count("Gather") >= 2
    np.testing.assert_array_equal(_run(after, ids), expected)


def test_shipped_graph_never_dequantizes_a_whole_embedding_table():
    from stakeholder_nlp.sentiment.finetuned import GRAPH, default_model_dir

    model = onnx.load(str(default_model_dir() / GRAPH), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    consumers = {name: n.op_type for n in model.graph.node for name in n.input}
    whole_tables = [n.name for n in model.graph.node if n.op_type == "DequantizeLinear"
                    and n.input[0] in inits and consumers.get(n.output[0]) == "Gather"]
    assert whole_tables == []
