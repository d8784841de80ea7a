"""The shipped default sentiment model: offline loading, polarity, sentence-level quotes, no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stakeholder_nlp.errors import ModelError
from stakeholder_nlp.sentiment import QUOTE_SCORE_COLUMNS, FineTunedScorer, SentimentScorer, load_scorer
from stakeholder_nlp.sentiment.finetuned import split_sentences


@pytest.fixture(scope="module")
def scorer():
    return load_scorer("default")


def test_split_sentences_joins_fragments_and_cuts_run_ons():
    assert split_sentences("We tried. It failed badly in the end. Yes.") == ["We tried. It failed badly in the end. Yes."]
    assert split_sentences("It was hopeful at first, truly. Now we are all tired of it.") == [
        "It was hopeful at first, truly.", "Now we are all tired of it."]
    long = " ".join(["word"] * 100)
    pieces = split_sentences(long, max_words=40)
    assert len(pieces) == 3 and all(len(p.split()) <= 40 for p in pieces)
    assert split_sentences("") == [""]


def test_missing_model_folder_says_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="model.int8.onnx"):
        FineTunedScorer(tmp_path)


@pytest.mark.slow
def test_default_scorer_is_the_finetuned_model_and_reads_polarity(scorer):
    assert isinstance(scorer, FineTunedScorer) and isinstance(scorer, SentimentScorer)
    s = scorer.score(["The staff were kind and the care was excellent.",
                      "Nobody listened and I waited six hours in pain.",
                      "The meeting is held on the first Tuesday of each month."])
    assert s[0] > 0.4 and s[1] < -0.4 and abs(s[2]) < 0.5
    assert np.all(np.abs(scorer.score(["a", "b c", ""])) <= 1.0)


@pytest.mark.slow
def test_quote_turning_from_hope_to_complaint_is_scored_on_its_sentences(scorer):
    d = scorer.score_quotes(["At the start we were genuinely hopeful and excited about it. Now most of us feel "
                             "let down, ignored and worn out by the whole thing."])
    assert list(d.columns) == list(QUOTE_SCORE_COLUMNS)
    assert d.loc[0, "n_sentences"] == 2 and d.loc[0, "combine"].startswith("sentence-mean")
    assert d.loc[0, "min_sentence"] < 0 < d.loc[0, "max_sentence"]


NEIGHBOURS = ["I felt quite disempowered in the process.", "Great support from the team.",
              "It is what it is.", "Nobody asked us before they changed the rota again.",
              "We were told the new system would help, and in fairness some of it has."]


@pytest.mark.slow
def test_static_int8_score_depends_on_its_text_not_on_its_batch_neighbours_or_order(scorer):
    assert scorer.backend == "onnxruntime"
    alone = np.array([scorer.score([t])[0] for t in NEIGHBOURS])
    crowd = NEIGHBOURS * 3 + ["Absolutely furious about the whole shambles, " * 6]
    np.testing.assert_allclose(scorer.score(crowd)[:len(NEIGHBOURS)], alone, atol=1e-5)
    np.testing.assert_allclose(scorer.score(NEIGHBOURS[::-1])[::-1], alone, atol=1e-5)


@pytest.mark.slow
def test_openvino_reads_the_same_graph_with_canonical_shapes(scorer):
    pytest.importorskip("openvino")
    ov = FineTunedScorer(scorer.path, backend="openvino")
    together = ov.score(NEIGHBOURS * 3)[:len(NEIGHBOURS)]
    alone = np.array([ov.score([t])[0] for t in NEIGHBOURS])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_allclose(together, scorer.score(NEIGHBOURS), atol=0.2)


def test_unknown_backend_is_refused():
    with pytest.raises(ModelError, match="unknown backend"):
        FineTunedScorer(backend="tensorflow")


def test_importing_the_package_and_loading_the_scorer_imports_no_torch():
    code = ("import sys, stakeholder_nlp, stakeholder_nlp.sentiment, stakeholder_nlp.pipeline, "
            "stakeholder_nlp.sentiment.validation, stakeholder_nlp.sentiment.apply\n"
            "from stakeholder_nlp.sentiment.finetuned import default_model_dir, FineTunedScorer\n"
            "try:\n    FineTunedScorer(default_model_dir()).score(['fine'])\nexcept Exception:\n    pass\n"
            "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_logit_bias_is_added_to_every_sentence_and_read_from_the_config(scorer, tmp_path):
    import json
    import shutil

    raw = FineTunedScorer(scorer.path, logit_bias=(0.0, 0.0, 0.0))
    texts = ["The staff were kind.", "Nobody listened. We waited for hours.", "It is held on Tuesdays."]
    z0, f0 = raw.piece_outputs(texts)
    shifted = FineTunedScorer(scorer.path, logit_bias=(0.0, 4.0, 0.0))
    z1, f1 = shifted.piece_outputs(texts)
    np.testing.assert_allclose(z1 - z0, np.tile([0.0, 4.0, 0.0], (3, 1)), atol=1e-5)
    np.testing.assert_array_equal(f1, f0)
    assert (shifted.score_quotes(texts)["p_neutral"] > raw.score_quotes(texts)["p_neutral"]).all()
    for f in ("model.int8.onnx", "tokenizer.json"):
        (tmp_path / f).symlink_to(scorer.path / f)
    shutil.copy(scorer.path / "config.json", tmp_path / "config.json")
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "logit_bias": [0.0, 4.0, 0.0]}))
    np.testing.assert_array_equal(FineTunedScorer(tmp_path).logit_bias, np.float32([0.0, 4.0, 0.0]))
    with pytest.raises(ModelError, match="logit_bias"):
        FineTunedScorer(scorer.path, logit_bias=(1.0, float("nan"), 0.0))
    with pytest.raises(ModelError, match="logit_bias"):
        FineTunedScorer(scorer.path, logit_bias=(1.0, 2.0))
