"""Sentiment: scorers (VADER baseline, embedding head trained on NHS comments) and per theme × wave summaries."""

from .scorers import LABELS, EmbeddingHeadScorer, SentimentScorer, VaderScorer, load_scorer
from .summary import SENTIMENT_LEVEL_COLUMNS, SENTIMENT_SHIFT_COLUMNS, sentiment_levels, sentiment_shift

__all__ = ["LABELS", "SENTIMENT_LEVEL_COLUMNS", "SENTIMENT_SHIFT_COLUMNS", "EmbeddingHeadScorer", "SentimentScorer",
           "VaderScorer", "load_scorer", "sentiment_levels", "sentiment_shift"]
