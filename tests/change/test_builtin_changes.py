"""The change records of the built-in study (real model, real quotes): every count adds up and every cited quote
belongs to the theme and waves its sentence names."""

from __future__ import annotations

import re

import pytest

from tests.conftest import CODEBOOK

CITE = re.compile(r"\[(gp\d{3})(?: ([^\]]+))?\]")


@pytest.fixture(scope="module")
def builtin(gp_corpus, fast_embedder):
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.themes import load_codebook

    return analyze(gp_corpus, fast_embedder, codebook=load_codebook(CODEBOOK), runs=0, n_boot=200)


@pytest.mark.slow
def test_builtin_records_add_up_and_cite_their_own_quotes(builtin):
    a = builtin
    q = a.corpus.quotes.set_index("quote_id")
    member = a.themes.membership.set_index(a.corpus.quotes["quote_id"])
    ch = a.changes
    assert set(ch.quotes["mode"]) <= {"anticipation", "experience", "prescription", "other"}
    for _, r in ch.changes.iterrows():
        tid = r["theme_id"]
        in_b = member.index[member[tid] & (q["wave"] == r["wave_b"]).to_numpy()]
        in_a = member.index[member[tid] & (q["wave"] == r["wave_a"]).to_numpy()]
        e = ch.echoes[ch.echoes["theme_id"] == tid]
        assert r["n_echoes"] + r["n_new"] == len(in_b)
        assert r["n_dropped"] == len(in_a) - e["quote_id_a"].nunique()
        for qid, speaker in CITE.findall(r["sentence"]):
            assert member.loc[qid, tid], (tid, qid)
            assert q.loc[qid, "wave"] in (r["wave_a"], r["wave_b"])
            assert (speaker or None) == q.loc[qid, "speaker"]
        assert "describes the speakers in these data" in r["sentence"]


@pytest.mark.slow
def test_a_theme_voiced_only_in_2021_is_named_emerged(builtin):
    rows = builtin.changes.changes.set_index("theme_id")
    absent = builtin.shifts.set_index("theme_id")["speakers_theme_a"] == 0
    for tid in absent[absent].index:
        assert rows.loc[tid, "categories"].split(";")[0] == "emerged"
