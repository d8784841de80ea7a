from __future__ import annotations

import numpy as np

from stakeholder_nlp.stability import run_stability
from stakeholder_nlp.themes import TopicModel, fit_themes
from tests.themes.test_topics import _plain, planted


def _design(n):
    """Two waves alternating, three speakers a wave."""
    waves = np.where(np.arange(n) % 2, 2021, 2016)
    return waves, [f"{w}-{i % 6}" for i, w in enumerate(waves)]


def test_stability_run_on_planted_topics_is_stable():
    texts, x, truth = planted(n_per=25, noise=0.3)
    waves, speakers = _design(len(texts))
    ref = fit_themes(texts, x, topic_model=TopicModel(lemmatizer=_plain))
    res = run_stability(texts, x, waves, speakers, reference=ref, runs=3, lemmatizer=_plain, n_boot=100)
    summary = res.summary.set_index("kind")
    assert summary.loc["seed", "ari_mean"] == 1.0
    assert summary.loc["subsample", "ari_mean"] > 0.8
    assert len(res.runs) == 6
    assert set(res.findings.columns) >= {"theme_id", "prevalence_sign_agreement", "stable"}
    assert (res.themes["member_stability"] > 0.8).all()
    assert (res.consensus >= 0).all()


def test_consensus_partition_recovers_planted_themes():
    from stakeholder_nlp.themes import partition_agreement

    texts, x, truth = planted(n_per=25, noise=0.45)
    waves, speakers = _design(len(texts))
    ref = fit_themes(texts, x, topic_model=TopicModel(lemmatizer=_plain))
    res = run_stability(texts, x, waves, speakers, reference=ref, runs=4, lemmatizer=_plain, n_boot=49)
    assert partition_agreement(res.consensus, [[str(t)] for t in truth])["ari"] > 0.95
    assert (res.themes["reappearance"] >= 0.75).all()


def test_default_n_jobs_uses_workers_on_large_corpora_with_the_same_tables(monkeypatch):
    """``n_jobs=None`` goes to worker processes from PARALLEL_MIN_QUOTES quotes; the reruns are seeded,
    so the tables equal the one-process run's."""
    import pandas as pd

    from stakeholder_nlp.stability import runner
    from stakeholder_nlp.themes import terms

    texts, x, _ = planted(n_per=20, noise=0.5)
    waves, speakers = _design(len(texts))
    ref = fit_themes(texts, x, topic_model=TopicModel(lemmatizer=_plain))
    kw = dict(reference=ref, runs=1, lemmatizer=_plain, n_boot=49, sentiment_scores=np.tanh(3 * x[:, 0]))
    used = []
    real_parallel = __import__("joblib").Parallel
    monkeypatch.setattr("joblib.Parallel", lambda n_jobs: used.append(n_jobs) or real_parallel(n_jobs=n_jobs))
    monkeypatch.setattr(runner, "PARALLEL_MIN_QUOTES", 50)
    monkeypatch.setattr(terms, "available_cores", lambda: 2)
    auto = run_stability(texts, x, waves, speakers, **kw)
    one = run_stability(texts, x, waves, speakers, n_jobs=1, **kw)
    assert used == [2]
    for name in ("runs", "summary", "themes", "findings"):
        pd.testing.assert_frame_equal(getattr(auto, name), getattr(one, name))
    np.testing.assert_array_equal(auto.consensus, one.consensus)
