"""Change records: counts add up, every cited quote belongs to the theme and waves it is cited for, the
categories follow their rules, row order does not matter, and the files keep their documented columns."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.change.categories import categorise
from stakeholder_nlp.change.echoes import realisation_kind
from stakeholder_nlp.change.records import CHANGE_COLUMNS, ECHO_COLUMNS, describe_changes
from stakeholder_nlp.change.tone import dissent
from stakeholder_nlp.change.voices import spread

CITE = re.compile(r"\[(q\d+)(?: ([^\]]+))?\]")


def _study(seed: int = 0):
    """Two themes x two waves; some later quotes restate earlier ones (near-identical vectors)."""
    rng = np.random.default_rng(seed)
    rows, vecs = [], []
    base = rng.normal(size=(6, 32))
    k = 0
    for wave, speakers in ((2016, ["P1", "P2", "P3", "P4"]), (2021, ["S1", "S2", "S3"])):
        for theme in ("t0", "t1"):
            for j in range(5):
                if theme == "t1" and wave == 2016 and j > 0:
                    continue  # t1: one speaker's view in 2016
                spk = speakers[j % len(speakers)] if j != 4 else None
                point = j % 3 if wave == 2016 or j < 2 else 3 + j % 3  # 2021 quotes 0-1 restate 2016 points
                v = base[point] + (0.05 if wave == 2021 else 0.0) * rng.normal(size=32)
                v = v + (4.0 if theme == "t1" else 0.0)
                vecs.append(v)
                rows.append({"quote_id": f"q{k:03d}", "text": f"quote {k} about point {point} in {theme}",
                             "wave": wave, "speaker": spk, "theme": theme})
                k += 1
    df = pd.DataFrame(rows)
    x = np.asarray(vecs, dtype=np.float32)
    membership = pd.DataFrame({t: (df["theme"] == t).to_numpy() for t in ("t0", "t1")})
    scores = np.where(df["wave"] == 2016, 0.4, -0.5) + 0.01 * np.arange(len(df))
    labels = ["positive" if s > 0.1 else "negative" if s < -0.1 else "neutral" for s in scores]
    labels[3] = "positive" if labels[3] == "negative" else labels[3]
    modes = ["anticipation" if w == 2016 else "experience" for w in df["wave"]]
    return df, x, membership, scores, labels, modes


def _describe(df, x, membership, scores, labels, modes, **kw):
    return describe_changes(
        quote_ids=df["quote_id"].tolist(), texts=df["text"].tolist(), waves=df["wave"].tolist(),
        speakers=df["speaker"].tolist(), membership=membership, primary=df["theme"].tolist(),
        labels={"t0": "Theme zero", "t1": "Theme one"}, embeddings=x, scores=scores, sentiment_labels=labels,
        modes=modes, pairs=[(2016, 2021)], known={t: {} for t in df["text"]}, threshold=0.9, **kw)


@pytest.fixture(scope="module")
def study():
    df, x, m, s, lab, modes = _study()
    return df, _describe(df, x, m, s, lab, modes)


def test_counts_add_up_per_theme(study):
    df, res = study
    for _, r in res.changes.iterrows():
        in_theme = df["theme"] == r["theme_id"]
        n_b = int((in_theme & (df["wave"] == 2021)).sum())
        n_a = int((in_theme & (df["wave"] == 2016)).sum())
        e = res.echoes[res.echoes["theme_id"] == r["theme_id"]]
        assert r["n_echoes"] + r["n_new"] == n_b
        assert r["n_echoes"] == len(e)
        assert r["n_dropped"] == n_a - e["quote_id_a"].nunique()
        assert r["n_realised"] == int((e["kind"] != "echo").sum())


def test_restated_points_are_found_as_echoes(study):
    _, res = study
    t0 = res.changes.set_index("theme_id").loc["t0"]
    assert t0["n_echoes"] == 2 and t0["n_new"] == 3
    assert set(res.echoes["kind"]) <= {"echo", "came_true", "unmet", "met"}
    # a 2016 anticipation (positive) echoed by a negative 2021 experience: a hope reported unmet
    assert (res.echoes["kind"] == "unmet").any()


def test_every_cited_quote_belongs_to_the_theme_and_its_waves(study):
    df, res = study
    by_id = df.set_index("quote_id")
    for _, r in res.changes.iterrows():
        cited = CITE.findall(r["sentence"])
        assert cited, r["sentence"]
        for qid, speaker in cited:
            row = by_id.loc[qid]
            assert row["theme"] == r["theme_id"]
            assert row["wave"] in (r["wave_a"], r["wave_b"])
            assert (speaker or None) == row["speaker"]
        assert "describes the speakers in these data" in r["sentence"]
        for col in ("phrases_a", "phrases_b"):
            for qid in re.findall(r"q\d+", r[col]):
                assert by_id.loc[qid, "theme"] == r["theme_id"]
    for _, e in res.echoes.iterrows():
        assert by_id.loc[e["quote_id_a"], "wave"] == 2016 and by_id.loc[e["quote_id_b"], "wave"] == 2021
        assert by_id.loc[e["quote_id_a"], "theme"] == e["theme_id"] == by_id.loc[e["quote_id_b"], "theme"]


def test_one_speakers_view_that_spreads_is_named(study):
    _, res = study
    t1 = res.changes.set_index("theme_id").loc["t1"]
    assert t1["spread_a"] == "one" and t1["n_speakers_b"] == 3
    assert "one speaker's view in 2016 (P1)" in t1["sentence"]


def test_row_order_does_not_change_the_records():
    df, x, m, s, lab, modes = _study()
    ref = _describe(df, x, m, s, lab, modes)
    perm = np.random.default_rng(1).permutation(len(df))
    shuffled = _describe(df.iloc[perm].reset_index(drop=True), x[perm], m.iloc[perm].reset_index(drop=True),
                         s[perm], [lab[i] for i in perm], [modes[i] for i in perm])
    pd.testing.assert_frame_equal(ref.changes, shuffled.changes)
    pd.testing.assert_frame_equal(ref.echoes, shuffled.echoes)
    assert ref.summary == shuffled.summary
    a = ref.quotes.set_index("quote_id").sort_index()
    b = shuffled.quotes.set_index("quote_id").sort_index()
    pd.testing.assert_frame_equal(a, b)


def test_columns_are_the_documented_ones(study):
    _, res = study
    assert tuple(res.changes.columns) == CHANGE_COLUMNS
    assert tuple(res.echoes.columns) == ECHO_COLUMNS
    assert list(res.quotes.columns) == ["quote_id", "mode", "dissent"]


def test_a_statistical_claim_is_made_only_where_the_shift_table_has_one():
    df, x, m, s, lab, modes = _study()
    shifts = pd.DataFrame({"theme_id": ["t0", "t1"], "wave_a": [2016, 2016], "wave_b": [2021, 2021],
                           "share_significant": [False, True], "share_q": [0.6, 0.01],
                           "sentiment_significant": [False, False], "sentiment_q": [0.5, 0.4]})
    res = _describe(df, x, m, s, lab, modes, shifts=shifts).changes.set_index("theme_id")
    assert "statistical tests also support" in res.loc["t1", "sentence"]
    assert "q = 0.010" in res.loc["t1", "sentence"]
    assert "not a generalisable change" in res.loc["t0", "sentence"]


@pytest.mark.parametrize(("n_a", "n_b", "va", "vb", "ta", "tb", "real", "expected"), [
    (0, 3, 0.0, 0.5, np.nan, -0.2, 0, {"emerged"}),
    (2, 0, 0.4, 0.0, 0.3, np.nan, 0, {"ceased"}),
    (2, 3, 0.3, 0.5, 0.13, -0.66, 0, {"persisted", "reversed"}),
    (2, 4, 0.3, 0.6, -0.2, -0.3, 1, {"persisted", "intensified", "realised"}),
    (4, 2, 0.6, 0.3, 0.5, 0.4, 0, {"persisted", "softened"}),
    (3, 3, 0.5, 0.5, 0.05, -0.05, 0, {"persisted"}),
])
def test_categories_follow_their_rules(n_a, n_b, va, vb, ta, tb, real, expected):
    got = categorise(n_a, n_b, va, vb, ta, tb, real)
    assert {c for c, _ in got} == expected
    assert all(rule for _, rule in got)


def test_spread_and_realisation_and_dissent_rules():
    assert [spread(n, 6) for n in (0, 1, 2, 3, 6)] == ["none", "one", "some", "half or more", "half or more"]
    assert spread(1, 2) == "half or more"
    assert realisation_kind("anticipation", "experience", -0.4, -0.05) == "came_true"
    assert realisation_kind("anticipation", "experience", 0.3, -0.2) == "unmet"
    assert realisation_kind("anticipation", "experience", 0.0, 0.1) == "met"
    assert realisation_kind("anticipation", "experience", -0.3, 0.5) == "echo"  # a warning that did not happen
    assert realisation_kind("experience", "experience", 0.5, -0.5) == "echo"
    d = dissent(["t"] * 4 + ["u"] * 2, [1] * 6, ["negative", "negative", "negative", "positive", "positive",
                                                 "negative"])
    assert d.tolist() == [False, False, False, True, False, False]


def test_echo_search_above_the_cap_counts_a_hash_sample_the_same_in_any_row_order(monkeypatch):
    """Above ECHO_SAMPLE quotes of a theme in a wave the search runs on a hash-chosen sample of that size:
    the counts add up over the sample, the summary and config say so, and the row order changes nothing."""
    import stakeholder_nlp.change.records as records

    df, x, m, s, lab, modes = _study()
    full = _describe(df, x, m, s, lab, modes)
    assert full.config["echo_sampled"] == [] and not any("sample" in t for t in full.summary)
    monkeypatch.setattr(records, "ECHO_SAMPLE", 3)
    got = _describe(df, x, m, s, lab, modes)
    t0 = got.changes.set_index("theme_id").loc["t0"]
    n_b = int(((df["theme"] == "t0") & (df["wave"] == 2021)).sum())
    assert n_b > 3
    assert t0["n_echoes"] + t0["n_new"] == 3  # the sampled later quotes, not all n_b
    assert t0["n_dropped"] <= 3
    assert "t0 (2016, 2021)" in got.config["echo_sampled"] and got.config["echo_sample"] == 3
    assert any("a sample of 3" in t for t in got.summary)
    # every echo pair cited is between sampled quotes of the theme, in the two waves
    ids = set(df.loc[df["theme"] == "t0", "quote_id"])
    assert set(got.echoes.loc[got.echoes["theme_id"] == "t0", "quote_id_b"]) <= ids
    perm = np.random.default_rng(3).permutation(len(df))
    shuffled = _describe(df.iloc[perm].reset_index(drop=True), x[perm], m.iloc[perm].reset_index(drop=True),
                         s[perm], [lab[i] for i in perm], [modes[i] for i in perm])
    cols = ["theme_id", "n_echoes", "n_new", "n_dropped", "n_realised", "sentence"]
    pd.testing.assert_frame_equal(got.changes[cols].sort_values("theme_id").reset_index(drop=True),
                                  shuffled.changes[cols].sort_values("theme_id").reset_index(drop=True))
    assert got.echoes.to_dict("records") == shuffled.echoes.to_dict("records")
