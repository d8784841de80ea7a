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
