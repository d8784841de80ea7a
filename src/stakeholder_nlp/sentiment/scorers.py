"""Sentiment scorers behind one protocol: a score in [-1, 1] per text, and a 3-class label.

* :class:`~.finetuned.FineTunedScorer` (``"default"``, ``"minilm-sentiment"``): a MiniLM fine-tuned across
  registers (Reddit, policy news, patient comments), int8 ONNX; long quotes scored on their sentences.
  Model card: ``models/sentiment_minilm/MODEL_CARD.md``.
* :class:`VaderScorer`: VADER's compound score (rule-based; the transparent baseline). It reads
  formal, hedged speech as positive and misses idiom ("opened many doors" -> 0.0).
* :class:`EmbeddingHeadScorer` (``"embedding-head"``, the previous default): a multinomial logistic-regression head on the sentence embeddings,
  trained on human-labelled NHS patient comments (``scripts/train_sentiment_head.py``; model card in
  ``models/sentiment_head/MODEL_CARD.md``). Score = P(positive) - P(negative); label = most probable class.
  It can score the vectors the embedding stage already made (:meth:`EmbeddingHeadScorer.proba_vectors`): no
  second encoder pass.

Which scorer ``analyze`` runs when none is given: :func:`choose_default` (the fine-tuned one below
:data:`SHARED_ENCODER_ABOVE` quotes, the embedding head on the shared vectors from there on; the measured
loss is in ``docs/models.md``).

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
        return self.proba_vectors(embed_texts(list(texts), self.embedder, cache=self.cache).vectors)

    def proba_vectors(self, x: np.ndarray, *, block: int = 16_384) -> np.ndarray:
        """Class probabilities (columns in :attr:`classes` order) of embeddings the head's model made, e.g. the
        pipeline's own vectors or a memory map: read ``block`` rows at a time, so no float64 copy of the
        whole matrix is made."""
        if x.ndim != 2 or x.shape[1] != self.coef.shape[1]:
            raise ValueError(f"the sentiment head takes {self.coef.shape[1]}-d embeddings; got shape {x.shape}")
        out = np.empty((len(x), len(self.classes)), dtype=np.float64)
        for i in range(0, len(x), block):
            logits = np.asarray(x[i:i + block], dtype=np.float64) @ self.coef.T + self.intercept
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            out[i:i + block] = p / p.sum(axis=1, keepdims=True)
        return out

    def score(self, texts: Sequence[str]) -> np.ndarray:
        p = self.proba(texts)
        return p[:, self.classes.index("positive")] - p[:, self.classes.index("negative")]

    def label(self, texts: Sequence[str]) -> list[str]:
        p = self.proba(texts)
        return [self.classes[i] for i in p.argmax(axis=1)]


SCORERS = ("default", "minilm-sentiment", "embedding-head", "vader")
#: what ``"default"`` means
DEFAULT_SCORER = "minilm-sentiment"
#: from this many quotes on, ``analyze``'s default scorer is the embedding head on the vectors the embedding
#: stage already made (one encoder pass instead of two; the fine-tuned scorer's own pass costs about as much
#: as the embedding). Its loss on the held-out sets is stated in docs/models.md; ask for the fine-tuned one
#: by name (``--sentiment-scorer minilm-sentiment``) to keep it
SHARED_ENCODER_ABOVE = 100_000


def head_fits(embedder: Embedder | None, path: str | Path | None = None) -> bool:
    """Whether the embedding head was trained on ``embedder``'s model (so it can read its vectors)."""
    if embedder is None:
        return False
    root = Path(path) if path is not None else default_head_path()
    try:
        base = json.loads((root / "head.json").read_text())["base_model_fingerprint"]
    except (OSError, KeyError, ValueError):
        return False
    return embedder.model_id.startswith(base[:16])


def choose_default(n_quotes: int, embedder: Embedder | None, *, adapt: bool = False) -> tuple[str, str]:
    """The scorer ``analyze`` runs when none was asked for, and why (a sentence for run.json and the report):
    ``"minilm-sentiment"`` below :data:`SHARED_ENCODER_ABOVE` quotes, ``"embedding-head"`` from there on unless
    the embedder is not the head's model or the scorer is to be adapted (which needs the fine-tuned one)."""
    if n_quotes < SHARED_ENCODER_ABOVE:
        return DEFAULT_SCORER, (f"{DEFAULT_SCORER}: the default below {SHARED_ENCODER_ABOVE:,} quotes")
    if adapt:
        return DEFAULT_SCORER, (f"{DEFAULT_SCORER}: {n_quotes:,} quotes, but adapting to labels needs the "
                                "fine-tuned scorer")
    if not head_fits(embedder):
        return DEFAULT_SCORER, (f"{DEFAULT_SCORER}: {n_quotes:,} quotes, but the embedding head was trained on "
                                f"another model than the embedder's ({getattr(embedder, 'model_id', None)})")
    return "embedding-head", (f"embedding-head on the vectors already made: {n_quotes:,} quotes >= "
                              f"{SHARED_ENCODER_ABOVE:,}, so the fine-tuned scorer's second encoder pass was "
                              "skipped (held-out macro-F1 0.03 lower on NHS patient comments, 0.14-0.35 lower on "
                              "Reddit, news, financial and EmoBank text: docs/models.md; "
                              "--sentiment-scorer minilm-sentiment keeps the fine-tuned scorer)")


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
