"""``fast`` picks by CPU: bf16 with AMX, static int8 with VNNI, fp32 elsewhere (int8 without VNNI ran slower
than fp32 on an AVX2-only EPYC), ONNX Runtime int8 without OpenVINO."""

from __future__ import annotations

import pytest

from stakeholder_nlp.embedding import backends


@pytest.mark.parametrize(("flags", "installed", "expected"), [
    ({"avx2", "avx512_vnni", "amx_bf16"}, {"openvino", "nncf"}, "openvino-bf16"),
    ({"avx2", "avx512_vnni"}, {"openvino", "nncf"}, "openvino-int8"),
    ({"avx2", "avx_vnni"}, {"openvino", "nncf"}, "openvino-int8"),
    ({"avx2", "avx512_vnni"}, {"openvino"}, "onnx-int8"),
    ({"avx2", "fma"}, {"openvino", "nncf"}, "openvino-fp32"),
    ({"avx2", "fma"}, set(), "onnx-int8"),
])
def test_fast_backend_follows_the_cpu(monkeypatch, flags, installed, expected):
    import importlib.util

    monkeypatch.setattr(backends, "_cpu_flags", lambda: set(flags))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name in installed else None)
    assert backends.fast_backend() == expected

