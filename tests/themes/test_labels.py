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


def test_a_large_theme_is_ranked_by_its_centroid_in_blocks(monkeypatch):
    """Above the block size the centroid is summed a block at a time: the same similarities (to float32
    rounding) and the same quotes picked as reading every row at once."""
    import numpy as np

    from stakeholder_nlp.themes import labels

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx = np.flatnonzero(rng.random(500) < 0.7)
    whole = labels._centroid_similarities(x, idx)
    monkeypatch.setattr(labels, "_ROWS", 32)
    blocked = labels._centroid_similarities(x, idx)
    np.testing.assert_allclose(blocked, whole, rtol=0, atol=1e-6)
    assert (np.argsort(-blocked, kind="stable")[:20] == np.argsort(-whole, kind="stable")[:20]).all()
