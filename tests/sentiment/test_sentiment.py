from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.errors import ModelError
from stakeholder_nlp.sentiment import (
    EmbeddingHeadScorer,
    SentimentScorer,
    VaderScorer,
    sentiment_levels,
    sentiment_shift,
)


def test_vader_scores_in_range_and_labels():
    v = VaderScorer()
    assert isinstance(v, SentimentScorer)
    s = v.score(["This is wonderful.", "This is awful.", "The meeting is on Tuesday."])
    assert s[0] > 0.3 and s[1] < -0.3 and abs(s[2]) < 0.05
    assert v.label(["This is wonderful.", "The meeting is on Tuesday."]) == ["positive", "neutral"]


@pytest.mark.slow
def test_embedding_head_reads_polarity(fast_embedder):
    head = EmbeddingHeadScorer(fast_embedder)
    s = head.score(["The staff were kind and the care was excellent.",
                    "Nobody listened and I waited six hours in pain."])
    assert s[0] > 0.3 and s[1] < -0.3
    assert np.all(np.abs(head.score(["a", "b c"])) <= 1.0)


def test_embedding_head_refuses_another_base_model():
    from stakeholder_nlp.embedding import HashingEmbedder

    with pytest.raises(ModelError, match="trained on embeddings of model"):
        EmbeddingHeadScorer(HashingEmbedder())


def _corpus(diff, seed=0):
    rng = np.random.default_rng(seed)
    waves = np.repeat([2016, 2021], 80)
    speakers = [f"{w}-{i % 10}" for i, w in enumerate(waves)]
    scores = np.clip(rng.normal(np.where(waves == 2021, diff, 0.0), 0.3), -1, 1)
    labels = np.where(scores > 0.2, "positive", np.where(scores < -0.2, "negative", "neutral"))
    membership = pd.DataFrame({"theme": np.ones(160, bool)})
    return membership, scores, labels, waves, speakers


def test_sentiment_shift_finds_a_planted_fall():
    m, s, lab, w, sp = _corpus(-0.4)
    row = sentiment_shift(m, s, w, sp).iloc[0]
    assert row["sentiment_diff_hi"] < 0 and row["sentiment_p"] < 0.01


def test_sentiment_levels_intervals_contain_means_and_shares_sum_to_one():
    m, s, lab, w, sp = _corpus(0.0)
    lv = sentiment_levels(m, s, lab, w, sp)
    assert len(lv) == 2
    assert ((lv["mean_lo"] <= lv["mean"]) & (lv["mean"] <= lv["mean_hi"])).all()
    total = lv[["share_negative", "share_neutral", "share_positive"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0)
