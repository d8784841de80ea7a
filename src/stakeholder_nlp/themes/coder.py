"""Deductive coding, one decision per theme: zero-shot from the codebook, or learned from coded quotes.

:class:`ThemeCoder` gives every quote a probability for every codebook theme and carries each theme whose
probability reaches that theme's threshold, so a quote may carry zero, one or several themes.

Zero-shot (no coded quotes)
    A quote's score for a theme is its highest cosine similarity to the theme's description and examples,
    lowered by how much closer it is to one of the theme's near-misses. Each theme's scores are standardised
    by the mean and spread of the codebook's own phrases' scores for it (a theme whose phrases sit in a
    crowded region of the embedding space would otherwise claim everything; a quote's coding depends on that
    quote and the codebook alone, not on the rest of the corpus), turned into probabilities by a softmax whose
    temperature is fitted so that each codebook example, left out, is given its own theme (maximum
    likelihood) with a "no theme" option at standardised score ``none_score``, and each theme is carried when
    its probability reaches ``threshold`` (0.3: a quote split between two or three themes carries them all;
    one close to none carries none).
Learned (``fit(..., y=..., coded=...)``)
    Per theme, a logistic regression whose offset is the zero-shot logit: ``logit p = logit p0 + b + w . v``
    with a Gaussian prior (L2, strength ``1 / C`` on ``w``, a tenth of it on ``b``). With few coded quotes
    the coder stays close to the codebook (the prior); the researcher's coding takes over as it grows. Each
    theme still decides on its own (probability ≥ ``threshold``). ``C="auto"`` (the default) chooses the
    prior's strength from :data:`C_GRID` by inner cross-validation on the coded quotes only (grouped by
    speaker when ``groups`` name at least three speakers among them, else 5 folds of quotes): held-out
    log-loss summed over themes, and the *strongest* prior within one standard error of the best (the
    one-standard-error rule), so that a noisy inner estimate falls back on the codebook rather than on a
    few coded quotes.
Words (``text_features=True``, opt-in, when ``fit`` is given the quotes' ``texts``)
    The learned coder's features are the embedding beside ``s`` × the TF-IDF of the quote's word unigrams
    and bigrams (vocabulary fitted on the coded quotes only: inside a cross-validation fold, on that fold's
    training quotes), so a word the coders keep pairing with a theme counts even where the embedding blurs
    it. ``C="auto"`` chooses the words' weight ``s`` from :data:`TEXT_SCALES` with the prior (the smallest
    weight at the chosen prior within the one-standard-error band).
Context
    When context vectors are given (the embedding of the sentence or turn around each quote, zeros where
    there is none), a quote is represented by ``normalise(quote + context_weight * context)``.

Agreement of a learned coder is only ever measured on quotes it did not learn from: see
:mod:`stakeholder_nlp.themes.crossval`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..embedding import Embedder, EmbeddingCache, embed_texts
from ..errors import NotFittedError
from .codebook import Codebook

#: prior strengths (``C``) that ``C="auto"`` chooses among
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
#: weights of the TF-IDF block beside the embedding that ``C="auto"`` chooses among (learned coder with texts)
TEXT_SCALES = (0.5, 1.0, 2.0)
#: the TF-IDF vocabulary's largest size (most frequent terms among the coded quotes)
TEXT_MAX_FEATURES = 20000
#: whether a learned coder reads the coded quotes' words beside their embeddings (when given their texts) by
#: default: off, as it measured no better than the embedding alone on the benchmark (README, codebook section)
TEXT_FEATURES_DEFAULT = False


def mix_context(x: np.ndarray, context: np.ndarray | None, weight: float) -> np.ndarray:
    """``normalise(x + weight * context)`` row by row; rows of ``context`` that are zero leave ``x`` as is."""
    x = np.asarray(x, dtype=np.float32)
    if context is None or weight == 0:
        v = x.copy()
    else:
        c = np.nan_to_num(np.asarray(context, dtype=np.float32))
        if c.shape != x.shape:
            raise ValueError(f"context vectors have shape {c.shape}; expected {x.shape} (one row per quote, zeros "
                             "where a quote has no context)")
        v = x + weight * c
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ThemeCoder:
    """Code quotes with a codebook, one-vs-rest; zero-shot, or learned from coded quotes.

    Parameters
    ----------
    codebook : Codebook
    embedder : Embedder
        The embedder that made the quote vectors (used to embed the codebook's phrases).
    context_weight : float
        Weight of a quote's context vector (0: ignore context).
    threshold : float
        Probability a theme needs (every theme, zero-shot and learned).
    C : float or "auto"
        Inverse strength of the prior that keeps a learned coder near the codebook; ``"auto"``: chosen by inner
        cross-validation on the coded quotes (one-standard-error rule, see the module docstring); the value
        used is ``C_``.
    none_score : float or None
        Standardised score of "no theme", a pseudo-theme in the zero-shot softmax (-0.5: half a spread below
        the theme's codebook phrases' mean score); ``None``: every quote is shared out among the themes.
    phrase_vectors : ndarray, optional
        Embeddings of :meth:`phrases`, when already computed (cross-validation fits many coders).
    cache : EmbeddingCache, optional
    random_state : int
    text_features : bool
        A learned coder also reads the coded quotes' words (TF-IDF) when ``fit`` gets their ``texts``; it then
        needs ``texts`` to predict. The weight used is ``text_scale_`` (``None``: embedding only).
    """

    def __init__(self, codebook: Codebook, embedder: Embedder, *, context_weight: float = 0.5,
                 threshold: float = 0.3, C: float | str = "auto", none_score: float | None = -0.5,
                 phrase_vectors: np.ndarray | None = None, cache: EmbeddingCache | None = None,
                 random_state: int = 0, text_features: bool = TEXT_FEATURES_DEFAULT) -> None:
        self.codebook = codebook
        self.embedder = embedder
        self.context_weight = context_weight
        self.threshold = threshold
        self.C = C
        self.none_score = none_score
        self.phrase_vectors = phrase_vectors
        self.cache = cache
        self.random_state = random_state
        self.text_features = text_features

    # -- codebook phrases -------------------------------------------------------------------------------
    def phrases(self) -> list[str]:
        """The codebook's phrases in the order of ``phrase_vectors``: descriptions and examples, then near-misses."""
        return ([p for t in self.codebook.themes for p in t.prototypes]
                + [p for t in self.codebook.themes for p in t.near_misses])

    def _embed_codebook(self) -> None:
        pos = [(k, p) for k, t in enumerate(self.codebook.themes) for p in t.prototypes]
        neg = [(k, p) for k, t in enumerate(self.codebook.themes) for p in t.near_misses]
        if self.phrase_vectors is not None:
            vecs = np.asarray(self.phrase_vectors, dtype=np.float32)
            if len(vecs) != len(pos) + len(neg):
                raise ValueError(f"phrase_vectors has {len(vecs)} rows; the codebook has {len(pos) + len(neg)} "
                                 "phrases (see ThemeCoder.phrases)")
        else:
            vecs = np.asarray(embed_texts(self.phrases(), self.embedder, cache=self.cache).vectors,
                              dtype=np.float32)
        self.phrase_vectors_ = vecs
        self.positive_vectors_ = vecs[: len(pos)]
        self.positive_owner_ = np.array([k for k, _ in pos], dtype=np.int64)
        self.near_miss_vectors_ = vecs[len(pos):]
        self.near_miss_owner_ = np.array([k for k, _ in neg], dtype=np.int64)
        # examples (not descriptions), for calibration
        self.positive_is_example_ = np.array([p != self.codebook.themes[k].description for k, p in pos])

    def _raw(self, v: np.ndarray, *, leave_out: int | None = None) -> np.ndarray:
        """Quote × theme: best positive similarity minus how much closer a near-miss is."""
        n_t = len(self.codebook.themes)
        sp = v @ self.positive_vectors_.T
        if leave_out is not None:
            sp[:, leave_out] = -np.inf
        out = np.full((len(v), n_t), -1.0, dtype=np.float64)
        for k in range(n_t):
            cols = self.positive_owner_ == k
            best = sp[:, cols].max(axis=1) if cols.any() else np.full(len(v), -1.0)
            negs = self.near_miss_owner_ == k
            if negs.any():
                sn = (v @ self.near_miss_vectors_[negs].T).max(axis=1)
                best = best - np.maximum(sn - best, 0.0)
            out[:, k] = best
        return out

    def zero_shot_scores(self, v: np.ndarray) -> np.ndarray:
        """Standardised zero-shot scores (quote × theme) of already context-mixed vectors."""
        return (self._raw(v) - self.score_mean_) / self.score_sd_

    # -- fitting ----------------------------------------------------------------------------------------
    def fit(self, x: np.ndarray, *, context: np.ndarray | None = None, y: np.ndarray | None = None,
            coded: np.ndarray | None = None, groups: Sequence | None = None,
            texts: Sequence[str] | None = None) -> ThemeCoder:
        """Fit on the quotes to be coded.

        ``x``: quote embeddings (the learned coder learns from its coded rows);
        ``context``: context embeddings, zeros where none; ``y``: quote × theme booleans of human codes;
        ``coded``: which rows of ``y`` are coded (default: rows with at least one theme). Without ``y``
        (or with no coded quote) the coder is zero-shot. ``groups`` (speakers, one per row of ``x``): the
        inner cross-validation of ``C="auto"`` keeps each speaker's quotes in one fold. ``texts`` (one per
        row of ``x``; with ``text_features``): a learned coder also reads the coded quotes' words (TF-IDF of
        word unigrams and bigrams, vocabulary from the coded quotes only), and then needs ``texts`` to predict.
        """
        self._embed_codebook()
        v = mix_context(x, context, self.context_weight)
        n_t = len(self.codebook.themes)
        ref = self._raw(self.positive_vectors_)  # the codebook's own phrases: a quote's coding is its own
        self.score_mean_ = ref.mean(axis=0)
        sd = ref.std(axis=0)
        self.score_sd_ = np.where(sd > 1e-9, sd, 1.0)
        self.temperature_ = self._calibrate_temperature()
        self.thresholds_ = pd.Series(self.threshold, index=self.codebook.ids, dtype=float)
        self.weights_: np.ndarray | None = None
        self.n_coded_ = 0
        self.C_: float | None = None
        self.vectorizer_ = None
        self.text_scale_: float | None = None
        if y is not None:
            y = np.asarray(y, dtype=bool).reshape(len(v), n_t)
            coded = y.any(axis=1) if coded is None else np.asarray(coded, dtype=bool)
            if coded.any():
                g = None if groups is None else np.asarray(list(groups), dtype=object).astype(str)[coded]
                words = None
                if self.text_features and texts is not None:
                    if len(texts) != len(v):
                        raise ValueError(f"texts has {len(texts)} entries; expected one per row of x ({len(v)})")
                    words = self._fit_vectorizer([str(texts[i]) for i in np.flatnonzero(coded)])
                off = self._zero_shot_logit(v[coded])
                self.C_, self.text_scale_ = self._choose_C(v[coded], words, y[coded], off, g)
                self.weights_ = self._fit_learned(_design(v[coded], words, self.text_scale_), y[coded], self.C_,
                                                  offset=off)
                self.n_coded_ = int(coded.sum())
        self.mode_ = "learned" if self.weights_ is not None else "zero-shot"
        return self

    def _fit_vectorizer(self, coded_texts: list[str]):
        """TF-IDF of word unigrams and bigrams (sublinear tf, English stop words out, a term in at least two
        coded quotes), fitted on the coded quotes; ``None`` when they share no such term."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english",
                              max_features=TEXT_MAX_FEATURES)
        try:
            words = vec.fit_transform(coded_texts)
        except ValueError:  # no term in two coded quotes (a handful of short quotes)
            return None
        self.vectorizer_ = vec
        return words

    def _calibrate_temperature(self) -> float:
        """Softmax temperature maximising the left-out likelihood of each example's own theme."""
        rows, own = [], []
        for i in np.flatnonzero(self.positive_is_example_):
            z = (self._raw(self.positive_vectors_[i:i + 1], leave_out=i) - self.score_mean_) / self.score_sd_
            rows.append(z[0])
            own.append(self.positive_owner_[i])
        if not rows:
            return 1.0
        z, own = np.array(rows), np.array(own)
        grid = np.exp(np.linspace(np.log(0.05), np.log(5.0), 61))
        nll = [-np.log(self._softmax(z, t)[np.arange(len(own)), own] + 1e-12).mean() for t in grid]
        return float(grid[int(np.argmin(nll))])

    def _choose_C(self, v: np.ndarray, words, y: np.ndarray, off: np.ndarray,
                  groups: np.ndarray | None) -> tuple[float, float | None]:
        """``(C, text scale)``: for ``C="auto"`` the strongest prior of :data:`C_GRID` (and, with ``words``, the
        smallest weight of :data:`TEXT_SCALES` at that prior) within one standard error of the best
        inner-cross-validated log-loss (folds by speaker when there are three or more); for a fixed ``C`` the
        words weigh 1."""
        scales = (None,) if words is None else TEXT_SCALES
        if self.C != "auto":
            if isinstance(self.C, str) or not float(self.C) > 0:
                raise ValueError(f"C must be a positive number or 'auto'; got {self.C!r}")
            return float(self.C), (None if words is None else 1.0)
        from sklearn.model_selection import GroupKFold, KFold

        n_groups = 0 if groups is None else len(np.unique(groups))
        if n_groups >= 3:
            splits = list(GroupKFold(n_splits=min(5, n_groups)).split(v, groups=groups))
        elif len(v) >= 10:
            splits = list(KFold(n_splits=5, shuffle=True, random_state=self.random_state).split(v))
        else:  # too few coded quotes to tell: stay with the codebook
            return C_GRID[0], (None if words is None else scales[0])
        configs = [(c, s) for c in C_GRID for s in scales]  # strongest prior first, then least weight on words
        design = {s: _design(v, words, s) for s in scales}
        losses = np.zeros((len(configs), len(splits)))
        for i, (c, s) in enumerate(configs):
            for f, (tr, te) in enumerate(splits):
                w = self._fit_learned(design[s][tr], y[tr], c, offset=off[tr])
                z = off[te] + w[:, 0] + design[s][te] @ w[:, 1:].T
                losses[i, f] = (np.logaddexp(0, z) - y[te] * z).sum() / len(te)
        mean = losses.mean(axis=1)
        se = losses.std(axis=1, ddof=1) / np.sqrt(len(splits))
        best = int(np.argmin(mean))
        return configs[int(np.flatnonzero(mean <= mean[best] + se[best]).min())]

    def _fit_learned(self, features, y: np.ndarray, C: float, *, offset: np.ndarray) -> np.ndarray:
        """Per theme, ``logit p = zero-shot logit + b + w . features``; L2 prior ``1 / C`` on ``w``, ``0.1 / C``
        on ``b``. Returns theme × (1 + n_features) weights (``b`` first)."""
        from scipy.optimize import minimize
        from scipy.special import expit

        lam = 1.0 / C
        pen = np.full(features.shape[1] + 1, lam)
        pen[0] = 0.1 * lam
        weights = []
        for k in range(y.shape[1]):
            yk = y[:, k].astype(np.float64)

            def loss(w, off_k=offset[:, k], yk=yk):
                z = off_k + w[0] + features @ w[1:]
                g = expit(z) - yk
                return ((np.logaddexp(0, z) - yk * z).sum() + (pen * w) @ w,
                        np.r_[g.sum(), features.T @ g] + 2 * pen * w)

            weights.append(minimize(loss, np.zeros(features.shape[1] + 1), jac=True, method="L-BFGS-B").x)
        return np.array(weights)

    def _softmax(self, z: np.ndarray, temperature: float) -> np.ndarray:
        if self.none_score is None:
            return _softmax(z / temperature)
        p = _softmax(np.hstack([z, np.full((len(z), 1), float(self.none_score))]) / temperature)
        return p[:, :-1]

    def _zero_shot_proba(self, v: np.ndarray) -> np.ndarray:
        return self._softmax(self.zero_shot_scores(v), self.temperature_)

    def _zero_shot_logit(self, v: np.ndarray) -> np.ndarray:
        p = np.clip(self._zero_shot_proba(v), 1e-6, 1 - 1e-6)
        return np.log(p) - np.log1p(-p)

    # -- coding -----------------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise NotFittedError("This ThemeCoder instance is not fitted yet. Call 'fit' with appropriate "
                                 "arguments before using this coder.")

    def predict_proba(self, x: np.ndarray, *, context: np.ndarray | None = None,
                      texts: Sequence[str] | None = None) -> pd.DataFrame:
        """Quote × theme probabilities (``texts``: needed when the coder learned from the quotes' words)."""
        from scipy.special import expit

        self._check()
        v = mix_context(x, context, self.context_weight)
        if self.weights_ is None:
            p = self._zero_shot_proba(v)
        else:
            words = None
            if self.vectorizer_ is not None:
                if texts is None or len(texts) != len(v):
                    raise ValueError("this coder learned from the coded quotes' words too (text_features=True): "
                                     "pass texts=, one per row of x")
                words = self.vectorizer_.transform([str(t) for t in texts])
            z = self._zero_shot_logit(v) + self.weights_[:, 0] + _design(v, words, self.text_scale_) @ \
                self.weights_[:, 1:].T
            p = expit(z)
        return pd.DataFrame(p, columns=self.codebook.ids)

    def predict(self, x: np.ndarray, *, context: np.ndarray | None = None,
                texts: Sequence[str] | None = None) -> pd.DataFrame:
        """Quote × theme booleans: each theme's probability against its own threshold."""
        p = self.predict_proba(x, context=context, texts=texts)
        return p.ge(self.thresholds_, axis=1)


def _design(v: np.ndarray, words, scale: float | None):
    """The learned coder's features: the (context-mixed) embedding, beside ``scale`` × the TF-IDF rows when
    there are ``words`` (sparse then)."""
    v = np.asarray(v, dtype=np.float64)
    if words is None:
        return v
    from scipy import sparse

    return sparse.hstack([sparse.csr_matrix(v), scale * words], format="csr")


def context_vectors(contexts: Sequence[str | None], embedder: Embedder, *,
                    cache: EmbeddingCache | None = None) -> np.ndarray | None:
    """Embeddings of the contexts, zeros where a quote has none; ``None`` when no quote has a context."""
    have = [i for i, c in enumerate(contexts) if c]
    if not have:
        return None
    vecs = np.asarray(embed_texts([contexts[i] for i in have], embedder, cache=cache).vectors, dtype=np.float32)
    out = np.zeros((len(contexts), vecs.shape[1]), dtype=np.float32)
    out[have] = vecs
    return out
