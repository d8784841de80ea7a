"""The static embedder distilled from MiniLM (models/static_minilm/): a table lookup, cheap to test."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from stakeholder_nlp.embedding import Embedder, load_embedder
from stakeholder_nlp.embedding.static import StaticEmbedder, default_static_path
from stakeholder_nlp.errors import ModelError

TEXTS = ["The nurse was kind and explained everything.", "Waiting times at the GP were far too long.",
         "No.", "", "   ", "☃☃☃", "parking " * 700, "Staff were rude; the food was cold.",
         "Thank you", "The multidisciplinary team was left out of the cluster."]


@pytest.fixture(scope="module")
def static():
    return load_embedder("static")


def test_static_loads_from_the_shipped_folder_and_satisfies_the_protocol(static):
    assert default_static_path().name == "static_minilm"
    assert (default_static_path() / "MODEL_CARD.md").is_file()
    assert isinstance(static, Embedder)
    assert isinstance(static, StaticEmbedder)
    assert static.dim == 256


def test_static_model_id_is_distinct_from_minilm(static):
    from stakeholder_nlp.embedding.base import default_model_path, model_fingerprint

    minilm = model_fingerprint(default_model_path())[:16]
    assert static.model_id.startswith("static-")
    assert static.model_id.split("/")[0] != minilm
    assert minilm not in static.model_id


def test_static_rows_are_unit_norm_float32_in_input_order(static):
    x = static.encode(TEXTS)
    assert x.shape == (len(TEXTS), 256) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    one = np.stack([static.encode([t])[0] for t in TEXTS])
    np.testing.assert_array_equal(x, one)


def test_static_is_deterministic_across_instances(static):
    again = StaticEmbedder(default_static_path())
    np.testing.assert_array_equal(static.encode(TEXTS), again.encode(TEXTS))
    assert again.model_id == static.model_id


def test_static_vectors_do_not_depend_on_batch_size_or_block(static):
    base = static.encode(TEXTS, batch_size=1024)
    np.testing.assert_array_equal(static.encode(TEXTS, batch_size=1), base)
    small = StaticEmbedder(default_static_path())
    small.block = 3  # texts split over several tokenizer calls, an empty text at a block's end
    np.testing.assert_array_equal(small.encode(TEXTS), base)


def test_static_empty_input_gives_an_empty_matrix(static):
    x = static.encode([])
    assert x.shape == (0, 256) and x.dtype == np.float32


def test_static_text_without_known_pieces_gets_the_unknown_row(static):
    x = static.encode(["", "   ", "☃☃☃"])
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[0], x[2])


def test_static_similar_texts_are_closer_than_unrelated_ones(static):
    a, b, c = static.encode(["The nurses were very kind.", "Staff were caring and kind.",
                             "The car park charges are too high."])
    assert a @ b > a @ c


def test_static_pickles_as_its_folder(static):
    clone = pickle.loads(pickle.dumps(static))
    np.testing.assert_array_equal(clone.encode(TEXTS[:3]), static.encode(TEXTS[:3]))


def test_static_missing_folder_says_what_is_expected(tmp_path):
    with pytest.raises(ModelError, match="model.safetensors"):
        StaticEmbedder(tmp_path)


def test_static_backend_does_not_import_torch():
    code = ("import sys; from stakeholder_nlp.embedding import load_embedder; "
            "load_embedder('static').encode(['hello']); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_analyze_with_static_backend_runs_and_says_quote_modes_are_not_classified(tmp_path):
    """End to end on the built-in corpus: every file written, the mode column empty, the notice on stderr
    and in run.json (the classifier was trained on MiniLM vectors)."""
    import json
    from pathlib import Path

    import pandas as pd

    corpus = Path(__file__).resolve().parents[2] / "corpus" / "gp_clusters"
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).parent / "stakeholder-nlp"), "analyze", str(corpus / "quotes.jsonl"),
           "--out", str(out), "--codebook", str(corpus / "codebook.toml"), "--backend", "static", "--runs", "0", "--n-boot", "200",
           "--cache", str(tmp_path / "cache")]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Quote modes were not classified" in res.stderr and "static-" in res.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["model_id"].startswith("static-")
    quotes = pd.read_csv(out / "quotes.csv", keep_default_na=False)
    assert (quotes["mode"] == "").all()
    assert quotes["sentiment"].notna().all()
