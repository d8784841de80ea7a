"""Above LEMMA_SAMPLE distinct texts the bulk spaCy pass reads a hash sample: the sample does not depend on
the row order, and the theme labels and stability reruns still read lemmas of the texts they use (the lookup
lemmatises those on demand; a text nothing reads keeps none, so drift's words come from the sample)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import stakeholder_nlp.themes.terms as terms
from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import analyze
from stakeholder_nlp.sentiment import VaderScorer
from stakeholder_nlp.stability.runner import LemmaLookup
from stakeholder_nlp.themes.terms import lemma_sample

OPTS = {"sentiment": VaderScorer(), "n_boot": 49, "phrase_labels": False}


def _corpus():
    rng = np.random.default_rng(1)
    words = [["records", "missing", "access", "extract", "data"], ["nurse", "team", "pharmacist", "excluded"],
             ["time", "session", "workload", "meetings", "busy"]]
    rows = [{"quote_id": f"{w}-{s}-{j}", "text": " ".join(rng.choice(words[(s + j) % 3], 5)) + f" case{s}{j}",
             "speaker": f"{w}-{s}", "wave": w} for w in ("pre", "post") for s in range(8) for j in range(6)]
    return pd.DataFrame(rows)


def test_the_sample_is_the_same_in_any_order_and_only_above_the_cap():
    texts = [f"comment number {i}" for i in range(300)]
    assert lemma_sample(texts, 500) == texts
    got = lemma_sample(texts, 40)
    assert len(got) == 40 and set(got) <= set(texts)
    shuffled = [texts[i] for i in np.random.default_rng(0).permutation(300)]
    assert set(lemma_sample(shuffled, 40)) == set(got)
    assert len(lemma_sample(texts + texts, 40)) == 40  # distinct texts


def test_a_lookup_fills_texts_outside_its_lemmas_with_its_fallback_and_keeps_them():
    calls = []

    def fallback(texts):
        calls.append(list(texts))
        return [t.upper() for t in texts]

    look = LemmaLookup(["a b"], ["a"], fallback)
    assert look(["a b", "c d", "c d"]) == ["a", "C D", "C D"]
    assert calls == [["c d"]]
    assert look.known(["c d", "e"]) == ["C D", ""]
    assert LemmaLookup(["a b"], ["a"])(["zz"]) == [""]  # no fallback: nothing read


def test_analyze_above_the_cap_lemmatises_a_sample_in_bulk_and_the_rest_where_read(monkeypatch):
    df = _corpus()
    full = analyze(load_corpus(df), HashingEmbedder(dim=64), runs=2, **OPTS)
    bulk = []
    start = terms.Lemmatizer.start

    def spy(self, texts, **kw):
        bulk.append(list(texts))
        return start(self, texts, **kw)

    monkeypatch.setattr(terms.Lemmatizer, "start", spy)
    monkeypatch.setattr(terms, "LEMMA_SAMPLE", 30)
    res = analyze(load_corpus(df), HashingEmbedder(dim=64), runs=2, **OPTS)
    texts = load_corpus(df).texts
    sample = set(lemma_sample(texts, 30))
    assert len(bulk[0]) == 30 and set(bulk[0]) == sample
    later = [t for b in bulk[1:] for t in b]  # the lookup's reads: only texts outside the sample, each once
    assert not set(later) & sample and len(later) == len(set(later))
    # the labels (every quote below 20,000) and the reruns read the others through the lookup: here every
    # text, so the lemmas, themes and stability equal the full pass's (spaCy's output per text is the same)
    assert res.lemmas == full.lemmas and all(res.lemmas)
    pd.testing.assert_frame_equal(res.themes.themes, full.themes.themes)
    assert len(res.stability.runs) == 4
    # row order: the same lemmas per text
    perm = np.random.default_rng(2).permutation(len(df))
    shuffled = load_corpus(df.iloc[perm].reset_index(drop=True))
    res2 = analyze(shuffled, HashingEmbedder(dim=64), runs=2, **OPTS)
    assert dict(zip(shuffled.texts, res2.lemmas, strict=True)) == dict(zip(texts, res.lemmas, strict=True))
