"""A folder of parquet or CSV shards read as one corpus: the rows of each file in name order.

This is the row order :func:`stakeholder_nlp.embedding.shards.embed_shards` writes vectors in, so a folder
embedded on a cluster (``stakeholder-nlp embed FOLDER --ray ADDRESS --out v.npy``) is analysed with
``stakeholder-nlp analyze FOLDER --embeddings v.npy``. Each shard is read by the loader of its type, so an
error names the shard file and its row. Quote ids must be unique across the folder: a shard without a
quote-id column gets ids made from its file name and row (``part-0003/q00017``), so files that each number
their rows from 1 do not collide; given ids that repeat across shards are an error naming both files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CorpusFormatError
from .schema import QUOTE_ID, Corpus

__all__ = ["SHARD_SUFFIXES", "read_shards", "shard_paths"]

#: the file types a shard may be (one folder holds one type)
SHARD_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv")


def shard_paths(path: str | Path) -> list[Path]:
    """The shards of ``path``: a folder's parquet or CSV files in name order, or the one file ``path`` is."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a shard file nor a folder of shards")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SHARD_SUFFIXES)
    if not files:
        raise CorpusFormatError(f"holds no shard files; expected files ending in {', '.join(SHARD_SUFFIXES)}",
                                path=str(path))
    kinds = {"parquet" if p.suffix.lower() in (".parquet", ".pq") else p.suffix.lower() for p in files}
    if len(kinds) > 1:
        raise CorpusFormatError(f"mixes shard types {sorted(kinds)}; expected one type per folder", path=str(path))
    return files


def _columns(path: Path) -> list[str]:
    """The column names of a shard, read from its schema or header only."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except (ValueError, OSError) as exc:
            raise CorpusFormatError(f"is not a readable parquet file ({exc})", path=str(path)) from None
    import csv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ","), [])


def read_shards(folder: str | Path, **kwargs: Any) -> Corpus:
    """The shards of ``folder`` (:func:`shard_paths`) as one corpus;
    ``kwargs`` go to each shard's loader (column names, ``on_error``)."""
    from .io import LOADERS

    folder = Path(folder)
    paths = shard_paths(folder)
    id_col = kwargs.get("id_col", QUOTE_ID)
    frames, skipped, warnings, origin = [], [], [], {}
    for p in paths:
        corpus = LOADERS[p.suffix.lower()](p, **kwargs)
        q = corpus.quotes
        if id_col not in _columns(p):  # ids the loader made from row numbers: unique within this file only
            q = q.assign(**{QUOTE_ID: p.stem + "/" + q[QUOTE_ID].astype(str)})
        for qid in q[QUOTE_ID].tolist():
            first = origin.setdefault(qid, p.name)
            if first != p.name:
                raise CorpusFormatError(f"duplicate quote_id {qid!r}: also in shard {first}; quote ids must be "
                                        "unique across the folder's shards", path=str(p), field=QUOTE_ID)
        frames.append(q)
        skipped += corpus.skipped
        warnings += [w for w in corpus.warnings if w not in warnings]
    quotes = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return Corpus(quotes, str(folder), tuple(skipped), tuple(warnings))
