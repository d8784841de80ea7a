"""Score a corpus's quotes for the pipeline: per-quote detail, the person's labels if given, and the notice.

:func:`score_corpus` returns a :class:`CorpusSentiment`:

``scores`` / ``labels``  one per quote (input order)
``detail``               one row per quote: ``quote_id`` then :data:`~.finetuned.QUOTE_SCORE_COLUMNS`
                         (how a long quote's score was combined: ``combine``); scorers without sentence
                         detail give ``combine = "scorer"``, the embedding head on the pipeline's vectors
                         ``combine = "embedding"`` (with its class probabilities)
``validation``           :data:`~.validation.VALIDATION_COLUMNS` (empty without labels)
``notice``               one paragraph for the report: how far the sentiment was checked on this corpus
``validated``            whether a person's labels were used
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .finetuned import QUOTE_SCORE_COLUMNS
from .validation import VALIDATION_COLUMNS, not_validated_notice, validate_sentiment


@dataclass(frozen=True, slots=True)
class CorpusSentiment:
    scores: np.ndarray
    labels: list[str]
    detail: pd.DataFrame
    validation: pd.DataFrame
    notice: str
    validated: bool
    scorer: str


def score_corpus(scorer, quotes: pd.DataFrame, *, labels: pd.DataFrame | None = None, adapt: bool = False,
                 n_boot: int = 2000, seed: int = 0, vectors: np.ndarray | None = None,
                 executor=None) -> CorpusSentiment:
    """``quotes`` needs ``quote_id``, ``text``, ``speaker``; ``labels`` comes from
    :func:`~.validation.read_labels`. ``adapt`` (needs labels) scores the corpus with the head adapted to
    all the labels; its agreement is the cross-validated one. ``vectors`` (one row per quote, made by the
    scorer's embedder): a scorer that reads embeddings (``proba_vectors``) scores them instead of encoding
    the texts again. ``executor`` (:mod:`stakeholder_nlp.embedding.executor`): where a scorer that takes
    one (``score_quotes(..., executor=)``: the fine-tuned model) runs its model pass; the same scores."""
    texts = quotes["text"].astype(str).tolist()
    name = getattr(scorer, "name", type(scorer).__name__)
    if adapt and labels is None:
        raise ValueError("adapting the sentiment scorer needs labelled quotes (--sentiment-labels FILE)")
    validation = None
    if labels is not None:
        validation = validate_sentiment(scorer, quotes, labels, adapt=adapt, n_boot=n_boot, seed=seed)
    head = validation.head if validation is not None else None
    if vectors is not None and hasattr(scorer, "proba_vectors"):
        if len(vectors) != len(texts):
            raise ValueError(f"vectors must have one row per quote ({len(texts)}); got {len(vectors)}")
        detail = _detail_from_proba(scorer.proba_vectors(vectors), scorer.classes)
    elif hasattr(scorer, "score_quotes"):
        kw = {"head": head} if head is not None else {}
        if executor is not None and "executor" in inspect.signature(scorer.score_quotes).parameters:
            kw["executor"] = executor
        detail = scorer.score_quotes(texts, **kw)
    else:
        s = np.asarray(scorer.score(texts), dtype=np.float64)
        detail = pd.DataFrame({"score": s, "label": list(scorer.label(texts)), "p_negative": np.nan,
                               "p_neutral": np.nan, "p_positive": np.nan, "n_sentences": 1, "combine": "scorer",
                               "min_sentence": s, "max_sentence": s}, columns=list(QUOTE_SCORE_COLUMNS))
    detail.insert(0, "quote_id", quotes["quote_id"].astype(str).to_numpy())
    if validation is None:
        return from_detail(detail, name)
    notice = validation.sentence()
    if validation.n_unmatched:
        notice += f" {validation.n_unmatched} labelled quote_id(s) were not in this corpus and were ignored."
    return CorpusSentiment(detail["score"].to_numpy(np.float64), detail["label"].tolist(), detail,
                           validation.table, notice, True, name + ("+adapted" if head is not None else ""))


def _detail_from_proba(p: np.ndarray, classes: tuple[str, ...]) -> pd.DataFrame:
    col = {c: p[:, classes.index(c)] for c in ("negative", "neutral", "positive")}
    s = col["positive"] - col["negative"]
    return pd.DataFrame({"score": s, "label": np.asarray(classes, dtype=object)[p.argmax(axis=1)],
                         "p_negative": col["negative"], "p_neutral": col["neutral"], "p_positive": col["positive"],
                         "n_sentences": 1, "combine": "embedding", "min_sentence": s, "max_sentence": s},
                        columns=list(QUOTE_SCORE_COLUMNS))


def from_detail(detail: pd.DataFrame, scorer: str) -> CorpusSentiment:
    """The result for per-quote scores without a person's labels: already computed (a curation rerun reuses
    the saved ones) or just scored by :func:`score_corpus`."""
    return CorpusSentiment(detail["score"].to_numpy(np.float64), detail["label"].tolist(), detail,
                           pd.DataFrame(columns=list(VALIDATION_COLUMNS)), not_validated_notice(scorer), False,
                           scorer)
