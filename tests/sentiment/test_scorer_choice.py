"""Which sentiment scorer analyze runs: the fine-tuned one by default, the embedding head on the vectors the
embedding stage already made from SHARED_ENCODER_ABOVE quotes on (one encoder pass, not two), and whatever
scorer is asked for by name at any size; the run records which ran and why."""

from __future__ import annotations

import numpy as np
import pytest

import stakeholder_nlp.sentiment.scorers as scorers
from stakeholder_nlp.embedding import HashingEmbedder, embed_texts
from stakeholder_nlp.pipeline import STAGES, run
from stakeholder_nlp.sentiment import EmbeddingHeadScorer, FineTunedScorer
from stakeholder_nlp.sentiment.apply import score_corpus
from stakeholder_nlp.stages import until


def _until_sentiment(corpus, embedder, **kw):
    return run(corpus, embedder, stages=until(STAGES, "sentiment"), runs=0, n_boot=50, n_topics=3,
               phrase_labels=False, **kw)


def test_below_the_threshold_the_fine_tuned_scorer_runs(gp_corpus, fast_embedder):
    state = _until_sentiment(gp_corpus, fast_embedder)
    choice = state["sentiment_choice"]
    assert choice["scorer"] == state["sentiment"].scorer == "minilm-sentiment"
    assert not choice["asked"] and choice["n_quotes"] < choice["threshold"] == scorers.SHARED_ENCODER_ABOVE
    assert not state["sentiment_notice"].startswith("Sentiment scorer:")


def test_above_a_lowered_threshold_the_head_reads_the_pipelines_vectors(gp_corpus, fast_embedder, monkeypatch):
    monkeypatch.setattr(scorers, "SHARED_ENCODER_ABOVE", 50)
    calls, now = [], {"stage": None}
    encode = type(fast_embedder).encode

    def counting(self, texts, **kw):
        calls.append(now["stage"])
        return encode(self, texts, **kw)

    vectors = embed_texts(gp_corpus.texts, fast_embedder).vectors  # as `--embeddings FILE` gives them
    monkeypatch.setattr(type(fast_embedder), "encode", counting)
    state = _until_sentiment(gp_corpus, fast_embedder, embeddings=vectors,
                             on_stage=lambda name: now.update(stage=name))
    assert "sentiment" not in calls  # the sentiment stage encoded nothing: it read the embedding stage's vectors
    choice = state["sentiment_choice"]
    assert choice["scorer"] == state["sentiment"].scorer == "embedding-head" and not choice["asked"]
    assert choice["threshold"] == 50 and "second encoder pass" in choice["reason"]
    assert state["sentiment_notice"].startswith("Sentiment scorer: embedding-head")
    detail = state["sentiment_detail"]
    assert (detail["combine"] == "embedding").all()
    np.testing.assert_allclose(detail[["p_negative", "p_neutral", "p_positive"]].sum(axis=1), 1.0)
    monkeypatch.setattr(type(fast_embedder), "encode", encode)
    texts = state["corpus"].texts
    head = EmbeddingHeadScorer(fast_embedder)  # the same head re-encoding the texts: the same scores
    np.testing.assert_allclose(state["sentiment_scores"], head.score(texts), atol=1e-6)
    assert state["sentiment_labels"] == head.label(texts)


def test_a_scorer_asked_for_by_name_runs_above_the_threshold(gp_corpus, fast_embedder, monkeypatch):
    monkeypatch.setattr(scorers, "SHARED_ENCODER_ABOVE", 50)
    state = _until_sentiment(gp_corpus, fast_embedder, sentiment=FineTunedScorer())
    choice = state["sentiment_choice"]
    assert choice["scorer"] == state["sentiment"].scorer == "minilm-sentiment" and choice["asked"]
    assert (state["sentiment_detail"]["combine"] != "embedding").all()


def test_the_head_is_not_chosen_for_another_embedder_or_when_adapting(monkeypatch):
    monkeypatch.setattr(scorers, "SHARED_ENCODER_ABOVE", 10)
    name, reason = scorers.choose_default(20, HashingEmbedder(dim=384))
    assert name == "minilm-sentiment" and "another model" in reason
    assert scorers.choose_default(20, None, adapt=True)[0] == "minilm-sentiment"
    assert scorers.choose_default(9, None)[0] == "minilm-sentiment"


def test_score_corpus_checks_the_vectors_length(gp_corpus, fast_embedder):
    q = gp_corpus.quotes.assign(text=gp_corpus.texts)
    with pytest.raises(ValueError, match="one row per quote"):
        score_corpus(EmbeddingHeadScorer(fast_embedder), q, vectors=np.zeros((3, 384), dtype=np.float32))
