"""Sentiment: scorers (the fine-tuned default, VADER baseline, the earlier embedding head), per theme × wave
summaries, and validation against a person's labels (with few-shot adaptation)."""

from .finetuned import QUOTE_SCORE_COLUMNS, FineTunedScorer, split_sentences
from .scorers import LABELS, SCORERS, EmbeddingHeadScorer, SentimentScorer, VaderScorer, load_scorer
from .summary import SENTIMENT_LEVEL_COLUMNS, SENTIMENT_SHIFT_COLUMNS, sentiment_levels, sentiment_shift

__all__ = ["LABELS", "QUOTE_SCORE_COLUMNS", "SCORERS", "SENTIMENT_LEVEL_COLUMNS", "SENTIMENT_SHIFT_COLUMNS",
           "EmbeddingHeadScorer", "FineTunedScorer", "SentimentScorer", "VaderScorer", "load_scorer",
           "sentiment_levels", "sentiment_shift", "split_sentences"]
