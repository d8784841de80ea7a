"""The pipeline keeps the researcher's wave order end to end: pre/post, three waves, overrides."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import analyze
from stakeholder_nlp.report import SHIFT_TABLE_COLUMNS, write_report
from stakeholder_nlp.report.html import _fmt_ci
from stakeholder_nlp.sentiment import VaderScorer


def _corpus(waves=("pre", "mid", "post")):
    rng = np.random.default_rng(0)
    words = {"data": ["data", "missing", "access", "extract"], "team": ["nurse", "team", "pharmacist", "excluded"],
             "time": ["time", "session", "workload", "busy"]}
    rows = []
    for k, wave in enumerate(waves):
        for s in range(6):
            for j in range(5):
                topic = list(words)[(s + j + k) % 3]
                rows.append({"quote_id": f"{wave}-{s}-{j}", "text": " ".join(rng.choice(words[topic], 4)) + f" n{j}",
                             "speaker": f"{wave}-{s}", "wave": wave})
    return load_corpus(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def three_waves():
    return analyze(_corpus(), HashingEmbedder(dim=64), sentiment=VaderScorer(), runs=0, n_boot=99, n_topics=3)


def test_three_text_waves_keep_file_order_and_every_comparison(three_waves, tmp_path):
    a = three_waves
    assert a.config["wave_order"]["levels"] == ["pre", "mid", "post"]
    assert a.config["wave_order"]["basis"] == "first appearance"
    pairs = set(zip(a.shifts["wave_a"], a.shifts["wave_b"], a.shifts["comparison"], strict=True))
    assert pairs == {("pre", "mid", "consecutive"), ("mid", "post", "consecutive"), ("pre", "post", "first-last")}
    assert set(zip(a.sentiment_shifts["wave_a"], a.sentiment_shifts["wave_b"], strict=True)) == {
        ("pre", "mid"), ("mid", "post"), ("pre", "post")}
    assert a.trends is not None and a.trends["waves"].eq("pre → mid → post").all()
    write_report(a, tmp_path)
    shifts = pd.read_csv(tmp_path / "shifts.csv")
    assert list(shifts.columns) == list(SHIFT_TABLE_COLUMNS) and "flags" not in shifts.columns
    assert set(a.shifts.columns) <= set(shifts.columns)  # the library and the CSV share column names
    assert len(shifts) == 3 * len(a.themes.themes)
    assert (tmp_path / "trends.csv").exists()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["waves"] == ["pre", "mid", "post"] and "first appearance" in run["config"]["wave_order"]["sentence"]


def test_baseline_and_order_override_reverse_the_comparison():
    a = analyze(_corpus(("pre", "post")), HashingEmbedder(dim=64), sentiment=VaderScorer(), runs=0, n_boot=99,
                n_topics=3, baseline="post")
    assert a.config["wave_order"]["levels"] == ["post", "pre"] and a.config["wave_order"]["basis"] == "given"
    assert (a.shifts["wave_a"] == "post").all() and (a.shifts["wave_b"] == "pre").all()


def test_cli_rejects_a_wave_order_that_leaves_out_a_wave(tmp_path):
    from typer.testing import CliRunner

    from stakeholder_nlp.cli import app

    src = tmp_path / "c.csv"
    pd.DataFrame({"text": [f"quote number {i} about topic {i % 4}" for i in range(15)],
                  "wave": ["pre", "post", "later"] * 5, "speaker": [f"s{i}" for i in range(15)]}).to_csv(src, index=False)
    res = CliRunner().invoke(app, ["analyze", str(src), "--out", str(tmp_path / "o"), "--wave-order", "pre,post"])
    assert res.exit_code == 2 and "leaves out" in res.output


def test_report_shift_table_shows_the_strata_adjusted_difference(tmp_path):
    corpus = _corpus(("pre", "post"))
    quotes = corpus.quotes.assign(site=["a" if i % 3 else "b" for i in range(len(corpus.quotes))])
    a = analyze(load_corpus(quotes), HashingEmbedder(dim=64), sentiment=VaderScorer(), runs=0, n_boot=99,
                n_topics=3, strata=["site"])
    assert a.shifts["adj_diff"].notna().all()
    write_report(a, tmp_path)
    html = (tmp_path / "report.html").read_text()
    table = html[html.index('<table id="shifts">'):]
    table = table[:table.index("</table>")]
    assert "Adjusted for site (95% CI)" in table
    for _, row in a.shifts.iterrows():  # every theme's adjusted difference and interval, as formatted
        assert f'<td class="num">{_fmt_ci(row["adj_diff"], row["adj_diff_lo"], row["adj_diff_hi"], True)}</td>' in table
