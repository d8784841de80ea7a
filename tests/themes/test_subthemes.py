"""Subthemes: a second level within each theme, by the top level's stability criterion (synthetic embeddings)."""

from __future__ import annotations

import json
import re

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


def test_a_subtheme_without_phrases_is_named_by_its_most_central_short_quote(fitted):
    (texts, x, top, _, speakers, _), r = fitted
    r2 = fit_subthemes(texts, x, top, speakers=speakers, known={t: {} for t in texts})
    first = r2.subthemes.iloc[0]
    assert first["label"] == f"“{texts[first['representative'][0]]}”" and first["phrases"] == []


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


def _theme_result(top):
    from stakeholder_nlp.themes.assign import ThemeResult

    ids = sorted(set(top))
    member = pd.DataFrame({t: [x == t for x in top] for t in ids})
    return ThemeResult(pd.DataFrame({"theme_id": ids, "label": ids, "kind": "topic", "n_quotes": 1,
                                     "terms": [[]] * len(ids), "representative": [[]] * len(ids)}),
                       member, member.astype(float), np.array([int(t[-1]) for t in top]), "inductive")


def test_curation_at_the_subtheme_level_round_trips_and_applies_rename_drop_merge(fitted):
    from stakeholder_nlp.themes.curation import parse_themes_file, themes_file_text
    from stakeholder_nlp.themes.subthemes import curated_subthemes

    (_, x, top, *_), r = fitted
    text = themes_file_text(_theme_result(top), subthemes=r)
    assert text.count("\n  [[subtheme]]") == len(r.subthemes)
    same = curated_subthemes(r.quotes["subtheme"], r.quotes["subtheme_label"], top, x,
                             parse_themes_file(text).subthemes)
    pd.testing.assert_frame_equal(same.quotes.drop(columns="similarity"), r.quotes.drop(columns="similarity"))
    def edit(t, sid, label=None, action="keep", into=""):
        parent = sid.rsplit(".", 1)[0]
        pat = (rf'(id = "{re.escape(sid)}"\n  parent = "{parent}"\n  label = )("[^"]*")(\n  action = )"keep"'
               r'(\n  into = )""')
        return re.sub(pat, lambda m: f'{m[1]}{json.dumps(label) if label else m[2]}{m[3]}"{action}"{m[4]}"{into}"', t)

    edited = edit(edit(edit(text, "topic_0.1", label="Renamed"), "topic_0.2", action="drop"), "topic_1.2",
                  action="merge", into="topic_1.1")
    edits = parse_themes_file(edited).subthemes
    assert {e.id: e.action for e in edits if e.action != "keep"} == {"topic_0.2": "drop", "topic_1.2": "merge"}
    cur = curated_subthemes(r.quotes["subtheme"], r.quotes["subtheme_label"], top, x, edits)
    old, new = r.quotes["subtheme"].to_numpy(), cur.quotes
    assert (new.loc[old == "topic_0.2", "placement"] == "parent").all()
    assert (new.loc[old == "topic_1.2", "subtheme"] == "topic_1.1").all()
    assert cur.subthemes.set_index("subtheme_id").loc["topic_0.1", "label"] == "Renamed"
    assert "topic_0.2" not in set(new["subtheme"]) and new["theme_id"].tolist() == top


def test_a_merged_theme_brings_its_subthemes_and_bad_subtheme_edits_are_refused(fitted):
    from stakeholder_nlp.themes.curation import ThemesFileError, parse_themes_file
    from stakeholder_nlp.themes.subthemes import curated_subthemes

    (_, x, top, *_), r = fitted
    merged = ["topic_0"] * len(top)
    cur = curated_subthemes(r.quotes["subtheme"], r.quotes["subtheme_label"], merged, x)
    assert set(cur.subthemes["parent_id"]) == {"topic_0"} and len(cur.subthemes) == len(r.subthemes)
    base = '[[theme]]\nid = "topic_0"\nlabel = "a"\n[[subtheme]]\nid = "topic_0.1"\nparent = "topic_0"\nlabel = "x"\n'
    with pytest.raises(ThemesFileError, match="not another subtheme of 'topic_0'"):
        parse_themes_file(base.replace('label = "x"', 'label = "x"\naction = "merge"\ninto = "topic_1.1"'))
    with pytest.raises(ThemesFileError, match="action 'split' is not one of"):
        parse_themes_file(base.replace('label = "x"', 'label = "x"\naction = "split"'))


def test_the_report_tree_lists_themes_first_with_their_subthemes_beneath(fitted):
    from types import SimpleNamespace

    from stakeholder_nlp.report.tree_view import HTML_QUOTES_PER_SUBTHEME, tree_view

    (texts, _, top, _, speakers, _), r = fitted
    quotes = pd.DataFrame({"quote_id": [f"q{i}" for i in range(len(texts))], "speaker": speakers})
    a = SimpleNamespace(corpus=SimpleNamespace(quotes=quotes), themes=_theme_result(top), subthemes=r)
    view = tree_view(a, texts)
    assert [t["id"] for t in view["themes"]] == ["topic_0", "topic_1"]
    for t in view["themes"]:
        assert [c["id"] for c in t["subthemes"]] == r.children(t["id"])
        assert all(0 < len(c["quotes"]) <= HTML_QUOTES_PER_SUBTHEME for c in t["subthemes"])
    assert tree_view(SimpleNamespace(subthemes=None), texts) is None


def test_redaction_removes_names_from_subtheme_labels_and_phrases(fitted):
    import dataclasses

    from stakeholder_nlp.report.redact import NAME, _redact_subthemes, _word_pattern

    _, r = fitted
    named = r.subthemes.copy()
    named.loc[0, "label"], named.loc[0, "phrases"] = "Kayleigh was very friendly", ["kayleigh", "care"]
    quotes = r.quotes.copy()
    quotes.loc[quotes["subtheme"] == named.loc[0, "subtheme_id"], "subtheme_label"] = "Kayleigh was very friendly"
    out = _redact_subthemes(dataclasses.replace(r, subthemes=named, quotes=quotes),
                            _word_pattern({"kayleigh"}, re.IGNORECASE))
    assert out.subthemes.loc[0, "label"] == f"{NAME} was very friendly" and out.subthemes.loc[0, "phrases"] == [NAME, "care"]
    assert not out.quotes["subtheme_label"].str.contains("Kayleigh").any()
    assert out.quotes["subtheme"].tolist() == r.quotes["subtheme"].tolist()


def test_quotes_without_speakers_count_as_one_speaker_each():
    texts, x, top, *_ = _corpus()
    r = fit_subthemes(texts, x, top, speakers=[None] * len(texts), phrase_labels=False)
    assert (r.splits["reason"] == "split").all() and (r.splits["n_speakers"] == r.splits["n_quotes"]).all()
