"""The theme tree through analyze: shifts, sentiment, the framework matrix and the change records at both
levels (one FDR family), curation at both levels (rename, drop, merge, promote) through a --themes rerun,
row order, and the new columns' contract. A synthetic corpus of planted vectors (two themes of three
subthemes each, 40 speakers, two waves) passed as ``embeddings=``, so nothing is embedded. Also: the number
of subthemes grows with the theme (a theme of 2,000 quotes in 20 planted subclusters gets about 20), and the
share kept in the parent is the stated quantile of all the theme's quotes."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import STAGES, analyze
from stakeholder_nlp.report import write_report
from stakeholder_nlp.sentiment import VaderScorer
from stakeholder_nlp.shift import bh_qvalues, prevalence_shift
from stakeholder_nlp.themes.curation import load_themes_file
from stakeholder_nlp.themes.subthemes import (
    FAR_QUANTILE,
    MAX_FIT_QUOTES,
    MAX_SUBTHEMES,
    MIN_FIT_QUOTES,
    PLACEMENTS,
    fit_sample_size,
    fit_subthemes,
    max_subthemes,
)

SUBS = {0: ["car parking was {a} at the entrance", "the waiting time was {a} and long", "friendly staff were {a} to me"],
        1: ["the discharge letter came {a} late", "hospital food was {a} and cold", "visiting hours were {a} and flexible"]}
WORDS = ["awful", "terrible", "fine", "great", "lovely", "poor", "good", "bad", "okay", "excellent"]
DIM = 32


def _corpus(n_per: int = 180, seed: int = 0):
    """Two themes of ``n_per`` quotes, each of three planted subclusters; the first subtheme of each theme is
    more common in 2024 than in 2023, the third is voiced in 2023 only."""
    rng = np.random.default_rng(seed)
    centres = {}
    for t in SUBS:
        d = rng.normal(size=DIM) * 3
        for k in range(3):
            centres[t, k] = d + rng.normal(size=DIM) * 1.5
    rows, x = [], []
    for t in SUBS:
        for i in range(n_per):
            wave = "2023" if i % 2 == 0 else "2024"
            k = i % 3 if wave == "2023" else (0 if i % 6 in (1, 3) else (i // 2) % 2)
            word = WORDS[int(rng.integers(len(WORDS)))]
            rows.append({"quote_id": f"q{t}-{i:03d}", "text": SUBS[t][k].format(a=word) + f" (note {i})",
                         "speaker": f"s{(i * 7 + t) % 40}", "wave": wave})
            x.append(centres[t, k] + rng.normal(size=DIM) * 0.35)
    x = np.asarray(x, dtype=np.float32)
    return load_corpus(pd.DataFrame(rows)), x / np.linalg.norm(x, axis=1, keepdims=True)


def _analyze(corpus, x, **kw):
    return analyze(corpus, HashingEmbedder(dim=DIM), embeddings=x, sentiment=VaderScorer(), runs=0, n_boot=99,
                   n_topics=2, **kw)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    corpus, x = _corpus()
    a = _analyze(corpus, x)
    out = tmp_path_factory.mktemp("tree")
    write_report(a, out)
    return corpus, x, a, out


def test_the_corpus_splits_into_three_subthemes_per_theme(tree):
    _, _, a, _ = tree
    assert len(a.themes.themes) == 2
    assert [len(a.subthemes.children(t)) for t in a.themes.themes["theme_id"]] == [3, 3]


def test_every_quote_has_one_top_theme_and_a_subtheme_belongs_to_its_parent(tree):
    _, _, a, out = tree
    q = pd.read_csv(out / "quotes.csv", dtype=str, keep_default_na=False)
    assert (q["primary_theme"] != "").all() and set(q["primary_theme"]) == set(a.themes.themes["theme_id"])
    placed = q[q["subtheme"] != ""]
    parent = dict(zip(a.subthemes.subthemes["subtheme_id"], a.subthemes.subthemes["parent_id"], strict=True))
    assert len(placed) > 0.9 * len(q)
    assert (placed["subtheme"].map(parent) == placed["primary_theme"]).all()
    assert (placed["subtheme_placement"] == "subtheme").all()
    assert set(q["subtheme_placement"]) <= set(PLACEMENTS)


def test_shifts_hold_both_levels_in_one_fdr_family(tree):
    corpus, _, a, out = tree
    s = a.shifts
    assert set(s["level"]) == {"theme", "subtheme"}
    sub = s[s["level"] == "subtheme"]
    assert (sub["theme_id"].str.rsplit(".", n=1).str[0] == sub["parent"]).all()
    assert (s.loc[s["level"] == "theme", "parent"] == "").all()
    np.testing.assert_allclose(s["share_q"], bh_qvalues(s["share_p"]), equal_nan=True)  # one family
    # a subtheme's share is of all the wave's quotes (not of its parent's)
    q = corpus.quotes
    placed = a.subthemes.quotes["subtheme"].to_numpy()
    for _, r in sub.iterrows():
        for side in ("a", "b"):
            in_wave = (q["wave"] == r[f"wave_{side}"]).to_numpy()
            assert r[f"share_{side}"] == pytest.approx((placed[in_wave] == r["theme_id"]).mean())
    # the planted rise of each theme's first subtheme is found; the themes' own tests are those of the top level
    assert (sub.set_index("theme_id").loc[["topic_0.1", "topic_1.1"], "share_diff"] > 0.1).all()
    alone = prevalence_shift(a.themes.membership, q["wave"].tolist(), q["speaker"].tolist(), n_boot=99)
    np.testing.assert_allclose(s.loc[s["level"] == "theme", "share_p"].to_numpy(), alone["share_p"].to_numpy())
    csv = pd.read_csv(out / "shifts.csv", keep_default_na=False)
    assert csv["level"].tolist()[:4] == ["theme", "subtheme", "subtheme", "subtheme"]  # folded beneath the parent
    assert {"level", "parent"} <= set(csv.columns) and set(a.shifts.columns) <= set(csv.columns)


def test_sentiment_per_subtheme_shares_the_family_of_the_themes(tree):
    _, _, a, _ = tree
    ss, lv = a.sentiment_shifts, a.sentiment_levels
    assert set(ss["level"]) == {"theme", "subtheme"} and set(lv["level"]) == {"theme", "subtheme"}
    np.testing.assert_allclose(ss["sentiment_q"], bh_qvalues(ss["sentiment_p"]), equal_nan=True)
    scores = np.asarray(a.sentiment_scores)
    placed = a.subthemes.quotes["subtheme"].to_numpy()
    waves = a.corpus.quotes["wave"].to_numpy()
    w = lv["wave"].iloc[0]
    r = lv[(lv["theme_id"] == "topic_0.2") & (lv["wave"] == w)].iloc[0]
    assert r["parent"] == "topic_0" and r["mean"] == pytest.approx(scores[(placed == "topic_0.2") & (waves == w)].mean())


def test_framework_matrix_and_workbook_fold_subthemes_beneath_their_parent(tree):
    from stakeholder_nlp.report.tables import MATRIX_COLUMNS
    from stakeholder_nlp.report.workbook import grid

    _, _, a, out = tree
    m = pd.read_csv(out / "framework_matrix.csv", keep_default_na=False)
    assert list(m.columns) == list(MATRIX_COLUMNS)
    first_wave = m[m["wave"] == m["wave"].iloc[0]]
    assert first_wave["theme_id"].tolist() == ["topic_0", "topic_0.1", "topic_0.2", "topic_0.3",
                                               "topic_1", "topic_1.1", "topic_1.2", "topic_1.3"]
    sub = m[m["level"] == "subtheme"]
    assert (sub["kind"] == "subtheme").all() and (sub["distinctive_terms"] == "").all()
    placed = dict(zip(a.corpus.quotes["quote_id"], a.subthemes.quotes["subtheme"], strict=True))
    assert all(placed[x] == r["theme_id"] for _, r in sub.iterrows() for x in r["exemplar_quote_ids"].split(";") if x)
    from stakeholder_nlp.report.tables import framework_matrix, quotes_table, tree_membership_of

    g = grid(framework_matrix(a), quotes_table(a), tree_membership_of(a), list(dict.fromkeys(a.levels["wave"])))
    assert len(g) == 8 and g["theme"].iloc[1].lstrip().startswith("↳") and "subtheme of topic_0" in g["theme"].iloc[1]
    assert not g["theme"].iloc[0].lstrip().startswith("↳")


def test_change_records_at_both_levels(tree):
    _, _, a, out = tree
    ch = pd.read_csv(out / "theme_changes.csv", keep_default_na=False)
    assert set(ch["level"]) == {"theme", "subtheme"}
    assert (ch.loc[ch["level"] == "subtheme", "parent"] != "").all()
    gone = ch.set_index("theme_id").loc[["topic_0.3", "topic_1.3"], "categories"]
    assert gone.str.contains("ceased").all()  # voiced in 2023 only
    echoes = pd.read_csv(out / "echoes.csv", keep_default_na=False)
    assert not echoes["theme_id"].str.contains(r"\.").any()  # echoes.csv lists the top level's


def test_the_new_columns_contract_in_the_files(tree):
    from stakeholder_nlp.shift.prevalence import LEVELS, SHIFT_COLUMNS
    from stakeholder_nlp.themes.curation import ASSIGNMENT_SUBTHEME_COLUMNS

    _, _, a, out = tree
    q = pd.read_csv(out / "quotes.csv", keep_default_na=False)
    for c in ("subtheme", "subtheme_label", "subtheme_placement"):
        assert q[c].map(type).eq(str).all()
    assert (q["subtheme"].eq("") == q["subtheme_label"].eq("")).all()
    assert q["subtheme"].map(lambda s: s == "" or re.fullmatch(r"topic_\d+\.\d+", s) is not None).all()
    asg = pd.read_csv(out / "assignment.csv", keep_default_na=False)
    assert list(asg.columns[:4]) == ["quote_id", "topic", *ASSIGNMENT_SUBTHEME_COLUMNS]
    assert asg["subtheme"].tolist() == q["subtheme"].tolist()
    sh = pd.read_csv(out / "shifts.csv", keep_default_na=False)
    assert set(sh["level"]) <= set(LEVELS) and sh["parent"].map(type).eq(str).all()
    assert list(a.shifts.columns[:3]) == ["theme_id", "level", "parent"] == list(SHIFT_COLUMNS[:3])


def test_the_stages_declare_that_they_read_the_subthemes():
    by = {s.name: s for s in STAGES}
    for name in ("shift", "sentiment", "changes"):
        assert "subthemes" in by[name].requires


def test_row_order_does_not_change_the_tree_or_its_shifts(tree):
    corpus, x, a, _ = tree
    perm = np.random.default_rng(3).permutation(len(x))
    shuffled = load_corpus(corpus.quotes.iloc[perm].reset_index(drop=True)[["quote_id", "text", "speaker", "wave"]])
    b = _analyze(shuffled, x[perm])
    key = ["quote_id"]
    qa = a.subthemes.quotes.assign(quote_id=a.corpus.quotes["quote_id"].to_numpy()).sort_values(key)
    qb = b.subthemes.quotes.assign(quote_id=b.corpus.quotes["quote_id"].to_numpy()).sort_values(key)
    pd.testing.assert_frame_equal(qa.reset_index(drop=True), qb.reset_index(drop=True))
    pd.testing.assert_frame_equal(a.shifts, b.shifts)
    pd.testing.assert_frame_equal(a.sentiment_shifts, b.sentiment_shifts)


def _edit(text: str, sid: str, *, label: str | None = None, action: str = "keep", into: str = "") -> str:
    parent = sid.rsplit(".", 1)[0]
    pat = (rf'(id = "{re.escape(sid)}"\n  parent = "{parent}"\n  label = )("[^"]*")(\n  action = )"keep"'
           r'(\n  into = )""')
    new, n = re.subn(pat, lambda m: f'{m[1]}{f"{chr(34)}{label}{chr(34)}" if label else m[2]}{m[3]}"{action}"'
                                   f'{m[4]}"{into}"', text)
    assert n == 1, sid
    return new


def test_curation_at_both_levels_round_trips_through_a_themes_rerun(tree, tmp_path):
    corpus, x, a, out = tree
    text = (out / "themes.toml").read_text()
    text = text.replace(f'label = "{a.themes.themes["label"].iat[1]}"', 'label = "Hospital stay"', 1)
    for sid, kw in (("topic_0.1", {"label": "Renamed"}), ("topic_0.3", {"action": "drop"}),
                    ("topic_1.3", {"action": "merge", "into": "topic_1.2"}),
                    ("topic_1.1", {"label": "Promoted one", "action": "promote"})):
        text = _edit(text, sid, **kw)
    (out / "edited.toml").write_text(text)
    b = _analyze(corpus, x, curation=load_themes_file(out / "edited.toml"))
    old = a.subthemes.quotes["subtheme"].to_numpy()
    primary = np.asarray(b.themes.primary(), dtype=object)
    new = b.subthemes.quotes
    # promote: a top-level theme of the same id and label, its quotes' primary theme, listed after its parent
    assert b.themes.themes["theme_id"].tolist() == ["topic_0", "topic_1", "topic_1.1"]
    assert b.themes.themes.set_index("theme_id").loc["topic_1.1", "label"] == "Promoted one"
    assert (primary[old == "topic_1.1"] == "topic_1.1").all() and (primary[old != "topic_1.1"] != "topic_1.1").all()
    assert (new.loc[old == "topic_1.1", "subtheme"] == "").all()
    assert not b.themes.membership.loc[old == "topic_1.1", "topic_1"].any()
    # rename, drop (kept in the parent only), merge into a sibling; every quote still has one top theme
    assert b.subthemes.subthemes.set_index("subtheme_id").loc["topic_0.1", "label"] == "Renamed"
    assert (new.loc[old == "topic_0.3", "placement"] == "parent").all()
    assert (new.loc[old == "topic_1.3", "subtheme"] == "topic_1.2").all()
    assert (primary != "").all()
    assert b.themes.themes.set_index("theme_id").loc["topic_1", "label"] == "Hospital stay"
    assert set(b.shifts["theme_id"]) == {"topic_0", "topic_0.1", "topic_0.2", "topic_1", "topic_1.2", "topic_1.1"}
    assert b.shifts.set_index("theme_id").loc["topic_1.1", "level"] == "theme"
    # the rerun's own themes file, rerun again, gives the same tree
    out2 = tmp_path / "rerun"
    write_report(b, out2)
    saved = (out2 / "themes.toml").read_text()
    assert 'id = "topic_1.1"\nlabel = "Promoted one"' in saved and "topic_0.3" not in saved
    c = _analyze(corpus, x, curation=load_themes_file(out2 / "themes.toml"))
    assert c.themes.primary() == b.themes.primary()
    assert c.themes.themes["label"].tolist() == b.themes.themes["label"].tolist()
    pd.testing.assert_frame_equal(c.subthemes.quotes.drop(columns="similarity"),
                                  b.subthemes.quotes.drop(columns="similarity"))
    pd.testing.assert_frame_equal(c.shifts, b.shifts)


def test_bad_promotions_are_refused_naming_the_subtheme(tree, tmp_path):
    from stakeholder_nlp.themes.curation import ThemesFileError, parse_themes_file

    _, _, _, out = tree
    text = (out / "themes.toml").read_text()
    bad = _edit(_edit(text, "topic_0.1", action="promote"), "topic_0.2", action="merge", into="topic_0.1")
    with pytest.raises(ThemesFileError, match="'topic_0.2' merges into 'topic_0.1', which is promoted"):
        parse_themes_file(bad)


def _one_theme(n_sub: int, per: int, dim: int = 32, seed: int = 0):
    """One theme of ``n_sub`` well-separated planted subclusters of ``per`` quotes each; 50 speakers."""
    rng = np.random.default_rng(seed)
    theme = rng.normal(size=dim) * 3
    centres = [theme + rng.normal(size=dim) * 1.5 for _ in range(n_sub)]
    truth = np.arange(n_sub * per) % n_sub
    x = np.asarray([centres[s] + rng.normal(size=dim) * 0.35 for s in truth], dtype=np.float32)
    texts = [f"subcluster {s} quote {i}" for i, s in enumerate(truth)]
    speakers = [f"s{i % 50}" for i in range(len(texts))]
    return texts, x / np.linalg.norm(x, axis=1, keepdims=True), ["topic_0"] * len(texts), truth, speakers


def test_the_number_of_candidate_subthemes_and_the_fit_sample_grow_with_the_theme():
    assert [max_subthemes(n) for n in (60, 150, 400, 1_600, 6_400, 100_000)] == [4, 6, 10, 20, 40, MAX_SUBTHEMES]
    assert fit_sample_size(300) == 300  # a small theme is fitted on all its quotes
    assert fit_sample_size(1_000) == MIN_FIT_QUOTES
    assert fit_sample_size(2_000) == 30 * max_subthemes(2_000)
    assert fit_sample_size(1_000_000) == MAX_FIT_QUOTES == 30 * MAX_SUBTHEMES


def test_a_large_theme_of_twenty_planted_subclusters_gets_about_twenty_subthemes():
    from sklearn.metrics import adjusted_mutual_info_score

    texts, x, top, truth, speakers = _one_theme(n_sub=20, per=100)
    r = fit_subthemes(texts, x, top, speakers=speakers, phrase_labels=False)
    n_found = len(r.children("topic_0"))
    assert 18 <= n_found <= max_subthemes(len(texts)) and n_found > 12  # more than the former fixed cap of 12
    inside = (r.quotes["subtheme"] != "").to_numpy()
    assert adjusted_mutual_info_score(truth[inside], r.quotes["subtheme"][inside]) > 0.95
    # the quotes kept in the parent are the stated quantile of all the theme's quotes, fitted on or not
    assert r.unassigned_share() == pytest.approx(FAR_QUANTILE, abs=0.002)
    fitted = int(r.subthemes["n_fit"].sum())
    assert fitted == fit_sample_size(len(texts)) < len(texts)


def test_a_small_theme_of_three_planted_subclusters_still_gets_three():
    texts, x, top, _, speakers = _one_theme(n_sub=3, per=40)
    r = fit_subthemes(texts, x, top, speakers=speakers, phrase_labels=False)
    assert len(r.children("topic_0")) == 3


def test_the_report_tree_says_each_subthemes_change_that_holds(tree):
    from types import SimpleNamespace

    from stakeholder_nlp.report.tree_view import subtheme_shifts, tree_view

    corpus, _, a, _ = tree
    labels = dict(zip(a.subthemes.subthemes["subtheme_id"], a.subthemes.subthemes["label"], strict=True))
    # the planted rises (+23 points) are not significant with 40 speakers in one family of 8 rows: nothing said
    view = tree_view(a, corpus.texts)
    kids = {c["id"]: c for t in view["themes"] for c in t["subthemes"]}
    assert not a.shifts["share_significant"].any()
    assert view["n_subtheme_shifts"] == 0 and all(c["shift"] == "" for c in kids.values())
    # the same table with topic_0.1's change significant: its sentence, with its label and shares; the others
    # (no change detected) say nothing; a theme row never appears
    s = a.shifts.copy()
    s["share_significant"] = s["theme_id"].isin(["topic_0.1", "topic_0"])
    s.loc[s["theme_id"] == "topic_0.1", "share_q"] = 0.01
    said = subtheme_shifts(SimpleNamespace(shifts=s), labels)
    assert list(said) == ["topic_0.1"]
    assert said["topic_0.1"].startswith(f"{labels['topic_0.1']} was raised more often in 2024 than in 2023: 17% → 40%")
    assert "q = 0.010" in said["topic_0.1"]


def test_the_report_page_shows_a_subthemes_change_beneath_it(tree, tmp_path):
    import html
    from dataclasses import replace

    from stakeholder_nlp.report import write_report

    _, _, a, _ = tree
    s = a.shifts.copy()
    s["share_significant"] = s["theme_id"] == "topic_0.1"
    s.loc[s["theme_id"] == "topic_0.1", "share_q"] = 0.01
    write_report(replace(a, shifts=s), tmp_path / "out", force=True)
    page = html.unescape((tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    tree_part = page[page.index('<ul id="tree">'):]
    tree_part = tree_part[:tree_part.index("</ul>\n")]
    sub = tree_part[tree_part.index("(topic_0.1,"):]
    assert sub.index('<div class="shift">↕ ') < sub.index("</li>")
    assert "q = 0.010" in sub[:sub.index("</li>")]
    assert tree_part.count('<div class="shift">') == 1  # nothing said where nothing holds
