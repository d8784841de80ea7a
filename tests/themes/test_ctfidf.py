"""Our c-TF-IDF equals BERTopic's ClassTfidfTransformer(reduce_frequent_words=True)."""

from __future__ import annotations

import numpy as np
import pytest

from stakeholder_nlp.themes.terms import class_tfidf


@pytest.mark.slow
def test_class_tfidf_equals_bertopics_transformer():
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    docs = ["data data analyst support", "practice time workload time", "data quality improvement cluster",
            "cluster lead cluster lead time", "nuts bolts data extraction"]
    ours, vocab = class_tfidf(docs)
    counts = CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b[\w-]{2,}\b").fit(docs)
    theirs = ClassTfidfTransformer(reduce_frequent_words=True).fit_transform(counts.transform(docs)).toarray()
    assert list(vocab) == list(counts.get_feature_names_out())
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
