"""ThemeCoder and code_corpus: multi-label decisions, context, learning from codes, honest agreement."""

from __future__ import annotations

import numpy as np
import pytest

from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.errors import CodebookError, NotFittedError
from stakeholder_nlp.themes import parse_codebook
from stakeholder_nlp.themes.coder import ThemeCoder, context_vectors, mix_context
from stakeholder_nlp.themes.crossval import (
    AGREEMENT_COLUMNS,
    CROSS_VALIDATED,
    ZERO_SHOT,
    code_corpus,
    cross_validated_predictions,
    kappa_columns,
    speaker_groups,
)

BOOK = """
[[theme]]
id = "data"
name = "Data"
description = "data are missing or unusable"
examples = ["no data at all", "the data are missing again", "we cannot extract the data"]
near_misses = ["share data on learning"]
human_codes = ["Data access"]

[[theme]]
id = "teams"
name = "Teams"
description = "the nurses and the team are left out"
examples = ["nurses left out", "the team is excluded", "nurses and team not involved"]
human_codes = ["MDT"]

[[theme]]
id = "weather"
name = "Weather"
description = "sunny or rainy weather outside"
examples = ["sunny weather today", "rainy weather again", "weather is cold and rainy"]
"""


@pytest.fixture(scope="module")
def emb():
    return HashingEmbedder(dim=512)


@pytest.fixture(scope="module")
def book():
    return parse_codebook(BOOK)


def _corpus(n_per: int = 6):
    texts, codes, speakers = [], [], []
    for i in range(n_per):
        texts += [f"the data are missing in week {i}", f"nurses left out of meeting {i}",
                  f"rainy weather on day {i}", f"no data and the nurses left out {i}"]
        codes += [["Data access"], ["MDT"], ["Weather"], ["Data access", "MDT"]]
        speakers += [f"s{i}"] * 4
    return texts, codes, speakers


