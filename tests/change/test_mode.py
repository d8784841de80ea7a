"""The quote-mode classifier, its rule baseline, the labelled sentences and the shipped weights."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stakeholder_nlp.change.mode import (
    FEATURE_NAMES,
    MODES,
    QuoteModeClassifier,
    lexical_features,
    load_mode_classifier,
    rule_from_features,
)
from stakeholder_nlp.embedding import HashingEmbedder, embed_texts
from stakeholder_nlp.errors import ModelError

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = ROOT / "data" / "quote_modes" / "sentences.csv"
WEIGHTS = ROOT / "models" / "quote_mode" / "weights.json"

#: not in data/quote_modes: obvious cases of each mode
OBVIOUS = [
    ("The new rota will probably make things worse next winter.", "anticipation"),
    ("I hope the funding carries on after March.", "anticipation"),
    ("We never received the audit results we asked for.", "experience"),
    ("The practice nurses have run the diabetes clinic since 2017.", "experience"),
    ("Every practice must have a named lead for prescribing.", "prescription"),
    ("There needs to be proper backfill for the locums.", "prescription"),
    ("Sorry, could you say that again?", "other"),
    ("How long have you been in post?", "other"),
]


def _split_of(sentence_id: str) -> str:
    spec = importlib.util.spec_from_file_location("train_quote_mode", ROOT / "scripts" / "train_quote_mode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.split_of(sentence_id)


@pytest.fixture(scope="session")
def classifier() -> QuoteModeClassifier:
    return load_mode_classifier()


@pytest.fixture(scope="session")
def sentences() -> list[dict]:
    with SENTENCES.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def nlp():
    from stakeholder_nlp.change.mode import load_nlp

    return load_nlp()


def _fake_vectors(classifier, n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, classifier.embedding_dim_)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- the data --------------------------------------------------------------------------------------------

def test_sentences_split_is_the_hash_split_and_test_is_large_enough(sentences):
    assert {r["mode"] for r in sentences} == set(MODES)
    assert all(r["split"] == _split_of(r["sentence_id"]) for r in sentences)
    test = [r for r in sentences if r["split"] == "test"]
    assert len(test) >= 150
    assert {r["mode"] for r in test} == set(MODES)


def test_no_text_is_shared_between_test_and_the_fitted_splits(sentences):
    def norm(t: str) -> str:
        return " ".join(t.lower().split()).strip(" .?!")

    test = {norm(r["text"]) for r in sentences if r["split"] == "test"}
    fitted = {norm(r["text"]) for r in sentences if r["split"] != "test"}
    assert not test & fitted
    assert len({r["sentence_id"] for r in sentences}) == len(sentences)


def test_shipped_weights_are_json_trained_on_the_committed_sentences():
    spec = json.loads(WEIGHTS.read_text())
    assert spec["classes"] == list(MODES)
    assert spec["training_data"]["sha256"] == hashlib.sha256(SENTENCES.read_bytes()).hexdigest()
    assert spec["training_data"]["fitted_on"] == "train + dev"
    assert not list(WEIGHTS.parent.glob("*.pkl")) and not list(WEIGHTS.parent.glob("*.pickle"))


# -- loading and checks ----------------------------------------------------------------------------------

def test_shipped_model_loads(classifier):
    assert classifier.classes_ == MODES
    assert classifier.coef_.shape == (4, classifier.embedding_dim_ + len(FEATURE_NAMES) + len(MODES))
    assert classifier.model_id_.startswith(classifier.base_model_ + "/")
    assert classifier.features_ == "lexical"


def test_refuses_embeddings_of_another_model(classifier):
    texts = ["We never got the data.", "Clusters will struggle."]
    wrong = embed_texts(texts, HashingEmbedder(dim=classifier.embedding_dim_))
    with pytest.raises(ModelError, match="trained on embeddings of model"):
        classifier.predict(texts, wrong)
    with pytest.raises(ModelError, match="trained on embeddings of model"):
        classifier.predict(texts, wrong.vectors, model_id="0123456789abcdef/onnx-int8")


def test_refuses_embeddings_without_a_model_id_or_of_the_wrong_shape(classifier):
    texts = ["We never got the data.", "Clusters will struggle."]
    with pytest.raises(ModelError, match="model is unknown"):
        classifier.predict(texts, _fake_vectors(classifier, 2))
    with pytest.raises(ModelError, match="expected \\(2, "):
        classifier.predict(texts, _fake_vectors(classifier, 3), model_id=classifier.model_id_)


def test_accepts_another_variant_of_the_base_model(classifier):
    other_variant = classifier.base_model_ + "/openvino-fp32-test"
    out = classifier.predict(["Clusters will struggle."], _fake_vectors(classifier, 1), model_id=other_variant)
    assert out[0] in MODES


def test_missing_model_folder_says_how_to_build_it(tmp_path):
    with pytest.raises(ModelError, match="train_quote_mode.py"):
        QuoteModeClassifier(tmp_path)


# -- predictions -----------------------------------------------------------------------------------------

def test_predictions_are_valid_and_probabilities_sum_to_one(classifier):
    texts = [t for t, _ in OBVIOUS] + ["", "Yes. I think we are going to need analysts. Thanks."]
    vec = _fake_vectors(classifier, len(texts))
    p = classifier.predict_proba(texts, vec, model_id=classifier.model_id_)
    assert p.shape == (len(texts), 4)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert set(classifier.predict(texts, vec, model_id=classifier.model_id_)) <= set(MODES)
    assert classifier.predict([], np.zeros((0, classifier.embedding_dim_)), model_id=classifier.model_id_) == []


def test_predictions_do_not_depend_on_input_order(classifier):
    texts = [t for t, _ in OBVIOUS] + ["We hoped it would work. It did not, in the end.",
                                       "Okay. The board should fund it. Next question?"]
    vec = _fake_vectors(classifier, len(texts), seed=3)
    p = classifier.predict_proba(texts, vec, model_id=classifier.model_id_)
    perm = np.random.default_rng(1).permutation(len(texts))
    q = classifier.predict_proba([texts[i] for i in perm], vec[perm], model_id=classifier.model_id_)
    np.testing.assert_allclose(q, p[perm], rtol=0, atol=1e-12)


def test_lexical_rule_handles_obvious_cases():
    for text, mode in OBVIOUS:
        assert rule_from_features(lexical_features(text)) == mode, text


@pytest.mark.slow
def test_classifier_gets_obvious_cases_right_with_the_real_embedder(classifier, fast_embedder):
    texts = [t for t, _ in OBVIOUS]
    res = embed_texts(texts, fast_embedder)
    assert classifier.predict(texts, res) == [m for _, m in OBVIOUS]
    quote = ["Yes, yes. I think in five years we're going to need twice the analysts we have."]
    assert classifier.predict(quote, embed_texts(quote, fast_embedder), embed=fast_embedder) == ["anticipation"]


@pytest.mark.slow
def test_rule_baseline_handles_obvious_cases(nlp):
    from stakeholder_nlp.change.mode import rule_mode, rule_modes

    assert rule_modes([t for t, _ in OBVIOUS], nlp=nlp) == [m for _, m in OBVIOUS]
    assert rule_mode(nlp("It should be ready next month.")) == "anticipation"
    assert rule_mode(nlp("They should have asked the practices first.")) == "prescription"
    assert rule_mode(nlp("We hoped the board would listen.")) == "experience"
    assert rule_mode(nlp("Give the clusters a budget.")) == "prescription"


def test_importing_the_module_loads_neither_spacy_nor_torch():
    code = ("import sys, stakeholder_nlp.change.mode; "
            "print(any(m in sys.modules for m in ('spacy', 'torch', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sentences_scored_in_blocks_give_the_same_probabilities(classifier, monkeypatch, tmp_path):
    import stakeholder_nlp.change.mode as mode

    texts = [t for t, _ in OBVIOUS] + ["We hoped it would work. It did not, in the end.",
                                       "Okay. The board should fund it. Next question?", "Fine."]
    vec = _fake_vectors(classifier, len(texts), seed=5)

    class Sentences:  # each sentence its own vector (the ``embed`` path), deterministic by text
        model_id = classifier.model_id_

        def __call__(self, sentences):
            seed = [int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) for s in sentences]
            return np.stack([_fake_vectors(classifier, 1, seed=k)[0] for k in seed])

    whole = classifier.predict_proba(texts, vec, model_id=classifier.model_id_)
    whole_own = classifier.predict_proba(texts, vec, model_id=classifier.model_id_, embed=Sentences())
    np.save(tmp_path / "v.npy", vec)
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")  # a memory map is read block by block, not copied
    monkeypatch.setattr(mode, "UNIT_BLOCK", 3)
    np.testing.assert_allclose(classifier.predict_proba(texts, mapped, model_id=classifier.model_id_), whole,
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(classifier.predict_proba(texts, vec, model_id=classifier.model_id_,
                                                        embed=Sentences()), whole_own, rtol=0, atol=1e-12)
    assert not np.allclose(whole, whole_own)  # the embed path did replace the sentences' vectors
