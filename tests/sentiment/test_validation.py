"""The labelling round trip, agreement with intervals, and adaptation measured only on held-out quotes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.errors import CorpusFormatError, NotFittedError
from stakeholder_nlp.sentiment.apply import score_corpus
from stakeholder_nlp.sentiment.finetuned import CLASSES, FineTunedScorer
from stakeholder_nlp.sentiment.validation import (
    LABEL_SHEET_COLUMNS,
    VALIDATION_COLUMNS,
    AdaptedHead,
    agreement,
    cross_validated_predictions,
    read_labels,
    sample_for_labelling,
    validate_sentiment,
    write_label_sheet,
)


class FakeScorer(FineTunedScorer):
    """Deterministic stand-in for the ONNX model: the logits read the words 'good'/'bad' weakly, the
    features carry the hidden word 'zest' (positive) / 'gloom' (negative) that only adaptation can learn."""

    name = "fake"

    def __init__(self) -> None:  # no model files
        pass

    def _run(self, texts):
        logits = np.zeros((len(texts), 3), np.float32)
        feats = np.zeros((len(texts), 8), np.float32)
        for i, t in enumerate(texts):
            words = t.lower().split()
            logits[i] = [0.5 * words.count("bad"), 0.3, 0.5 * words.count("good")]
            h = np.frombuffer(hashlib.sha256(t.encode()).digest()[:6], np.uint8) / 255.0
            feats[i, :6] = h
            feats[i, 6] = float("zest" in words)
            feats[i, 7] = float("gloom" in words)
        return logits, feats


def _quotes(n=90, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        lab = CLASSES[i % 3]
        word = {"negative": "gloom", "neutral": "plain", "positive": "zest"}[lab]
        rows.append({"quote_id": f"q{i:03d}", "wave": 2016 if i % 2 else 2021, "speaker": f"s{i % 15}",
                     "theme": f"t{(i // 2) % 4}", "text": f"the {word} of practice {rng.integers(1e6)} today.",
                     "truth": lab})
    return pd.DataFrame(rows)


def test_sample_is_stratified_by_wave_and_theme_and_has_empty_labels():
    q = _quotes()
    sheet = sample_for_labelling(q, 16, seed=1)
    assert list(sheet.columns) == list(LABEL_SHEET_COLUMNS)
    assert len(sheet) == 16 and sheet["quote_id"].is_unique
    assert sheet.groupby(["wave", "theme"]).ngroups == 8  # every wave x theme cell is represented
    assert (sheet["label"] == "").all()
    again = sample_for_labelling(q, 16, seed=1)
    pd.testing.assert_frame_equal(sheet, again)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_labelling_round_trip(tmp_path, suffix):
    q = _quotes()
    sheet = sample_for_labelling(q, 12, seed=0)
    path = write_label_sheet(sheet, tmp_path / f"labels{suffix}")
    filled = pd.read_excel(path, dtype=str) if suffix == ".xlsx" else pd.read_csv(path, dtype=str)
    truth = q.set_index("quote_id")["truth"]
    aliases = {"negative": "-1", "neutral": "Neutral", "positive": "pos"}
    filled["label"] = [aliases[truth[i]] for i in filled["quote_id"]]
    filled.loc[0, "label"] = ""  # a skipped row
    if suffix == ".xlsx":
        filled.to_excel(path, index=False)
    else:
        filled.to_csv(path, index=False)
    back = read_labels(path)
    assert back.attrs["n_blank"] == 1 and len(back) == 11
    assert (back["label"] == truth[back["quote_id"]].to_numpy()).all()


def test_read_labels_names_file_row_and_field(tmp_path):
    p = tmp_path / "l.csv"
    pd.DataFrame({"quote_id": ["a", "b"], "label": ["positive", "grumpy"]}).to_csv(p, index=False)
    with pytest.raises(CorpusFormatError, match=r"l\.csv, row 3, field 'label'.*grumpy"):
        read_labels(p)
    pd.DataFrame({"quote_id": ["a", "a"], "label": ["positive", "negative"]}).to_csv(p, index=False)
    with pytest.raises(CorpusFormatError, match="labelled twice"):
        read_labels(p)
    pd.DataFrame({"id": ["a"], "label": ["positive"]}).to_csv(p, index=False)
    with pytest.raises(CorpusFormatError, match="missing column 'quote_id'"):
        read_labels(p)


def test_agreement_perfect_and_interval_contains_point():
    gold = list(CLASSES) * 10
    a = agreement(gold, gold, n_boot=200)
    assert a["macro_f1"] == 1.0 and a["weighted_kappa"] == 1.0 and a["accuracy"] == 1.0
    pred = gold[:]
    pred[0], pred[1] = "positive", "negative"
    b = agreement(gold, pred, groups=[i % 7 for i in range(30)], n_boot=300)
    for m in ("macro_f1", "weighted_kappa", "accuracy"):
        assert b[f"{m}_lo"] <= b[m] <= b[f"{m}_hi"]
    assert b["weighted_kappa"] < 1.0 and b["n_negative"] == 10


def test_weighted_kappa_penalises_far_errors_more():
    gold = ["negative"] * 10 + ["neutral"] * 10 + ["positive"] * 10
    near = ["neutral"] * 2 + ["negative"] * 8 + gold[10:]
    far = ["positive"] * 2 + ["negative"] * 8 + gold[10:]
    assert agreement(gold, near, n_boot=10)["weighted_kappa"] > agreement(gold, far, n_boot=10)["weighted_kappa"]


def test_cross_validated_adaptation_learns_the_signal_the_default_misses():
    q = _quotes(120)
    labels = q[["quote_id"]].assign(label=q["truth"])
    v = validate_sentiment(FakeScorer(), q, labels, adapt=True, n_boot=200)
    assert list(v.table.columns) == list(VALIDATION_COLUMNS)
    default, adapted = v.table.iloc[0], v.table.iloc[1]
    assert default["macro_f1"] < 0.4 and adapted["macro_f1"] > 0.9
    assert adapted["method"].endswith("cross-validation")
    assert "adapted_cv" in v.labelled.columns and v.head is not None


def test_cross_validation_never_scores_a_quote_with_a_head_fitted_on_it():
    # features are pure noise, labels random: a head fitted on a quote would recall its label; held out it can't
    rng = np.random.default_rng(3)
    n = 90
    z = np.zeros((n, 3))
    feats = rng.normal(size=(n, 60))
    y = rng.choice(CLASSES, n)
    in_sample = AdaptedHead(penalty=1e-3).fit(z, feats, y).predict_proba(z, feats).argmax(1)
    assert np.mean(np.array(CLASSES)[in_sample] == y) > 0.9
    groups = [None if i % 30 == 0 else f"s{i % 30}" for i in range(n)]  # a missing speaker is a group too
    cv = cross_validated_predictions(z, feats, y, groups=groups, folds=5)
    assert np.mean(np.array(cv) == y) < 0.6


def test_adapted_head_refuses_use_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        AdaptedHead().predict_proba(np.zeros((1, 3)), np.zeros((1, 2)))


def test_score_corpus_says_plainly_when_not_validated_and_reports_when_it_is():
    q = _quotes(60)
    plain = score_corpus(FakeScorer(), q)
    assert not plain.validated and "not validated on this corpus" in plain.notice
    assert "sample-to-label" in plain.notice and plain.validation.empty
    assert list(plain.detail.columns[:3]) == ["quote_id", "score", "label"]
    labels = q[["quote_id"]].assign(label=q["truth"]).iloc[:45]
    checked = score_corpus(FakeScorer(), q, labels=labels, adapt=True, n_boot=100)
    assert checked.validated and checked.scorer == "fake+adapted"
    assert "cross-validation" in checked.notice and len(checked.validation) == 2
    assert np.mean(np.array(checked.labels) == q["truth"].to_numpy()) > 0.9
    with pytest.raises(ValueError, match="needs labelled quotes"):
        score_corpus(FakeScorer(), q, adapt=True)


def test_long_quote_is_scored_on_its_sentences_and_says_how():
    s = FakeScorer()
    d = s.score_quotes(["It was good good good and we were hopeful then.",
                        "It was good good good at the start of it all. Now it is bad bad bad and we are "
                        "fed up with it."])
    assert d.loc[0, "combine"] == "whole" and d.loc[0, "n_sentences"] == 1
    assert d.loc[1, "combine"] == "sentence-mean-mixed" and d.loc[1, "n_sentences"] == 2
    assert d.loc[1, "min_sentence"] < -0.5 < 0.5 < d.loc[1, "max_sentence"]


def test_quote_inputs_combine_sentences_exactly_as_the_scorer_does():
    from stakeholder_nlp.sentiment.validation import quote_inputs

    s = FakeScorer()
    texts = ["It was good good good. Then it was bad in some ways for all of the many people who were there.",
             "Bad. Bad bad bad. Good.", "plain words only", "good but bad and bad"]
    z, _ = quote_inputs(s, texts)
    d = s.score_quotes(texts)
    np.testing.assert_allclose(np.exp(z), d[["p_negative", "p_neutral", "p_positive"]].to_numpy(), atol=1e-9)
    assert [CLASSES[k] for k in z.argmax(1)] == d["label"].tolist()
