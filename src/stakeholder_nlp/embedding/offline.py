"""Import OpenVINO, NNCF and ONNX Runtime without their telemetry.

``import openvino`` sends a usage event ("ov import") through ``openvino_telemetry`` (Google Analytics) and
writes ``~/intel/openvino_ga_cid`` and ``~/intel/stats`` wherever the user once gave consent; NNCF builds
its own client the same way (NNCF is imported only when a model is quantised: see
:func:`.export.quantise_openvino_int8`). Both fall back to a no-op stub when ``openvino_telemetry`` cannot be imported,
so the module is hidden for the duration of the import (and only then: ``sys.modules`` is restored).
A module imported earlier by someone else is returned as it is.

``import onnxruntime`` (1.32 on Linux) starts a Microsoft 1DS telemetry client in the extension module's
initialisation: about 10 s later, and every few seconds after, two threads resolve
``mobile.events.data.microsoft.com`` (DNS queries to port 53; seen with ``strace -f -e trace=connect,sendto``).
``onnxruntime.disable_telemetry_events()`` does not stop the client (the lookups went on after it); the
``ORT_DISABLE_TELEMETRY`` environment variable, read once during that initialisation, does. So
:func:`import_onnxruntime` sets it for the duration of the first import only (the previous value, or its
absence, is restored) and then turns the events off too. Every place that imports ONNX Runtime in this
package goes through it (embedder, sentiment scorer, int8 export), so every process that loads ORT does.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

_TELEMETRY = "openvino_telemetry"
#: read by ONNX Runtime's extension module when it is first imported; ``1`` disables its 1DS client
ORT_TELEMETRY_SWITCH = "ORT_DISABLE_TELEMETRY"


def import_without_telemetry(name: str) -> ModuleType:
    """``importlib.import_module(name)`` with ``openvino_telemetry`` unimportable during the import."""
    if name in sys.modules:
        return sys.modules[name]
    had = _TELEMETRY in sys.modules
    saved = sys.modules.get(_TELEMETRY)
    sys.modules[_TELEMETRY] = None  # type: ignore[assignment]  # ``import openvino_telemetry`` raises
    try:
        return importlib.import_module(name)
    finally:
        if had:
            sys.modules[_TELEMETRY] = saved  # type: ignore[assignment]
        else:
            sys.modules.pop(_TELEMETRY, None)


def import_openvino() -> ModuleType:
    return import_without_telemetry("openvino")


def import_onnxruntime() -> ModuleType:
    """``import onnxruntime`` with its telemetry off: ``ORT_DISABLE_TELEMETRY=1`` during the first import
    (restored afterwards), then ``disable_telemetry_events()``. Idempotent; call it before creating any
    ``InferenceSession``. A module imported earlier by someone else cannot be switched off any more (its
    client is already running): it is returned with its events turned off."""
    if "onnxruntime" not in sys.modules:
        saved = os.environ.get(ORT_TELEMETRY_SWITCH)
        os.environ[ORT_TELEMETRY_SWITCH] = "1"
        try:
            importlib.import_module("onnxruntime")
        finally:
            if saved is None:
                os.environ.pop(ORT_TELEMETRY_SWITCH, None)
            else:
                os.environ[ORT_TELEMETRY_SWITCH] = saved
    ort = sys.modules["onnxruntime"]
    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:
        disable()
    return ort
