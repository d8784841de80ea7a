"""`stakeholder-nlp --help` starts in a fraction of a second: it imports none of the analysis's libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "pandas", "torch", "spacy", "sklearn", "scipy", "openvino", "onnxruntime", "matplotlib")


def test_help_imports_no_numerical_or_model_library():
    code = ("import sys\nfrom stakeholder_nlp.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout[-500:]
