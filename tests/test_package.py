from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from stakeholder_nlp.cli import app


def test_import_does_not_pull_heavy_libraries():
    code = ("import sys, stakeholder_nlp, stakeholder_nlp.corpus, stakeholder_nlp.cli; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'bertopic', 'umap', 'onnxruntime') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _commands(typer_app, prefix=()):
    import typer.main

    group = typer.main.get_command(typer_app)
    out = []

    def walk(cmd, path):
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, path + (name,))

    walk(group, prefix)
    return out


def test_every_command_has_help():
    runner = CliRunner()
    commands = _commands(app)
    assert len(commands) > 2
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_corpus_summary_on_bad_file_exits_2(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "x"}\n')
    result = CliRunner().invoke(app, ["corpus", "summary", str(p)])
    assert result.exit_code == 2
