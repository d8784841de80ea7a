from __future__ import annotations


def test_context_column_is_optional_and_read_as_text_or_none():
    import pandas as pd

    from stakeholder_nlp.corpus import load_corpus

    df = pd.DataFrame({"text": ["a", "b", "c"], "wave": [1, 1, 2], "context": ["around a", "", None]})
    assert load_corpus(df).contexts == ["around a", None, None]
    assert "context" not in load_corpus(df).metadata_columns
    assert load_corpus(df.drop(columns="context")).contexts == [None, None, None]
