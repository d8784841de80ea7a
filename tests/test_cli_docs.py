"""docs/cli.md is generated from the command line: the committed page equals what the CLI says now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_cli_reference_equals_the_generated_one():
    gen = _generator()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == gen.generate(), (
        "docs/cli.md is out of date: run .venv/bin/python scripts/gen_cli_docs.py")


def test_cli_reference_lists_every_command_and_option():
    from typer.main import get_command

    from stakeholder_nlp.cli import app

    text = _generator().generate()
    analyze = get_command(app).commands["analyze"]
    assert "## stakeholder-nlp corpus summary" in text and "## stakeholder-nlp analyze" in text
    assert all(f"`{o}`" in text for p in analyze.params for o in p.opts if o.startswith("--"))
