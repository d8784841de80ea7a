"""Non-responses: answers that say nothing ("N/A", "Nothing.", "Did not answer", "-"), set aside before
themes so that they neither form themes nor head the findings.

:func:`detect_nonresponses` returns a reason per text (``""`` for a real answer); :func:`set_aside` splits a
:class:`~stakeholder_nlp.corpus.Corpus` into the quotes that are analysed and a table of the ones set aside
(:data:`SET_ASIDE_COLUMNS`): ``quote_id``, ``text``, ``speaker``, ``wave``, ``reason``
(``nonresponse: <phrase>`` or ``short: N words``).

A text is a non-response when, lower-cased and stripped of punctuation, it is entirely one of
:data:`NONRESPONSE_PHRASES` (a full match, so "nothing to improve, the staff were lovely" is kept), or is
at most eight words all from :data:`FILLER_WORDS` including a "no"/"nothing"/"none" ("No nothing",
"Nothing really, thank you"), or has fewer than ``min_words`` words. Both are configurable through :class:`NonResponseRules`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .schema import QUOTE_ID, SPEAKER, TEXT, WAVE, Corpus

#: columns of the set-aside table
SET_ASIDE_COLUMNS = (QUOTE_ID, TEXT, SPEAKER, WAVE, "reason")

#: whole answers that carry no content (after lower-casing and removing punctuation)
NONRESPONSE_PHRASES: tuple[str, ...] = (
    "n a", "na", "n/a", "none", "nil", "nothing", "no", "no comment", "no comments", "no answer",
    "did not answer", "didn't answer", "not answered", "no response", "not applicable", "nothing to add",
    "nothing else", "nothing further", "nothing more", "nothing really", "nothing at all", "nothing to say",
    "nothing to comment", "no further comments", "no further comment", "no other comments", "nothing thanks",
    "nothing thank you", "no thanks", "no thank you", "none thanks", "none thank you", "not sure", "unsure",
    "don't know", "dont know", "do not know", "dk", "idk", "can't think of anything", "cant think of anything",
    "cannot think of anything", "not really", "same", "as above", "see above", "blank", "test", "x", "xx",
    "xxx", "ok", "okay",
)

#: an answer made only of these words, with at least one of :data:`_NEGATIONS`, says nothing
#: ("No nothing", "Nothing really, thank you", "None at all", "No not really")
FILLER_WORDS = frozenset({"no", "nothing", "none", "nil", "na", "n/a", "n", "a", "not", "really", "thanks", "thank",
                          "you", "all", "at", "comment", "comments", "further", "else", "to", "add", "more", "say",
                          "i", "can", "can't", "cant", "think", "of", "anything", "that", "this", "time", "as", "yet",
                          "sorry", "just", "so", "far", "nope", "nah", "ta", "much", "very", "applicable", "answer",
                          "absolutely", "thing", "comes", "come", "mind", "springs", "spring", "could", "would", "be",
                          "improve", "improved", "improvement", "improvements", "change", "changed", "done", "about",
                          "do", "i'd", "id", "personally", "whatsoever", "honestly", "specific", "particular",
                          "any", "the", "moment", "there", "is", "it", "sure", "don't", "dont", "know", "me", "my",
                          "opinion", "in", "for", "now", "suggestions", "suggest", "need", "needs", "needed"})
_NEGATIONS = frozenset({"no", "nothing", "none", "nil", "na", "n/a", "nope", "nah", "not"})
_PUNCT = re.compile(r"[^\w\s'/]+")
_SPACE = re.compile(r"\s+")


def _normalise(text: str) -> str:
    t = _PUNCT.sub(" ", str(text).lower().replace("’", "'"))
    return _SPACE.sub(" ", t).strip()


@dataclass(frozen=True, slots=True)
class NonResponseRules:
    """What counts as a non-response.

    ``phrases``: whole answers that say nothing (full match after normalisation; default
    :data:`NONRESPONSE_PHRASES`); ``extra_phrases``: added to them; ``min_words``: texts with fewer words
    are set aside as too short (1 keeps every non-empty text); ``enabled=False`` sets nothing aside.
    """

    phrases: tuple[str, ...] = NONRESPONSE_PHRASES
    extra_phrases: tuple[str, ...] = ()
    min_words: int = 1
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.min_words < 0:
            raise ValueError(f"min_words must be >= 0; got {self.min_words}")

    def lookup(self) -> frozenset[str]:
        """The normalised phrases."""
        return frozenset(_normalise(p) for p in (*self.phrases, *self.extra_phrases))


def _reason(text: str, lookup: frozenset[str], min_words: int) -> str:
    norm = _normalise(text)
    if norm == "" or norm in lookup:
        return f"nonresponse: {norm or 'punctuation only'}"
    words = norm.split()
    if len(words) <= 8 and set(words) <= FILLER_WORDS and set(words) & _NEGATIONS:
        return f"nonresponse: {norm}"
    n = len(words)
    if n < min_words:
        return f"short: {n} word{'s' if n != 1 else ''}"
    return ""


def detect_nonresponses(texts: Sequence[str], rules: NonResponseRules | None = None) -> list[str]:
    """The reason each text is a non-response (``""`` when it is a real answer)."""
    rules = rules or NonResponseRules()
    if not rules.enabled:
        return ["" for _ in texts]
    lookup = rules.lookup()
    return [_reason(t, lookup, rules.min_words) for t in texts]


def set_aside(corpus: Corpus, rules: NonResponseRules | None = None) -> tuple[Corpus, pd.DataFrame]:
    """Split ``corpus`` into (quotes to analyse, table of the quotes set aside with the reason)."""
    reasons = detect_nonresponses(corpus.texts, rules)
    mask = pd.Series([r == "" for r in reasons], index=corpus.quotes.index)
    q = corpus.quotes
    table = q.loc[~mask, [QUOTE_ID, TEXT, SPEAKER, WAVE]].assign(
        reason=[r for r in reasons if r]).reset_index(drop=True)
    return corpus.subset(mask), table[list(SET_ASIDE_COLUMNS)]


def summarise_set_aside(table: pd.DataFrame, waves: Sequence) -> pd.DataFrame:
    """Counts per wave and reason (rows: reason, columns: waves, plus ``total``)."""
    if len(table) == 0:
        return pd.DataFrame(columns=["reason", *waves, "total"])
    kind = table["reason"].str.replace(r":.*$", "", regex=True)
    label = table["reason"].where(kind == "nonresponse", kind)
    ct = pd.crosstab(label, table[WAVE]).reindex(columns=list(waves), fill_value=0)
    ct["total"] = ct.sum(axis=1)
    return ct.sort_values("total", ascending=False).reset_index(names="reason")
