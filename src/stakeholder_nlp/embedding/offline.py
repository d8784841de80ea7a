"""Import OpenVINO and NNCF without their telemetry.

``import openvino`` sends a usage event ("ov import") through ``openvino_telemetry`` (Google Analytics) and
writes ``~/intel/openvino_ga_cid`` and ``~/intel/stats`` wherever the user once gave consent; NNCF builds
its own client the same way (NNCF is imported only when a model is quantised: see
:func:`.export.quantise_openvino_int8`). Both fall back to a no-op stub when ``openvino_telemetry`` cannot be imported,
so the module is hidden for the duration of the import (and only then: ``sys.modules`` is restored).
A module imported earlier by someone else is returned as it is.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_TELEMETRY = "openvino_telemetry"


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

