"""Theme labels are phrases respondents wrote, chosen for being common in the theme and rare elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from stakeholder_nlp.themes.labels import candidates, label_from_phrases, load_tagger, phrase_labels

pytestmark = pytest.mark.slow  # loads spaCy's small English model


@pytest.fixture(scope="module")
def nlp():
    return load_tagger()


PARKING = ["The car parking was a nightmare.", "Car parking is far too expensive.", "No car parking near the clinic.",
           "Finding car parking took ages and the waiting time was long."]
STAFF = ["The staff were very friendly.", "Staff were friendly and kind.", "Friendly staff, good care.",
         "The staff were friendly but the waiting time was long."]


def test_candidates_are_surface_phrases_keyed_by_lemma(nlp):
    c = candidates(nlp("The staff were very friendly and the waiting times were long."))
    assert c["friendly staff"] == "staff were very friendly"  # keyed by content lemmas
    assert any(v == "waiting times" for v in c.values())


def test_labels_pick_distinctive_phrases_from_the_quotes_without_debris(nlp):
    texts = PARKING + STAFF
    members = {"parking": np.arange(4), "staff": np.arange(4, 8)}
    out = phrase_labels(texts, members, nlp=nlp)
    assert out["parking"][0] == "car parking"
    assert "friendly" in out["staff"][0] and "staff" in out["staff"][0]
    # "waiting time" is in both themes: never the best phrase of either
    assert all("waiting" not in p[0] for p in out.values())
    words = {w for ps in out.values() for p in ps for w in p.split()}
    assert words <= {w.strip(".,").lower() for t in texts for w in t.split()}  # only words respondents wrote
    assert label_from_phrases(out["parking"]).startswith("Car parking")
    assert label_from_phrases([], fallback="topic 3") == "topic 3"
