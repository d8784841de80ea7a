"""Sentiment scorers behind one protocol: a score in [-1, 1] per text, and a 3-class label.

* :class:`~.finetuned.FineTunedScorer` (``"default"``, ``"minilm-sentiment"``): a MiniLM fine-tuned across
  registers (Reddit, policy news, patient comments), int8 ONNX; long quotes scored on their sentences.
  Model card: ``models/sentiment_minilm/MODEL_CARD.md``.
* :class:`VaderScorer`: VADER's compound score (rule-based; the transparent baseline). It reads
  formal, hedged speech as positive and misses idiom ("opened many doors" -> 0.0).
* :class:`EmbeddingHeadScorer` (``"embedding-head"``, the previous default): a multinomial logistic-regression head on the sentence embeddings,
  trained on human-labelled NHS patient comments (``scripts/train_sentiment_head.py``; model card in
  ``models/sentiment_head/MODEL_CARD.md``). Score = P(positive) - P(negative); label = most probable class.

Labels are ``"negative"``, ``"neutral"``, ``"positive"``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..embedding import Embedder, EmbeddingCache, embed_texts
from ..errors import ModelError

LABELS = ("negative", "neutral", "positive")


@runtime_checkable
class SentimentScorer(Protocol):
    @property
    def name(self) -> str: ...

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """float64 scores in [-1, 1], input order."""
        ...

    def label(self, texts: Sequence[str]) -> list[str]:
        """One of :data:`LABELS` per text."""
        ...


class VaderScorer:
    """VADER compound score; labels with the authors' thresholds (>= 0.05 positive, <= -0.05 negative)."""

    name = "vader"

    def __init__(self, neutral_band: float = 0.05) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self.neutral_band = neutral_band

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._analyzer.polarity_scores(str(t))["compound"] for t in texts], dtype=np.float64)

    def label(self, texts: Sequence[str]) -> list[str]:
        s = self.score(texts)
        return ["positive" if v >= self.neutral_band else "negative" if v <= -self.neutral_band else "neutral"
                for v in s]


def default_head_path() -> Path:
    """``models/sentiment_head`` in the source checkout."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "models" / "sentiment_head" / "head.json"
        if candidate.exists():
            return candidate.parent
    raise ModelError("models/sentiment_head/head.json not found; train it with scripts/train_sentiment_head.py")


class EmbeddingHeadScorer:
    """Logistic-regression head on sentence embeddings (weights in ``head.json``)."""

    def __init__(self, embedder: Embedder, path: str | Path | None = None, *,
                 cache: EmbeddingCache | None = None) -> None:
        root = Path(path) if path is not None else default_head_path()
        try:
            spec = json.loads((root / "head.json").read_text())
        except FileNotFoundError as exc:
            raise ModelError(f"{root}/head.json not found; train it with scripts/train_sentiment_head.py") from exc
        base = spec["base_model_fingerprint"]
        if not embedder.model_id.startswith(base[:16]):
            raise ModelError(f"the sentiment head was trained on embeddings of model {base[:16]}; the embedder "
                             f"given is {embedder.model_id}. Use the same base model.")
        self.classes = tuple(spec["classes"])
        if set(self.classes) != set(LABELS):
            raise ModelError(f"head classes {self.classes} are not {LABELS}")
        self.coef = np.asarray(spec["coef"], dtype=np.float64)
        self.intercept = np.asarray(spec["intercept"], dtype=np.float64)
        self.embedder = embedder
        self.cache = cache
        self.spec = spec

    name = "embedding-head"

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        x = embed_texts(list(texts), self.embedder, cache=self.cache).vectors.astype(np.float64)
        logits = x @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        p = self.proba(texts)
        return p[:, self.classes.index("positive")] - p[:, self.classes.index("negative")]

    def label(self, texts: Sequence[str]) -> list[str]:
        p = self.proba(texts)
        return [self.classes[i] for i in p.argmax(axis=1)]


SCORERS = ("default", "minilm-sentiment", "embedding-head", "vader")
#: what ``"default"`` means
DEFAULT_SCORER = "minilm-sentiment"


def load_scorer(name: str, embedder: Embedder | None = None, *, cache: EmbeddingCache | None = None):
    """``"default"``/``"minilm-sentiment"`` (the fine-tuned model; ignores the embedder),
    ``"embedding-head"`` (needs the embedder its head was trained on) or ``"vader"``."""
    if name == "default":
        name = DEFAULT_SCORER
    if name == "vader":
        return VaderScorer()
    if name == "minilm-sentiment":
        from .finetuned import FineTunedScorer

        return FineTunedScorer()
    if name == "embedding-head":
        if embedder is None:
            raise ValueError("the embedding-head scorer needs the embedder its head was trained on")
        return EmbeddingHeadScorer(embedder, cache=cache)
    raise ValueError(f"unknown sentiment scorer {name!r}; expected one of {list(SCORERS)}")
