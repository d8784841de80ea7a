"""analyze's options for real survey files: --skip-bad-rows (listed in bad_rows.csv), --id-col, --min-words
and non-responses set aside, --themes (the curation loop, no refit), and the per-user default cache."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import tomllib
from typer.testing import CliRunner

import stakeholder_nlp.embedding as embedding
import stakeholder_nlp.sentiment as sentiment
from stakeholder_nlp.cli import app
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.sentiment import VaderScorer

pytestmark = pytest.mark.slow  # two analyze runs through the CLI (spaCy, bootstrap), fake embedder

TOPICS = {"park": "car parking was expensive and the car park was full",
          "staff": "the staff were friendly and the nurses were kind",
          "wait": "the waiting time was long and the clinic ran late"}


@pytest.fixture()
def survey(tmp_path):
    rows = []
    for w, trust in enumerate(("Trust B", "Trust C")):
        for i in range(30):
            topic = list(TOPICS)[(i + w * (i % 2)) % 3]
            rows.append({"ref": f"{trust[-1]}{i:03d}", "comment": f"{TOPICS[topic]} visit {i}", "trust": trust,
                         "ward": "north" if i % 2 else "south"})
    rows[3]["comment"] = "N/A"
    rows[4]["comment"] = "Nothing."
    rows[5]["comment"] = "Excellent"
    rows[40]["comment"] = ""  # a bad row
    path = tmp_path / "survey.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture()
def fake_models(monkeypatch, tmp_path):
    monkeypatch.setattr(embedding, "load_embedder", lambda *a, **k: HashingEmbedder(dim=64))
    monkeypatch.setattr(sentiment, "load_scorer", lambda *a, **k: VaderScorer())
    monkeypatch.setenv("STAKEHOLDER_NLP_CACHE", str(tmp_path / "user-cache"))
    monkeypatch.chdir(tmp_path)


ARGS = ["--text-col", "comment", "--wave-col", "trust", "--id-col", "ref", "--runs", "0", "--n-boot", "50",
        "--n-topics", "3"]


def test_analyze_options_and_curation_loop(survey, fake_models, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(survey), "--out", str(out), *ARGS])
    assert res.exit_code == 2 and "row 42" in res.output  # the empty comment stops a run by default

    res = runner.invoke(app, ["analyze", str(survey), "--out", str(out), *ARGS, "--skip-bad-rows", "--min-words", "2"])
    assert res.exit_code == 0, res.output
    assert "1 bad rows skipped" in res.output and "3 non-responses set aside" in res.output
    assert pd.read_csv(out / "bad_rows.csv")["row"].tolist() == [42]
    aside = pd.read_csv(out / "set_aside.csv", keep_default_na=False)
    assert sorted(aside["text"]) == ["Excellent", "N/A", "Nothing."]
    assert {"short: 1 word", "nonresponse: n/a"} <= set(aside["reason"])
    quotes = pd.read_csv(out / "quotes.csv")
    assert len(quotes) == 60 - 4 and quotes["quote_id"].iloc[0] == "B000" and "ward" in quotes.columns
    assert (tmp_path / "user-cache" / "embeddings.sqlite").exists()  # per-user cache, not the cwd
    assert not (tmp_path / "models").exists()
    assert "Findings that hold" in res.output and "Findings that hold" in (out / "report.html").read_text()

    # curate: rename one theme, merge another into it, drop the third
    themes = tomllib.loads((out / "themes.toml").read_text())
    ids = [t["id"] for t in themes["theme"]]
    assert len(ids) == 3
    text = (out / "themes.toml").read_text()
    blocks = text.split("[[theme]]")
    blocks[1] = blocks[1].replace(f'label = "{themes["theme"][0]["label"]}"', 'label = "Getting there"')
    blocks[2] = blocks[2].replace('action = "keep"\ninto = ""', f'action = "merge"\ninto = "{ids[0]}"')
    blocks[3] = blocks[3].replace('action = "keep"', 'action = "drop"')
    edited = tmp_path / "themes_edited.toml"
    edited.write_text("[[theme]]".join(blocks))
    (tmp_path / "assignment.csv").write_bytes((out / "assignment.csv").read_bytes())
    (tmp_path / "curation_state.parquet").write_bytes((out / "curation_state.parquet").read_bytes())
    out2 = tmp_path / "curated"
    res = runner.invoke(app, ["analyze", str(survey), "--out", str(out2), *ARGS, "--skip-bad-rows", "--min-words",
                              "2", "--themes", str(edited)])
    assert res.exit_code == 0, res.output
    shifts = pd.read_csv(out2 / "shifts.csv")
    assert shifts["label"].unique().tolist() == ["Getting there"]
    q2 = pd.read_csv(out2 / "quotes.csv", keep_default_na=False)
    q1 = pd.read_csv(out / "quotes.csv", keep_default_na=False)
    merged = q1["themes"].isin([ids[0], ids[1]])
    assert (q2.loc[merged, "themes"] == ids[0]).all() and (q2.loc[~merged, "themes"] == "").all()
    run = json.loads((out2 / "run.json").read_text())
    assert run["config"]["themes_file"] == str(edited) and run["config"]["runs"] == 0
    # the rerun took lemmas and sentiment from the saved state instead of recomputing them
    assert run["config"]["curation_state_reused"] is True
    assert q2["sentiment"].tolist() == q1["sentiment"].tolist()
    assert "Getting there" in (out2 / "report.html").read_text()


def test_a_broken_themes_file_exits_2_naming_the_line(survey, fake_models, tmp_path):
    bad = tmp_path / "themes.toml"
    bad.write_text('[[theme]]\nid = "a"\nlabel = "A"\naction = "explode"\n')
    res = CliRunner().invoke(app, ["analyze", str(survey), "--out", str(tmp_path / "o"), *ARGS, "--skip-bad-rows",
                                   "--themes", str(bad)])
    assert res.exit_code == 2 and "line 1" in res.output and "explode" in res.output
