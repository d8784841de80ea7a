"""The change stage inside analyze and its files: theme_changes.csv, echoes.csv, quotes.csv's mode and
dissent, the workbook's changes sheet, the report's first section, run.json; and the notice when the mode
classifier cannot read the run's embeddings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from stakeholder_nlp.change.records import CHANGE_COLUMNS, ECHO_COLUMNS
from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import STAGES, analyze
from stakeholder_nlp.report import write_report
from stakeholder_nlp.sentiment import VaderScorer


class KeywordModes:
    """A fake classifier for the test: 'will' -> anticipation, else experience."""

    def predict(self, texts, embeddings, *, model_id=None):
        return ["anticipation" if " will " in f" {t} " else "experience" for t in texts]


def _corpus():
    rows = []
    topics = {"data": "the data and the analysts", "team": "the nurses and the wider team"}
    for wave in (2016, 2021):
        for s in range(5):
            for j, (name, about) in enumerate(topics.items()):
                verb = "will be great for" if wave == 2016 else "has been terrible for"
                rows.append({"quote_id": f"{wave}-{s}-{name}", "speaker": f"{wave}-s{s}", "wave": wave,
                             "text": f"I think {about} {verb} the cluster {j} and {s}"})
    return load_corpus(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    a = analyze(_corpus(), HashingEmbedder(dim=64), sentiment=VaderScorer(), runs=0, n_boot=99, n_topics=2,
                mode_classifier=KeywordModes(), echo_threshold=0.5)
    out = tmp_path_factory.mktemp("changes")
    write_report(a, out)
    return a, out


def test_the_changes_stage_is_one_declared_entry_after_sentiment():
    names = [s.name for s in STAGES]
    assert names.index("changes") == names.index("sentiment") + 1
    stage = STAGES[names.index("changes")]
    assert "changes" in stage.assigns and "sentiment_scores" in stage.requires


def test_change_files_have_their_documented_columns(outputs):
    a, out = outputs
    changes = pd.read_csv(out / "theme_changes.csv")
    echoes = pd.read_csv(out / "echoes.csv")
    quotes = pd.read_csv(out / "quotes.csv")
    assert tuple(changes.columns) == CHANGE_COLUMNS
    assert tuple(echoes.columns) == ECHO_COLUMNS
    assert {"mode", "dissent"} <= set(quotes.columns)
    assert set(quotes["mode"]) == {"anticipation", "experience"}
    assert len(changes) == a.themes.membership.shape[1]
    assert list(changes.columns) == list(a.changes.changes.columns)  # same names in the library and the files
    assert set(echoes["quote_id_a"]) <= set(quotes.loc[quotes["wave"] == 2016, "quote_id"])
    assert set(echoes["quote_id_b"]) <= set(quotes.loc[quotes["wave"] == 2021, "quote_id"])


def test_report_opens_with_how_themes_changed(outputs):
    a, out = outputs
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index('id="changes"') < html.index('id="findings"')
    for sentence in a.changes.changes["sentence"]:
        assert sentence.split(":")[0] in html
    assert "describe the speakers" in html


def test_workbook_and_run_record_carry_the_changes(outputs):
    a, out = outputs
    wb = load_workbook(out / "framework_matrix.xlsx")
    assert wb.sheetnames[1] == "changes"
    assert [c.value for c in wb["changes"][1]] == list(CHANGE_COLUMNS)
    run = json.loads((out / "run.json").read_text())
    assert run["changes"]["echo_threshold"] == 0.5
    assert run["changes"]["summary"] == list(a.changes.summary)
    assert "changes" in [s["name"] for s in run["config"]["stages"]]


def test_modes_are_not_invented_when_the_classifier_cannot_read_the_embeddings():
    a = analyze(_corpus(), HashingEmbedder(dim=64), sentiment=VaderScorer(), runs=0, n_boot=99, n_topics=2)
    assert set(a.changes.quotes["mode"]) == {""}
    assert "not classified" in a.changes.config["mode_notice"]
    assert np.all(a.changes.changes["n_realised"] == 0)


def test_qdpx_carries_each_quotes_mode_as_a_code_and_each_echo_as_a_link(outputs, tmp_path):
    import xml.etree.ElementTree as ET
    import zipfile

    from stakeholder_nlp.report.qdpx import MODE_PARENT, export_analysis

    a, _ = outputs
    path = tmp_path / "changes.qdpx"
    export_analysis(a, path, created="2026-01-01T00:00:00Z")  # validated against the REFI-QDA schema
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("project.qde"))
    ns = {"r": "urn:QDA-XML:project:1.0"}
    names = {c.get("name") for c in root.iterfind(".//r:Code", ns)}
    assert MODE_PARENT in names and {"mode: anticipation", "mode: experience"} <= names
    links = root.findall("./r:Links/r:Link", ns)
    assert len(links) == len(a.changes.echoes) > 0
    selections = {s.get("guid"): s.get("name") for s in root.iterfind(".//r:PlainTextSelection", ns)}
    pairs = {(selections[link.get("originGUID")], selections[link.get("targetGUID")]) for link in links}
    assert pairs == set(zip(a.changes.echoes["quote_id_a"], a.changes.echoes["quote_id_b"], strict=True))
