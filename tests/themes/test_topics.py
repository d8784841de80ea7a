from __future__ import annotations

import numpy as np
import pytest

from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.errors import NotFittedError
from stakeholder_nlp.themes import TopicModel, fit_themes, parse_codebook, partition_agreement
from tests.themes.test_codebook import GOOD


def planted(n_per=25, k=4, dim=64, noise=0.35, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim))
    labels = np.repeat(np.arange(k), n_per)
    x = centres[labels] + noise * rng.standard_normal((len(labels), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    words = ["data access analyst", "team nurse pharmacist", "training course skills", "time workload session"]
    texts = [f"{words[lab]} quote {i}" for i, lab in enumerate(labels)]
    return texts, x.astype(np.float32), labels


def _plain(texts):
    return [t.lower() for t in texts]


def test_planted_topics_are_recovered():
    texts, x, truth = planted()
    m = TopicModel(lemmatizer=_plain).fit(texts, x)
    assert m.n_topics_ == 4
    assert partition_agreement(m.labels_, [[str(t)] for t in truth])["ari"] > 0.95
    assert list(m.topic_info_.columns) == ["topic", "label", "n_quotes", "terms", "mmr_terms", "representative",
                                          "reappearance"]
    assert all(3 <= len(r) <= 5 for r in m.topic_info_["representative"])


def test_same_seed_same_labels_and_seed_does_not_matter():
    texts, x, _ = planted(noise=0.8)
    a = TopicModel(random_state=1, lemmatizer=_plain).fit(texts, x).labels_
    b = TopicModel(random_state=1, lemmatizer=_plain).fit(texts, x).labels_
    c = TopicModel(random_state=7, lemmatizer=_plain).fit(texts, x).labels_
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("method", ["consensus", "agglomerative", "kmeans"])
def test_order_invariant(method):
    texts, x, _ = planted(noise=0.8)
    perm = np.random.default_rng(3).permutation(len(texts))
    a = TopicModel(method=method, n_topics=5, lemmatizer=_plain).fit(texts, x).labels_
    b = TopicModel(method=method, n_topics=5, lemmatizer=_plain).fit([texts[i] for i in perm], x[perm]).labels_
    np.testing.assert_array_equal(a[perm], b)


def test_hdbscan_outliers_reassigned_to_at_most_ten_percent():
    texts, x, _ = planted(n_per=30, noise=0.9)
    m = TopicModel(method="hdbscan", lemmatizer=_plain, max_outlier_share=0.10).fit(texts, x)
    assert (m.labels_ == -1).mean() <= 0.10
    assert m.n_topics_ >= 1


def test_large_corpus_is_fitted_on_a_sample_and_all_assigned():
    texts, x, truth = planted(n_per=300, noise=0.35)
    m = TopicModel(max_fit_samples=400, lemmatizer=_plain).fit(texts, x)
    assert (m.labels_ >= 0).all()
    assert partition_agreement(m.labels_, [[str(t)] for t in truth])["ari"] > 0.9


def test_unfitted_model_says_so():
    with pytest.raises(NotFittedError, match="not fitted"):
        TopicModel().predict(np.zeros((1, 4)))


def test_hybrid_runs_topics_on_uncoded_quotes_only():
    texts, x, _ = planted()
    emb = HashingEmbedder(dim=64)
    book = parse_codebook(GOOD)
    x = emb.encode(texts)
    res = fit_themes(texts, x, codebook=book, embedder=emb, mode="hybrid",
                     topic_model=TopicModel(n_topics=3, lemmatizer=_plain))
    coded = res.membership[book.ids].any(axis=1).to_numpy()
    assert (res.topic_labels[coded] == -1).all()
    assert (res.topic_labels[~coded] >= 0).all()
    assert set(res.themes["kind"]) <= {"codebook", "topic"}


def test_consensus_is_the_default_and_marks_how_often_each_theme_reappears():
    texts, x, truth = planted(n_per=25, noise=0.5)
    m = TopicModel(lemmatizer=_plain).fit(texts, x)
    assert m.method == "consensus" and m.n_topics_ == 4
    assert partition_agreement(m.labels_, [[str(t)] for t in truth])["ari"] > 0.95
    assert m.topic_info_["reappearance"].between(0.9, 1.0).all()  # planted themes come back in every fit


def test_consensus_themes_survive_resampling_and_ignore_the_seed():
    from stakeholder_nlp.stability import pairwise_partition_agreement

    texts, x, _ = planted(n_per=30, noise=0.55)
    rng = np.random.default_rng(0)
    parts = []
    for r in range(5):
        idx = np.sort(rng.choice(len(texts), int(0.8 * len(texts)), replace=False))
        parts.append((idx, TopicModel(random_state=r, lemmatizer=_plain).fit([texts[i] for i in idx], x[idx]).labels_))
    aris, _ = pairwise_partition_agreement(parts)
    assert aris.mean() > 0.9
    a = TopicModel(random_state=1, lemmatizer=_plain).fit(texts, x).labels_
    b = TopicModel(random_state=9, lemmatizer=_plain).fit(texts, x).labels_
    np.testing.assert_array_equal(a, b)


def test_consensus_takes_the_fewest_themes_within_one_standard_error_of_the_best():
    texts, x, _ = planted(n_per=20, noise=1.0)
    rng = np.random.default_rng(0)
    ks = []
    for _ in range(4):  # noisy planted themes: k stays put across 80% subsamples
        idx = np.sort(rng.choice(len(texts), 64, replace=False))
        m = TopicModel(lemmatizer=_plain).fit([texts[i] for i in idx], x[idx])
        ks.append(m.n_topics_)
        best = max(m.k_scores_.values())
        assert all(m.k_scores_[k] < best for k in m.k_scores_ if k < m.n_topics_)  # no smaller k scored as well
    assert ks == [4, 4, 4, 4]
    # no tolerance: the arg-max
    m = TopicModel(lemmatizer=_plain, k_plateau=0.0).fit(texts, x)
    assert m.n_topics_ == max(m.k_scores_, key=m.k_scores_.get)


def test_kmeans_centres_are_the_means_of_their_members():
    from stakeholder_nlp.themes.topics import _kmeans

    x = np.random.default_rng(3).standard_normal((300, 7))
    fit = _kmeans(x, 6, seed=1)
    for t in range(6):
        np.testing.assert_allclose(fit.cluster_centers_[t], x[fit.labels_ == t].mean(0), atol=1e-12)
    assert np.isclose(fit.inertia_, ((x - fit.cluster_centers_[fit.labels_]) ** 2).sum())
