"""``--redact``: names planted in every field (speakers, quote text, hence theme labels, terms and exemplar
quotes) appear in no output file."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import analyze
from stakeholder_nlp.report import write_report
from stakeholder_nlp.report.redact import pseudonyms, redact_names
from stakeholder_nlp.sentiment import VaderScorer

NAMES = ["Jane Smith", "Robert Brown", "Priya Patel"]
PLANTED = ["jane", "smith", "robert", "brown", "priya", "patel"]


def _corpus():
    rng = np.random.default_rng(3)
    topics = {"data": "the data extract from the practice system was missing again",
              "team": "the nurse and the pharmacist were left out of the team meeting",
              "time": "there was never enough protected time for the cluster session"}
    rows = []
    for wave in (2016, 2021):
        for i in range(15):
            name = NAMES[i % 3]
            first, last = name.split()
            topic = list(topics)[(i + (wave == 2021)) % 3]
            text = (f"{name} said {topics[topic]}. {last} told us {last} keeps raising it with {first}"
                    if i % 2 else f"According to {name}, {topics[topic]}; {last} agreed.")
            rows.append({"quote_id": f"{wave}-{i}", "text": text + f" ({rng.integers(100)})", "speaker": name,
                         "wave": wave})
    return load_corpus(pd.DataFrame(rows))


@pytest.fixture(scope="module")
def redacted(tmp_path_factory):
    a = analyze(_corpus(), HashingEmbedder(64), sentiment=VaderScorer(), runs=0, n_boot=50, n_topics=3)
    out = tmp_path_factory.mktemp("redacted") / "out"
    write_report(a, out, redact=True)
    return a, out


def _all_text(out):
    for path in sorted(out.rglob("*")):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                yield path, "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                                      if n.endswith(".xml"))
        elif path.suffix in (".csv", ".html", ".json", ".toml", ".svg", ".txt", ".qdpx"):
            yield path, path.read_text(encoding="utf-8", errors="replace")


def test_names_planted_in_speakers_and_text_reach_the_unredacted_labels_and_terms(redacted):
    a, _ = redacted
    words = " ".join(a.themes.themes["label"].astype(str)).lower() + " " + " ".join(
        " ".join(t) for t in a.drift["terms_a"].tolist() + a.drift["terms_b"].tolist()).lower()
    assert any(n in words for n in PLANTED), "the test must plant names where labels and terms pick them up"


def test_no_planted_name_appears_in_any_output_file(redacted):
    _, out = redacted
    found = [(p.name, n) for p, text in _all_text(out) for n in PLANTED if n in text.lower()]
    assert found == []
    quotes = pd.read_csv(out / "quotes.csv")
    assert set(quotes["speaker"]) == {"speaker-001", "speaker-002", "speaker-003"}
    assert quotes["text"].str.contains(r"\[name\]", regex=True).all()


def test_pseudonyms_are_stable_by_first_appearance():
    assert pseudonyms(["b", "a", "b", None, "c"]) == {"b": "speaker-001", "a": "speaker-002", "c": "speaker-003"}


def test_a_name_found_once_is_redacted_everywhere_it_occurs():
    out = redact_names(["Dr Jane Smith runs the clinic.", "Smith was late again, said the nurse."])
    assert "Smith" not in " ".join(out) and "Jane" not in " ".join(out)
    assert out[1].endswith("was late again, said the nurse.")