class KeywordEmbedder:
    """Three topic axes (data, team, weather) and a small word-hash part so that phrases differ."""

    model_id = "keywords-test"
    dim = 16

    def encode(self, texts, *, batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = t.lower().replace(",", " ").split()
            out[i, 0] = sum(w == "data" for w in words)
            out[i, 1] = sum(w in ("nurses", "team") for w in words)
            out[i, 2] = sum(w in ("weather", "rainy", "sunny") for w in words)
            for w in words:
                out[i, 3 + sum(map(ord, w)) % 13] += 0.15
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_a_quote_can_carry_zero_one_or_several_themes(book):
    emb = KeywordEmbedder()
    quotes = ["no data at all, nurses left out", "the data are missing again", "zzz qqq xxyy"]
    x = emb.encode(quotes)
    coder = ThemeCoder(book, emb, threshold=0.3).fit(emb.encode(_corpus()[0]))
    carried = coder.predict(x)
    assert set(carried.columns[carried.iloc[0]]) == {"data", "teams"}
    assert set(carried.columns[carried.iloc[1]]) == {"data"}
    assert not carried.iloc[2].any()  # close to no theme: carries none
    assert coder.mode_ == "zero-shot"
    proba = coder.predict_proba(x)
    assert proba.shape == (3, 3) and (proba.sum(axis=1) <= 1.0 + 1e-9).all()  # the rest is "no theme"


def test_each_theme_decides_against_its_own_threshold(book, emb):
    texts = _corpus()[0]
    coder = ThemeCoder(book, emb).fit(emb.encode(texts))
    p = coder.predict_proba(emb.encode(texts))
    assert (coder.predict(emb.encode(texts)) == p.ge(coder.thresholds_, axis=1)).all().all()
    assert list(coder.thresholds_.index) == ["data", "teams", "weather"]


def test_near_misses_lower_a_theme_score(emb):
    with_nm = parse_codebook(BOOK)
    without = parse_codebook(BOOK.replace('near_misses = ["share data on learning"]\n', ""))
    x = emb.encode(["share data on learning"])
    corpus = emb.encode(_corpus()[0])
    a = ThemeCoder(with_nm, emb).fit(corpus)
    b = ThemeCoder(without, emb).fit(corpus)
    assert a._raw(x)[0, 0] < b._raw(x)[0, 0]


def test_near_misses_must_be_strings():
    with pytest.raises(CodebookError, match="near_misses"):
        parse_codebook(BOOK.replace('["share data on learning"]', "[1, 2]"))


def test_context_changes_the_coding_of_a_short_quote(book, emb):
    texts = _corpus()[0] + ["nuts and bolts"]
    contexts = [None] * (len(texts) - 1) + ["the data are missing, no data at all"]
    x = emb.encode(texts)
    ctx = context_vectors(contexts, emb)
    assert ctx.shape == x.shape and not ctx[:-1].any()
    coder = ThemeCoder(book, emb, context_weight=1.0).fit(x, context=ctx)
    with_ctx = coder.predict_proba(x[-1:], context=ctx[-1:])
    without = coder.predict_proba(x[-1:])
    assert with_ctx.loc[0, "data"] > without.loc[0, "data"]
    assert bool(coder.predict(x[-1:], context=ctx[-1:]).loc[0, "data"])


def test_mix_context_leaves_quotes_without_context_alone():
    x = np.eye(3, dtype=np.float32)
    ctx = np.zeros_like(x)
    ctx[1] = [1, 1, 0]
    v = mix_context(x, ctx, 0.5)
    assert np.allclose(v[[0, 2]], x[[0, 2]]) and v[1, 1] > 0
    assert np.allclose(np.linalg.norm(v, axis=1), 1)
    assert context_vectors([None, ""], HashingEmbedder()) is None


def test_learns_from_a_codes_column(book, emb):
    texts, codes, speakers = _corpus()
    # the codebook says nothing about 'parking'; the researcher codes parking complaints as Data access
    texts += [f"parking was impossible {i}" for i in range(8)]
    codes += [["Data access"]] * 8
    speakers += [f"p{i}" for i in range(8)]
    x = emb.encode(texts)
    zero = code_corpus(book, emb, x, codes=codes, speakers=speakers, learn=False, n_boot=50)
    learned = code_corpus(book, emb, x, codes=codes, speakers=speakers, learn=True, n_boot=50, keep_human=False,
                          C=10.0)  # a weak prior: eight coded quotes overrule the codebook
    assert zero.mode == "zero-shot" and learned.mode == "learned" and learned.n_coded == len(texts)
    probe = emb.encode(["parking was impossible again"])
    assert learned.coder.predict_proba(probe).loc[0, "data"] > zero.coder.predict_proba(probe).loc[0, "data"]
    assert bool(learned.coder.predict(probe).loc[0, "data"])
    assert list(learned.agreement.columns) == list(AGREEMENT_COLUMNS)
    assert set(learned.agreement["evaluation"]) == {CROSS_VALIDATED}
    assert set(zero.agreement["evaluation"]) == {ZERO_SHOT}
    # the theme with no human_codes matches a code equal to its name
    assert learned.agreement.set_index("theme_id").loc["weather", "n_human"] == 6


def test_a_learned_coder_learns_multi_label_coding(book, emb):
    texts, codes, speakers = _corpus(8)  # every fourth quote is coded both Data access and MDT
    x = emb.encode(texts)
    coder = ThemeCoder(book, emb, C=10.0).fit(x, y=book.human_matrix(codes))
    both = coder.predict(emb.encode(["no data and the nurses left out 99"]))
    assert set(both.columns[both.iloc[0]]) == {"data", "teams"}
    one = coder.predict(emb.encode(["rainy weather on day 99"]))
    assert set(one.columns[one.iloc[0]]) == {"weather"}


def test_coded_quotes_keep_their_human_coding_and_the_rest_is_coded_by_machine(book, emb):
    texts, codes, speakers = _corpus()
    uncoded = [[] if i % 3 == 0 else c for i, c in enumerate(codes)]
    res = code_corpus(book, emb, emb.encode(texts), codes=uncoded, speakers=speakers, learn=True, n_boot=20)
    coded = np.array([bool(c) for c in uncoded])
    assert (res.source[coded] == "human").all() and (res.source[~coded] == "machine").all()
    assert (res.membership.to_numpy()[coded] == book.human_matrix([c for c in uncoded if c])).all()
    assert res.agreement["n_quotes"].iat[0] == coded.sum()


def test_agreement_is_never_measured_on_quotes_the_coder_learned_from(book, emb):
    texts, codes, speakers = _corpus(8)
    x = emb.encode(texts)
    y = book.human_matrix(codes)
    coded = np.ones(len(texts), dtype=bool)
    coded[::5] = False  # some quotes uncoded: never evaluated, never learned from
    seen = []

    class Spy(ThemeCoder):
        def fit(self, x, *, context=None, y=None, coded=None, groups=None, texts=None):
            seen.append(np.flatnonzero(coded))
            out = super().fit(x, context=context, y=y, coded=coded, groups=groups, texts=texts)
            vocab.append(set(self.vectorizer_.vocabulary_))
            return out

    vocab = []
    groups = speaker_groups(speakers)
    cv = cross_validated_predictions(lambda: Spy(book, emb, text_features=True, C=1.0), x, y=y, coded=coded,
                                     groups=groups, n_splits=4, texts=texts)
    assert len(seen) == len(cv.trained_on) == 4
    assert cv.evaluated.sum() == coded.sum() and not cv.evaluated[~coded].any()
    analyse = ThemeCoder(book, emb, text_features=True).fit(x, y=y, texts=texts).vectorizer_.build_analyzer()
    for f, learned_from in enumerate(seen):
        scored = np.flatnonzero(cv.fold == f)
        assert not set(scored) & set(learned_from)
        assert not set(groups[scored]) & set(groups[learned_from])  # nor any quote of the same speaker
        assert coded[learned_from].all()
        # the words it reads come from the quotes it learned from (vocabulary fitted inside the fold)
        assert vocab[f] <= {t for i in learned_from for t in analyse(texts[i])}


def test_unattributed_quotes_are_their_own_group():
    g = speaker_groups(["a", None, "a", "", float("nan")])
    assert g[0] == g[2] and len(set(g)) == 4


def test_kappa_matches_sklearn():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    h = rng.random((50, 3)) < 0.4
    m = h ^ (rng.random((50, 3)) < 0.2)
    k = kappa_columns(h, m)
    assert np.allclose(k, [cohen_kappa_score(h[:, j], m[:, j]) for j in range(3)])
    assert np.isnan(kappa_columns(np.zeros((4, 1), bool), np.zeros((4, 1), bool))[0])


def test_unfitted_coder_says_so(book, emb):
    with pytest.raises(NotFittedError, match="not fitted"):
        ThemeCoder(book, emb).predict(np.zeros((1, 512)))


def test_auto_prior_stays_with_the_codebook_when_few_quotes_are_coded(book, emb):
    from stakeholder_nlp.themes.coder import C_GRID

    texts, codes, _ = _corpus(2)  # eight coded quotes, no speakers: too few to cross-validate
    coder = ThemeCoder(book, emb).fit(emb.encode(texts), y=book.human_matrix(codes))
    assert coder.C == "auto" and coder.C_ == C_GRID[0] and coder.mode_ == "learned"


def test_auto_prior_weakens_when_consistent_coding_contradicts_the_codebook(book, emb):
    from stakeholder_nlp.themes.coder import C_GRID

    texts, codes, speakers = _corpus(10)
    # the researcher codes every parking quote as Data access, which the codebook cannot know
    texts += [f"parking was impossible on visit {i}" for i in range(20)]
    codes += [["Data access"]] * 20
    speakers += [f"p{i % 10}" for i in range(20)]
    x = emb.encode(texts)
    coder = ThemeCoder(book, emb).fit(x, y=book.human_matrix(codes), groups=speakers)
    assert coder.C_ > C_GRID[0]  # inner CV by speaker: the coding is worth more than the prior here
    assert bool(coder.predict(emb.encode(["parking was impossible again"])).loc[0, "data"])
    fixed = ThemeCoder(book, emb, C=0.3).fit(x, y=book.human_matrix(codes))
    assert fixed.C_ == 0.3


def test_a_bad_prior_strength_is_refused(book, emb):
    texts, codes, _ = _corpus(2)
    with pytest.raises(ValueError, match="C must be a positive number or 'auto'"):
        ThemeCoder(book, emb, C="weak").fit(emb.encode(texts), y=book.human_matrix(codes))


class BlindEmbedder:
    """Every text gets (nearly) the same vector: the embedding says nothing about a quote's theme."""

    model_id = "blind-test"
    dim = 8

    def encode(self, texts, *, batch_size: int = 32) -> np.ndarray:
        rng = np.random.default_rng(0)
        out = np.ones((len(texts), self.dim), dtype=np.float32) + 0.01 * rng.standard_normal((len(texts), self.dim))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_a_learned_coder_reads_the_coded_quotes_words_when_given_their_texts(book):
    """Where the embedding carries nothing, the words of the coded quotes (TF-IDF, vocabulary from the coded
    quotes only) still teach the coder: 'fax' marks data, 'rota' marks teams."""
    emb = BlindEmbedder()
    marks = {"data": "the fax machine again", "teams": "the rota was changed"}
    texts, codes = [], []
    for i in range(12):
        for theme, code in (("data", "Data access"), ("teams", "MDT")):
            texts.append(f"{marks[theme]} {i}")
            codes.append([code])
    x = emb.encode(texts)
    y = book.human_matrix(codes)
    words = ThemeCoder(book, emb, C=10.0, text_features=True).fit(x, y=y, texts=texts)
    blind = ThemeCoder(book, emb, C=10.0).fit(x, y=y, texts=texts)  # the default: embedding only
    new = ["a fax came in", "the rota is out"]
    xn = emb.encode(new)
    assert words.predict(xn, texts=new)[["data", "teams"]].to_numpy().tolist() == [[True, False], [False, True]]
    p = blind.predict_proba(xn, texts=new)[["data", "teams"]].to_numpy()
    assert np.abs(p[0] - p[1]).max() < 0.05  # without the words the two quotes are indistinguishable
    with pytest.raises(ValueError, match="pass texts="):
        words.predict(xn)
