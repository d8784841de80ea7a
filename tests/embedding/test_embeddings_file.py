"""`embed --out FILE.npy` then `analyze --embeddings FILE.npy`: the vectors are read (memory-mapped) instead of
embedded again, the results are those of a plain run, and a file that does not fit the corpus or the model
is refused with a message naming the file and what was expected."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stakeholder_nlp.cli import app
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.embedding.stream import TextsDigest, load_embeddings, meta_path, write_meta
from stakeholder_nlp.errors import EmbeddingsFileError
from tests.report.test_cli_analyze import fake_models  # noqa: F401  (HashingEmbedder(dim=64), VADER)

pytestmark = pytest.mark.usefixtures("fake_models")

TOPICS = ("car parking was expensive and the car park was full",
          "the staff were friendly and the nurses were kind",
          "the waiting time was long and the clinic ran late")
ARGS = ["--text-col", "comment", "--wave-col", "trust", "--id-col", "ref", "--runs", "0", "--n-boot", "50",
        "--n-topics", "3"]


@pytest.fixture()
def survey(tmp_path):
    rows = [{"ref": f"{t[-1]}{i:03d}", "comment": f"{TOPICS[(i + w * (i % 2)) % 3]} visit {i}", "trust": t}
            for w, t in enumerate(("Trust B", "Trust C")) for i in range(30)]
    rows[3]["comment"] = "N/A"  # set aside before themes: the kept rows are picked out of the file's
    rows[4]["comment"] = "  Nothing.  "
    path = tmp_path / "survey.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_analyze_from_an_embeddings_file_equals_a_plain_run(survey, tmp_path):
    runner = CliRunner()
    npy = tmp_path / "vectors.npy"
    res = runner.invoke(app, ["embed", str(survey), "--out", str(npy), "--text-col", "comment", "--no-progress"])
    assert res.exit_code == 0, res.output
    meta = json.loads(meta_path(npy).read_text())
    assert meta["rows"] == 60 and meta["dim"] == 64 and meta["model_id"] == HashingEmbedder(dim=64).model_id
    plain, given = tmp_path / "plain", tmp_path / "given"
    assert runner.invoke(app, ["analyze", str(survey), "--out", str(plain), *ARGS]).exit_code == 0
    res = runner.invoke(app, ["analyze", str(survey), "--out", str(given), "--embeddings", str(npy), *ARGS])
    assert res.exit_code == 0, res.output
    for name in ("quotes.csv", "shifts.csv", "framework_matrix.csv", "set_aside.csv"):
        assert (given / name).read_bytes() == (plain / name).read_bytes(), name


def test_a_file_that_does_not_fit_is_refused(survey, tmp_path):
    from stakeholder_nlp.corpus import load_corpus

    corpus = load_corpus(survey, text_col="comment", wave_col="trust", id_col="ref")
    texts = corpus.texts
    model = HashingEmbedder(dim=64)
    npy = tmp_path / "v.npy"
    np.save(npy, model.encode(texts))
    with pytest.raises(EmbeddingsFileError, match=r"v\.npy: no record .*v\.npy\.json"):
        load_embeddings(npy, model_id=model.model_id, texts=texts)
    write_meta(npy, model_id=model.model_id, rows=60, dim=64, texts_sha256=TextsDigest().update(texts).hexdigest())
    got = load_embeddings(npy, model_id=model.model_id, texts=texts, dim=64)
    assert isinstance(got, np.memmap) and not got.flags.writeable
    with pytest.raises(EmbeddingsFileError, match=r"v\.npy: vectors of model .*expected 'another-model'"):
        load_embeddings(npy, model_id="another-model", texts=texts)
    with pytest.raises(EmbeddingsFileError, match=r"shape \(60, 64\); expected \(59, 64\)"):
        load_embeddings(npy, model_id=model.model_id, texts=texts[:-1])
    with pytest.raises(EmbeddingsFileError, match="not this corpus's texts in this order"):
        load_embeddings(npy, model_id=model.model_id, texts=texts[1:] + texts[:1])
    with pytest.raises(FileNotFoundError, match="missing.npy does not exist"):
        load_embeddings(tmp_path / "missing.npy", model_id=model.model_id, texts=texts)
    # through the CLI: exit code 2 and the message, before any work
    meta = json.loads(meta_path(npy).read_text())
    meta_path(npy).write_text(json.dumps({**meta, "model_id": "other"}))
    res = CliRunner().invoke(app, ["analyze", str(survey), "--out", str(tmp_path / "o2"), "--embeddings", str(npy),
                                   *ARGS])
    assert res.exit_code == 2 and "vectors of model 'other'" in res.output
