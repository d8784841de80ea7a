"""The cheap stability path (shared lemmas, codebook part sliced from the reference, seed reruns of a
seed-free model reused, worker processes without the embedder) gives the same tables as refitting
everything from scratch, and runs in worker processes on the default backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.stability import run_stability
from stakeholder_nlp.themes import TopicModel, fit_themes, parse_codebook
from stakeholder_nlp.themes.assign import refit_themes
from tests.themes.test_codebook import GOOD
from tests.themes.test_topics import _plain, planted


def _design(n):
    waves = np.where(np.arange(n) % 2, 2021, 2016)
    speakers = [f"{w}-{i % 7}" for i, w in enumerate(waves)]
    return waves, speakers


def _hybrid():
    texts, _, _ = planted(n_per=15, noise=0.5)
    texts = [t.replace("data access analyst", "no data missing again") if i % 3 == 0 else t
             for i, t in enumerate(texts)]
    emb = HashingEmbedder(dim=64)
    return texts, emb.encode(texts), emb, parse_codebook(GOOD)


def _same(a, b):
    for name in ("summary", "themes", "findings"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False)
    pd.testing.assert_frame_equal(a.runs.drop(columns="refit"), b.runs.drop(columns="refit"), check_dtype=False)
    np.testing.assert_array_equal(a.consensus, b.consensus)


def test_refit_themes_equals_fit_themes_on_the_rows():
    texts, x, emb, book = _hybrid()
    ref = fit_themes(texts, x, codebook=book, embedder=emb, topic_model=TopicModel(lemmatizer=_plain))
    rows = np.sort(np.random.default_rng(1).choice(len(texts), 45, replace=False))
    cheap = refit_themes(ref, rows, texts, x, topic_model=TopicModel(lemmatizer=_plain))
    full = fit_themes([texts[i] for i in rows], x[rows], codebook=book, embedder=emb,
                      topic_model=TopicModel(lemmatizer=_plain))
    pd.testing.assert_frame_equal(cheap.membership, full.membership)
    pd.testing.assert_frame_equal(cheap.scores, full.scores, check_dtype=False)
    pd.testing.assert_frame_equal(cheap.themes, full.themes)
    np.testing.assert_array_equal(cheap.topic_labels, full.topic_labels)
    assert cheap.mode == full.mode == "hybrid" and cheap.threshold == full.threshold


@pytest.mark.slow  # spaCy lemmas on both paths
def test_cheap_stability_equals_the_full_rerun():
    texts, x, emb, book = _hybrid()
    waves, speakers = _design(len(texts))
    ref = fit_themes(texts, x, codebook=book, embedder=emb, topic_model=TopicModel())
    scores = np.tanh(x[:, 0] * 5)
    kw = dict(reference=ref, codebook=book, embedder=emb, sentiment_scores=scores, runs=2, n_boot=99, seed=3)
    cheap = run_stability(texts, x, waves, speakers, **kw)
    full = run_stability(texts, x, waves, speakers, cheap=False, **kw)
    _same(cheap, full)
    assert not cheap.runs.loc[cheap.runs["kind"] == "seed", "refit"].any()
    assert full.runs["refit"].all()


def test_large_corpus_subsamples_come_from_a_panel():
    texts, x, _ = planted(n_per=40, noise=0.3)
    waves, speakers = _design(len(texts))
    ref = fit_themes(texts, x, topic_model=TopicModel(lemmatizer=_plain))
    res = run_stability(texts, x, waves, speakers, reference=ref, runs=2, lemmatizer=_plain, n_boot=49,
                        max_quotes=100)
    assert res.panel is not None and len(res.panel) == 100
    sub = res.runs[res.runs["kind"] == "subsample"]
    assert (sub["n_quotes"] == 80).all()
    assert (res.consensus[ref.topic_labels >= 0] >= 0).all()  # every topic quote gets a consensus theme
    assert set(res.themes.columns) == {"theme_id", "member_stability", "reappearance"}
    assert res.themes["reappearance"].between(0, 1).all()


@pytest.mark.slow  # the real default backend (OpenVINO compiled model) must not travel to the workers
def test_n_jobs_2_on_the_default_backend(gp_corpus, fast_embedder):
    from stakeholder_nlp.embedding import embed_texts
    from stakeholder_nlp.themes import load_codebook
    from tests.conftest import CODEBOOK

    corpus = gp_corpus
    texts = corpus.texts
    x = np.asarray(embed_texts(texts, fast_embedder).vectors)
    book = load_codebook(CODEBOOK)
    q = corpus.quotes
    ref = fit_themes(texts, x, codebook=book, embedder=fast_embedder, topic_model=TopicModel(lemmatizer=_plain))
    kw = dict(reference=ref, codebook=book, embedder=fast_embedder, runs=2, n_boot=49, lemmatizer=_plain)
    one = run_stability(texts, x, q["wave"], q["speaker"], n_jobs=1, **kw)
    two = run_stability(texts, x, q["wave"], q["speaker"], n_jobs=2, **kw)
    _same(one, two)
