from __future__ import annotations

import numpy as np
import pytest

from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.errors import CodebookError, NotFittedError
from stakeholder_nlp.themes import CodebookClassifier, load_codebook, parse_codebook
from tests.conftest import CODEBOOK

GOOD = """
[codebook]
name = "t"

[[theme]]
id = "data"
name = "Data"
description = "data are missing"
examples = ["no data", "data missing again"]

[[theme]]
id = "teams"
name = "Teams"
description = "the team is left out"
examples = ["nurses left out", "team excluded"]
"""


def test_shipped_codebook_has_the_two_analysis_themes():
    book = load_codebook(CODEBOOK)
    assert {"data_inadequacy", "mdt_exclusion"} <= set(book.ids)
    assert len(book.themes) >= 6
    assert all(t.examples and t.description for t in book.themes)


def test_toml_syntax_error_names_the_line():
    with pytest.raises(CodebookError, match=r"book\.toml.*line 4"):
        parse_codebook('[codebook]\nname = "x"\n\nid = = 3\n', path="book.toml")


def test_missing_field_names_the_theme_line():
    text = GOOD.replace('description = "the team is left out"\n', "")
    with pytest.raises(CodebookError, match=r"line 11 \(theme #2\): missing field 'description'"):
        parse_codebook(text, path="book.toml")


def test_duplicate_id_is_refused():
    with pytest.raises(CodebookError, match="duplicate theme id 'data'"):
        parse_codebook(GOOD.replace('id = "teams"', 'id = "data"'))


def test_bad_examples_are_refused():
    with pytest.raises(CodebookError, match="examples"):
        parse_codebook(GOOD.replace('examples = ["no data", "data missing again"]', "examples = []"))


def test_no_themes_is_refused():
    with pytest.raises(CodebookError, match=r"no \[\[theme\]\]"):
        parse_codebook('[codebook]\nname = "x"\n')


def test_multi_label_assignment_with_scores_and_uncoded():
    book = parse_codebook(GOOD)
    emb = HashingEmbedder(dim=512)
    quotes = ["no data and team excluded", "data missing again today", "sunny weather today"]
    clf = CodebookClassifier(book, emb, threshold=0.15, margin=1.0).fit()
    x = emb.encode(quotes)
    table = clf.assignments(x)
    carried = {q: set(table[table.quote_index == q].theme_id) for q in range(3)}
    assert carried[0] == {"data", "teams"}
    assert carried[1] == {"data"}
    assert carried[2] == set()
    assert (table["score"] >= 0.15).all()


def test_margin_keeps_only_near_best_themes():
    book = parse_codebook(GOOD)
    emb = HashingEmbedder(dim=512)
    x = emb.encode(["data missing again and team"])
    wide = CodebookClassifier(book, emb, threshold=0.0, margin=1.0).fit().indicator(x)
    narrow = CodebookClassifier(book, emb, threshold=0.0, margin=0.0).fit().indicator(x)
    assert wide.values.sum() == 2 and narrow.values.sum() == 1


def test_threshold_is_calibrated_on_the_codebook():
    clf = CodebookClassifier(parse_codebook(GOOD), HashingEmbedder(dim=512)).fit()
    assert 0.0 < clf.threshold_ < 1.0


def test_unfitted_classifier_says_so():
    with pytest.raises(NotFittedError, match="not fitted"):
        CodebookClassifier(parse_codebook(GOOD), HashingEmbedder()).scores(np.zeros((1, 256)))
