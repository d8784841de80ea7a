"""Subthemes: a second level within each theme, by the top level's stability criterion (synthetic embeddings)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.themes.subthemes import (
    MIN_QUOTES,
    MIN_SPEAKERS,
    PLACEMENTS,
    QUOTE_SUBTHEME_COLUMNS,
    SPLIT_COLUMNS,
    SUBTHEME_COLUMNS,
    fit_subthemes,
)

PHRASES = {("topic_0", 0): "car parking", ("topic_0", 1): "waiting time", ("topic_0", 2): "friendly staff",
           ("topic_1", 0): "discharge letter", ("topic_1", 1): "hospital food", ("topic_1", 2): "visiting hours"}


def _corpus(sizes=(150, 150), n_sub=3, dim=32, seed=0):
    """Themes of ``sizes`` quotes, each made of ``n_sub`` well-separated subclusters; 30 speakers."""
    rng = np.random.default_rng(seed)
    texts, x, top, truth, known = [], [], [], [], {}
    for t, size in enumerate(sizes):
        theme_dir = rng.normal(size=dim) * 3
        subs = [theme_dir + rng.normal(size=dim) * 1.5 for _ in range(n_sub)]
        for i in range(size):
            s = i % n_sub
            texts.append(f"theme {t} sub {s} quote {i}")
            x.append(subs[s] + rng.normal(size=dim) * 0.35)
            top.append(f"topic_{t}")
            truth.append(f"{t}-{s}")
            phrase = PHRASES.get((f"topic_{t}", s), f"phrase {t} {s}")
            known[texts[-1]] = {" ".join(sorted(phrase.split())): phrase}
    x = np.asarray(x, dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    speakers = [f"s{i % 30}" for i in range(len(texts))]
    return texts, x, top, truth, speakers, known


@pytest.fixture(scope="module")
def fitted():
    texts, x, top, truth, speakers, known = _corpus()
    return (texts, x, top, truth, speakers, known), fit_subthemes(texts, x, top, speakers=speakers, known=known)


def test_every_quote_keeps_its_one_top_theme_and_a_subtheme_belongs_to_its_parent(fitted):
    (texts, x, top, *_), r = fitted
    q = r.quotes
    assert list(q.columns) == list(QUOTE_SUBTHEME_COLUMNS) and len(q) == len(texts)
    assert q["theme_id"].tolist() == top
    assert set(q["placement"]) <= set(PLACEMENTS)
    parent_of = dict(zip(r.subthemes["subtheme_id"], r.subthemes["parent_id"], strict=True))
    placed = q[q["subtheme"] != ""]
    assert (placed["placement"] == "subtheme").all()
    assert all(parent_of[s] == t and s.startswith(t + ".") for s, t in zip(placed["subtheme"], placed["theme_id"],
                                                                           strict=True))
    assert (q.loc[q["subtheme"] == "", "placement"] != "subtheme").all()
    assert r.subthemes["n_quotes"].sum() == len(placed)
    assert list(r.subthemes.columns) == list(SUBTHEME_COLUMNS) and list(r.splits.columns) == list(SPLIT_COLUMNS)


def test_planted_subthemes_are_found_and_at_most_a_tenth_is_left_in_the_parent(fitted):
    from sklearn.metrics import adjusted_mutual_info_score

    (_, _, _, truth, *_), r = fitted
    assert [len(r.children(t)) for t in ("topic_0", "topic_1")] == [3, 3]
    q = r.quotes
    inside = (q["subtheme"] != "").to_numpy()
    assert adjusted_mutual_info_score(np.asarray(truth)[inside], q["subtheme"][inside]) > 0.95
    assert 0 < r.unassigned_share() <= 0.10
    assert (q.loc[q["placement"] == "parent", "similarity"] < r.splits["threshold"].max()).all()


def test_labels_come_from_the_subthemes_own_phrases(fitted):
    _, r = fitted
    labels = set(r.subthemes["label"].str.lower())
    assert {"car parking", "waiting time", "friendly staff"} <= labels
    assert r.quotes.loc[r.quotes["subtheme"] != "", "subtheme_label"].ne("").all()


def test_labels_reranked_on_read_only_embeddings_keep_their_own_phrases(fitted):
    from stakeholder_nlp.embedding import HashingEmbedder

    (texts, x, top, _, speakers, known), r = fitted
    hasher = HashingEmbedder(dim=32)  # the dimension of the quote vectors

    def embed(words):
        v = np.asarray(hasher.encode(list(words)), dtype=np.float32)
        v.setflags(write=False)
        return v

    known2 = {t: {**c, "zz other": "other words"} for t, c in known.items()}
    r2 = fit_subthemes(texts, x, top, speakers=speakers, known=known2, embed=embed)
    assert r2.quotes["subtheme"].tolist() == r.quotes["subtheme"].tolist()
    assert all(len(p) >= 1 for p in r2.subthemes["phrases"])


def test_row_order_does_not_change_the_tree(fitted):
    (texts, x, top, _, speakers, known), r = fitted
    perm = np.random.default_rng(1).permutation(len(texts))
    r2 = fit_subthemes([texts[i] for i in perm], x[perm], [top[i] for i in perm], speakers=[speakers[i] for i in perm],
                       known=known)
    a = dict(zip(texts, r.quotes["subtheme"], strict=True))
    b = dict(zip([texts[i] for i in perm], r2.quotes["subtheme"], strict=True))
    assert a == b
    pd.testing.assert_frame_equal(r.subthemes.drop(columns="representative"),
                                  r2.subthemes.drop(columns="representative"))


def test_small_themes_and_themes_of_few_speakers_get_no_subthemes():
    texts, x, top, _, speakers, _ = _corpus(sizes=(MIN_QUOTES - 1, 200))
    few = [f"s{i % (MIN_SPEAKERS - 1)}" if t == "topic_1" else s for i, (t, s) in enumerate(zip(top, speakers,
                                                                                               strict=True))]
    r = fit_subthemes(texts, x, top, speakers=few, phrase_labels=False)
    assert len(r.subthemes) == 0 and r.unassigned_share() == 0.0
    assert (r.quotes["placement"] == "unsplit").all() and (r.quotes["subtheme"] == "").all()
    assert r.splits["reason"].str.startswith("too few").all()


def test_a_quote_without_a_top_theme_gets_no_subtheme_and_bad_shapes_are_refused():
    texts, x, top, _, speakers, _ = _corpus()
    top = ["" if i % 50 == 0 else t for i, t in enumerate(top)]
    r = fit_subthemes(texts, x, top, speakers=speakers, phrase_labels=False)
    none = r.quotes["theme_id"] == ""
    assert (r.quotes.loc[none, "placement"] == "none").all() and (r.quotes.loc[none, "subtheme"] == "").all()
    assert r.subthemes["label"].str.match(r"^topic_\d \(\d+\)$").all()  # no phrases: parent and number
    with pytest.raises(ValueError, match="one row per quote"):
        fit_subthemes(texts, x[:-1], top)


def test_quotes_and_assignment_tables_carry_the_subtheme_columns(fitted):
    from stakeholder_nlp.report.tables import QUOTE_COLUMNS
    from stakeholder_nlp.themes.assign import ThemeResult
    from stakeholder_nlp.themes.curation import ASSIGNMENT_SUBTHEME_COLUMNS, assignment_table

    (texts, _, top, *_), r = fitted
    assert {"subtheme", "subtheme_label", "subtheme_placement"} <= set(QUOTE_COLUMNS)
    ids = sorted(set(top))
    member = pd.DataFrame({t: [x == t for x in top] for t in ids})
    res = ThemeResult(pd.DataFrame({"theme_id": ids, "label": ids, "kind": "topic", "n_quotes": 1, "terms": [[]] * 2,
                                    "representative": [[]] * 2}), member, member.astype(float),
                      np.array([int(t[-1]) for t in top]), "inductive")
    qids = [f"q{i}" for i in range(len(texts))]
    table = assignment_table(res, qids, r)
    assert list(table.columns) == ["quote_id", "topic", *ASSIGNMENT_SUBTHEME_COLUMNS, *ids]
    assert table["subtheme"].tolist() == r.quotes["subtheme"].tolist()
    assert list(assignment_table(res, qids).columns) == ["quote_id", "topic", *ids]
