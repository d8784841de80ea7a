"""Non-responses are set aside before themes, with the reason, and counted per wave."""

from __future__ import annotations

import pandas as pd
import pytest

from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.corpus.nonresponse import (
    SET_ASIDE_COLUMNS,
    NonResponseRules,
    detect_nonresponses,
    set_aside,
    summarise_set_aside,
)


def test_whole_answers_that_say_nothing_are_detected_but_content_is_kept():
    texts = ["N/A", "Nothing.", "nothing!!", "Did not answer", "-", "No NothIng, thank you", "No comment",
             "Nothing to improve, the staff were lovely", "Nothing could be better", "Parking was awful"]
    reasons = detect_nonresponses(texts)
    assert [bool(r) for r in reasons] == [True, True, True, True, True, True, True, False, False, False]
    assert reasons[4] == "nonresponse: punctuation only"
    assert reasons[1] == "nonresponse: nothing"


def test_min_words_sets_short_answers_aside_and_is_configurable():
    rules = NonResponseRules(min_words=3)
    assert detect_nonresponses(["Excellent", "Very good", "Staff were kind"], rules) == [
        "short: 1 word", "short: 2 words", ""]
    assert detect_nonresponses(["Excellent"]) == [""]  # default keeps one-word answers
    assert detect_nonresponses(["meh"], NonResponseRules(extra_phrases=("meh",)))[0].startswith("nonresponse")
    assert detect_nonresponses(["N/A"], NonResponseRules(enabled=False)) == [""]
    with pytest.raises(ValueError, match="min_words"):
        NonResponseRules(min_words=-1)


def test_set_aside_splits_the_corpus_and_lists_every_quote_with_its_reason():
    df = pd.DataFrame({"quote_id": list("abcdef"), "text": ["N/A", "Great care", "Nothing.", "Long wait",
                                                             "Did not answer", "Rude staff"],
                       "speaker": list("pqrstu"), "wave": [1, 1, 1, 2, 2, 2], "site": list("xyxyxy")})
    kept, table = set_aside(load_corpus(df))
    assert kept.quotes["quote_id"].tolist() == ["b", "d", "f"]
    assert kept.quotes["site"].tolist() == ["y", "y", "y"]  # metadata survives
    assert list(table.columns) == list(SET_ASIDE_COLUMNS)
    assert table["quote_id"].tolist() == ["a", "c", "e"]
    counts = summarise_set_aside(table, [1, 2])
    assert counts["total"].sum() == 3
    assert set(counts["reason"]) == {"nonresponse: n/a", "nonresponse: nothing", "nonresponse: did not answer"}
