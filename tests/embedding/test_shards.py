"""A folder of shards: embedded shard by shard into one ``.npy`` whose rows and record are those of one file
holding every row, and read back as one corpus in the same row order (``analyze FOLDER --embeddings``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stakeholder_nlp.cli import app
from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.corpus.shards import shard_paths
from stakeholder_nlp.embedding.shards import embed_shards
from stakeholder_nlp.embedding.stream import embed_file, load_embeddings, meta_path
from stakeholder_nlp.errors import CorpusFormatError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "gp_clusters" / "quotes.jsonl"


def _frame() -> pd.DataFrame:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    return pd.DataFrame({"text": [r["text"] for r in rows], "wave": [str(r["wave"]) for r in rows],
                         "speaker": [r["speaker"] for r in rows]})


def write_shards(folder: Path, df: pd.DataFrame, parts: int = 3, suffix: str = ".parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, chunk in enumerate(np.array_split(np.arange(len(df)), parts)):
        part = df.iloc[chunk]
        path = folder / f"part-{k:04d}{suffix}"
        part.to_parquet(path, index=False) if suffix == ".parquet" else part.to_csv(path, index=False)
    return folder


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_shards_give_the_vectors_and_record_of_one_file(tmp_path, fast_embedder, suffix):
    df = _frame()
    whole = tmp_path / f"all{suffix}"
    df.to_parquet(whole, index=False) if suffix == ".parquet" else df.to_csv(whole, index=False)
    folder = write_shards(tmp_path / "shards", df, suffix=suffix)
    one = embed_file(whole, tmp_path / "one.npy", fast_embedder)
    sharded = embed_shards(folder, tmp_path / "sharded.npy", fast_embedder, block_rows=40)
    assert sharded.rows == one.rows == len(df)
    assert np.load(tmp_path / "sharded.npy").tobytes() == np.load(tmp_path / "one.npy").tobytes()
    a = json.loads(meta_path(tmp_path / "one.npy").read_text())
    b = json.loads(meta_path(tmp_path / "sharded.npy").read_text())
    assert a["texts_sha256"] == b["texts_sha256"] and a["rows"] == b["rows"] and a["model_id"] == b["model_id"]
    corpus = load_corpus(folder)  # the folder as one corpus, rows in the shards' name order
    assert corpus.texts == df["text"].tolist()
    vectors = load_embeddings(tmp_path / "sharded.npy", model_id=fast_embedder.model_id, texts=corpus.texts,
                              dim=fast_embedder.dim)
    assert vectors.shape == (len(df), fast_embedder.dim)


def test_shard_corpus_ids_are_unique_across_files(tmp_path):
    df = _frame().iloc[:30]
    corpus = load_corpus(write_shards(tmp_path / "s", df))  # no quote_id column: ids made per file
    ids = corpus.quotes["quote_id"].tolist()
    assert len(set(ids)) == len(ids) == 30
    assert ids[0].startswith("part-0000/") and ids[-1].startswith("part-0002/")
    given = df.assign(quote_id=[f"c{i % 10}" for i in range(30)])  # the same ids in every shard
    with pytest.raises(CorpusFormatError, match="duplicate quote_id 'c0': also in shard part-0000.parquet"):
        load_corpus(write_shards(tmp_path / "dup", given))


def test_a_shard_folder_must_hold_one_type_of_shard(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusFormatError, match="holds no shard files"):
        shard_paths(tmp_path / "empty")
    mixed = write_shards(tmp_path / "mixed", _frame().iloc[:20], parts=2)
    _frame().iloc[:5].to_csv(mixed / "extra.csv", index=False)
    with pytest.raises(CorpusFormatError, match="mixes shard types"):
        load_corpus(mixed)


def test_cli_embeds_a_folder_of_shards(tmp_path):
    folder = write_shards(tmp_path / "shards", _frame())
    out = tmp_path / "v.npy"
    res = CliRunner().invoke(app, ["embed", str(folder), "--out", str(out), "--no-progress",
                                   "--cache", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    assert f"{len(_frame())} rows -> {out}" in res.output and "shards embedded here" in res.output
    assert np.load(out).shape[0] == len(_frame())
