"""analyze's sentiment scorer from the command line: above the shared-encoder threshold (lowered here) the
embedding head on the run's vectors, said in run.json and the summary; --sentiment-scorer keeps the one named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import stakeholder_nlp.embedding as embedding
import stakeholder_nlp.sentiment.scorers as scorers
from stakeholder_nlp.cli import app

pytestmark = pytest.mark.slow  # analyze on the built-in corpus with the real models, three times

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "gp_clusters" / "quotes.jsonl"
ARGS = ["--runs", "0", "--n-boot", "100", "--n-topics", "3"]


@pytest.fixture()
def lowered(monkeypatch, fast_embedder, tmp_path):
    monkeypatch.setattr(scorers, "SHARED_ENCODER_ABOVE", 50)
    monkeypatch.setattr(embedding, "load_embedder", lambda *a, **k: fast_embedder)
    monkeypatch.setenv("STAKEHOLDER_NLP_CACHE", str(tmp_path / "user-cache"))


def _run(tmp_path, name, *extra):
    out = tmp_path / name
    res = CliRunner().invoke(app, ["analyze", str(CORPUS), "--out", str(out), *ARGS, *extra])
    return res, out


def test_above_the_threshold_the_head_runs_and_the_run_says_so(lowered, tmp_path):
    res, out = _run(tmp_path, "auto")
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text())
    choice = run["config"]["sentiment_choice"]
    assert run["config"]["sentiment"] == choice["scorer"] == "embedding-head" and not choice["asked"]
    assert choice["threshold"] == 50 and choice["n_quotes"] == 120
    assert any(n.startswith("Sentiment scorer: embedding-head") for n in run["notes"])
    assert "Sentiment scorer: embedding-head" in res.output  # the one-screen summary
    assert run["sentiment_notice"].startswith("Sentiment scorer: embedding-head")


def test_a_scorer_named_on_the_command_line_runs_at_any_size(lowered, tmp_path):
    res, out = _run(tmp_path, "named", "--sentiment-scorer", "minilm-sentiment")
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["sentiment"] == "minilm-sentiment" and run["config"]["sentiment_choice"]["asked"]
    assert not any(n.startswith("Sentiment scorer:") for n in run["notes"])
    res, _ = _run(tmp_path, "unknown", "--sentiment-scorer", "nope")
    assert res.exit_code == 2 and "unknown sentiment scorer 'nope'" in res.output
