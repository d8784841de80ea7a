"""The analysis outputs: schema of each file, determinism, escaping, --force, and a real browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stakeholder_nlp.cli import app
from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import analyze
from stakeholder_nlp.report import (
    MATRIX_COLUMNS,
    QUOTE_COLUMNS,
    SHIFT_TABLE_COLUMNS,
    OutputExistsError,
    write_report,
)
from stakeholder_nlp.sentiment import VaderScorer
from stakeholder_nlp.themes import TopicModel, parse_codebook
from tests.themes.test_codebook import GOOD


def _corpus():
    rng = np.random.default_rng(0)
    words = {"data": ["data", "missing", "access", "extract"], "team": ["nurse", "team", "pharmacist", "excluded"],
             "time": ["time", "session", "workload", "busy"]}
    rows = []
    for wave in (2016, 2021):
        for s in range(6):
            for j in range(6):
                topic = list(words)[(s + j + (wave == 2021)) % 3]
                text = " ".join(rng.choice(words[topic], 4)) + f" point {j}"
                rows.append({"quote_id": f"{wave}-{s}-{j}", "text": text, "speaker": f"{wave}-{s}", "wave": wave,
                             "site": "a" if s % 2 else "b"})
    rows[0]["text"] = "<script>alert('x')</script> data missing & access"
    return load_corpus(pd.DataFrame(rows))


def _analysis(seed=0):
    corpus = _corpus()
    return analyze(corpus, HashingEmbedder(dim=64), codebook=parse_codebook(GOOD), sentiment=VaderScorer(),
                   seed=seed, strata=["site"], runs=2, n_boot=200, n_topics=3)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    write_report(_analysis(), out)
    return out


def test_each_output_has_its_documented_columns(report_dir):
    quotes = pd.read_csv(report_dir / "quotes.csv")
    assert list(quotes.columns)[:len(QUOTE_COLUMNS)] == list(QUOTE_COLUMNS)
    assert {"codes", "site"} <= set(quotes.columns)  # human codes and input metadata are kept
    matrix = pd.read_csv(report_dir / "framework_matrix.csv")
    assert list(matrix.columns) == list(MATRIX_COLUMNS)
    assert set(matrix["wave"]) == {2016, 2021}
    assert len(matrix) == 2 * matrix["theme_id"].nunique()
    shifts = pd.read_csv(report_dir / "shifts.csv")
    assert list(shifts.columns) == list(SHIFT_TABLE_COLUMNS)
    assert shifts["sentence"].str.contains("share").all()
    assert list(pd.read_excel(report_dir / "framework_matrix.xlsx", sheet_name="numbers").columns) == list(
        MATRIX_COLUMNS)
    for name in ("prevalence_by_wave", "sentiment_by_theme", "quote_map"):
        assert (report_dir / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (report_dir / "figures" / f"{name}.svg").read_bytes()[:2000]
    run = json.loads((report_dir / "run.json").read_text())
    assert {"config", "timings_s", "versions", "model_id"} <= set(run)
    assert run["config"]["seed"] == 0


def test_same_input_and_seed_give_identical_csvs(report_dir, tmp_path):
    write_report(_analysis(), tmp_path)
    for name in ("quotes.csv", "framework_matrix.csv", "shifts.csv", "assignment.csv", "themes.toml"):
        assert (tmp_path / name).read_bytes() == (report_dir / name).read_bytes(), name


def test_quote_text_is_escaped_in_html(report_dir):
    html = (report_dir / "report.html").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html  # self-contained


def test_existing_folder_is_not_overwritten_without_force(report_dir):
    with pytest.raises(OutputExistsError, match="--force"):
        write_report(_analysis(), report_dir)
    write_report(_analysis(), report_dir, force=True)


def test_cli_bad_input_exits_2_and_existing_dir_needs_force(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,wave\n,2016\n")
    runner = CliRunner()
    res = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "row 2" in res.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    res = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "full")])
    assert res.exit_code == 2 and "--force" in res.output
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def test_single_wave_corpus_exits_2(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("text,wave,speaker\na b c,2016,p\nd e f,2016,q\n")
    res = CliRunner().invoke(app, ["analyze", str(one), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "at least 2 waves" in res.output


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.fail("chromium not found: `make test` installs Debian's chromium package when it is missing")
    flags = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    url = (report_dir / "report.html").resolve().as_uri()
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert 'id="framework-matrix"' in dom.stdout
    assert dom.stdout.count("<tr>") > 4
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,2000", url],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_redaction_replaces_person_names():
    from stakeholder_nlp.report.redact import redact_names

    out = redact_names(["I spoke to John Smith about the data.", "No names here."])
    assert "John Smith" not in out[0] and "[name]" in out[0]
    assert out[1] == "No names here."


def test_topic_model_used_in_pipeline_is_seeded(report_dir):
    assert TopicModel().random_state == 0
    assert Path(report_dir / "report.html").stat().st_size > 1000
