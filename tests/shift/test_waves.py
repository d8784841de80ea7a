"""The waves keep the researcher's order; outputs do not depend on the order of the input rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.corpus import from_dataframe
from stakeholder_nlp.corpus.waves import infer_wave_order, strata_wave_table
from stakeholder_nlp.errors import TooFewWavesError
from stakeholder_nlp.sentiment import sentiment_levels, sentiment_shift
from stakeholder_nlp.shift import prevalence_levels, prevalence_shift


def test_text_waves_keep_first_appearance_not_the_alphabet():
    order = infer_wave_order(["pre", "pre", "post", "pre"])
    assert order.levels == ("pre", "post") and order.inferred and "first appearance" in order.describe()


def test_numeric_and_date_waves_are_in_numeric_and_date_order():
    assert infer_wave_order([2021, 2016, 2019]).levels == (2016, 2019, 2021)
    assert infer_wave_order([dt.date(2020, 5, 1), dt.date(2019, 1, 1)]).levels == (dt.date(2019, 1, 1),
                                                                                   dt.date(2020, 5, 1))
    assert infer_wave_order(["2020-03-01", "2019-12-01"]).levels == ("2019-12-01", "2020-03-01")


def test_ordered_categorical_keeps_its_order_through_the_loader():
    cat = pd.Categorical(["post", "pre", "late", "post"], categories=["pre", "post", "late"], ordered=True)
    assert infer_wave_order(pd.Series(cat)).levels == ("pre", "post", "late")
    corpus = from_dataframe(pd.DataFrame({"text": list("abcd"), "wave": cat, "speaker": list("wxyz")}))
    assert corpus.waves == ["pre", "post", "late"]


def test_override_and_baseline():
    assert infer_wave_order(["a", "b", "c"], ["c", "a", "b"]).levels == ("c", "a", "b")
    order = infer_wave_order([2016, 2021], baseline="2021")  # a CLI string names the integer wave
    assert order.levels == (2021, 2016) and order.basis == "given"
    with pytest.raises(TooFewWavesError, match="leaves out"):
        infer_wave_order(["a", "b", "c"], ["a", "b"])
    with pytest.raises(TooFewWavesError, match="not in the corpus"):
        infer_wave_order(["a", "b"], baseline="z")


def test_pre_post_shift_is_post_minus_pre():
    df = pd.DataFrame({"wave": ["pre"] * 40 + ["post"] * 40, "speaker": [f"s{i % 16}" for i in range(80)],
                       "theme": [i % 8 == 0 for i in range(40)] + [i % 2 == 0 for i in range(40)]})
    row = prevalence_shift(df[["theme"]], df["wave"], df["speaker"], n_boot=99).iloc[0]
    assert (row["wave_a"], row["wave_b"]) == ("pre", "post") and row["share_diff"] > 0
    row = prevalence_shift(df[["theme"]], df["wave"], df["speaker"], n_boot=99,
                           wave_order=["post", "pre"]).iloc[0]
    assert (row["wave_a"], row["wave_b"]) == ("post", "pre") and row["share_diff"] < 0


def _corpus(seed=0):
    rng = np.random.default_rng(seed)
    n = 150
    df = pd.DataFrame({"wave": rng.choice([2016, 2021], n),
                       "speaker": [None if rng.random() < 0.2 else f"s{rng.integers(0, 9)}" for _ in range(n)],
                       "site": rng.choice(["a", "b"], n)})
    m = pd.DataFrame({f"t{k}": rng.random(n) < p for k, p in enumerate((0.1, 0.3, 0.5))})
    return df, m, rng.normal(size=n)


def test_outputs_do_not_depend_on_the_row_order():
    df, m, scores = _corpus()
    perm = np.random.default_rng(1).permutation(len(df))

    def run(d, mm, sc):
        sh = prevalence_shift(mm, d["wave"].tolist(), d["speaker"].tolist(), strata=d[["site"]], n_boot=199)
        lv = prevalence_levels(mm, d["wave"].tolist(), d["speaker"].tolist(), n_boot=199)
        ss = sentiment_shift(mm, sc, d["wave"].tolist(), d["speaker"].tolist())
        labels = np.where(sc > 0.2, "positive", np.where(sc < -0.2, "negative", "neutral"))
        sl = sentiment_levels(mm, sc, labels, d["wave"].tolist(), d["speaker"].tolist())
        return sh, lv, ss, sl

    first = run(df, m, scores)
    second = run(df.iloc[perm].reset_index(drop=True), m.iloc[perm].reset_index(drop=True), scores[perm])
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_strata_by_wave_table_counts_speakers_and_quotes():
    df, _, _ = _corpus()
    table = strata_wave_table(df.assign(text="x"), "site")
    assert list(table.columns) == [2016, 2021] and table.loc["a", 2016].endswith(")")


def test_drift_does_not_depend_on_the_row_order():
    from stakeholder_nlp.shift import content_drift

    df, m, _ = _corpus(2)
    emb = np.random.default_rng(3).normal(size=(len(df), 8))
    lemmas = [f"w{i % 7} w{i % 3}" for i in range(len(df))]
    perm = np.random.default_rng(4).permutation(len(df))
    first = content_drift(m, emb, df["wave"].tolist(), df["speaker"].tolist(), lemmas, n_perm=99)
    second = content_drift(m.iloc[perm].reset_index(drop=True), emb[perm], df["wave"].iloc[perm].tolist(),
                           df["speaker"].iloc[perm].tolist(), lemmas, n_perm=99)
    cols = ["theme_id", "n_a", "n_b", "drift", "drift_p"]
    pd.testing.assert_frame_equal(first[cols], second[cols], check_exact=False, rtol=1e-12)
