"""Embed a large CSV or parquet file without holding its texts in memory.

Rows are read in blocks, embedded through :func:`~.engine.embed_texts` (so the cache and dedup apply)
and written into a ``.npy`` file opened as a memory map: row ``i`` of the output is the vector of row
``i`` of the input. A progress bar (``progress=True``) shows rows/s and the ETA.

The ``.npy`` is written to a temporary file beside ``out`` whose space is reserved up front
(``posix_fallocate``: a full disk is an :class:`~stakeholder_nlp.errors.OutputError` before any work, not
a crash mid-way), and renamed to ``out`` only when every row is written: a killed or failed run never
leaves a full-size file of zeros at ``out``.

Beside it, ``<out>.json`` (:func:`meta_path`) records the model id, the shape and a digest of the texts in
row order; :func:`load_embeddings` opens the ``.npy`` as a read-only memory map for ``analyze
--embeddings`` and checks all three against the corpus and the embedder, so a file from another model,
another file or another row order is an :class:`~stakeholder_nlp.errors.EmbeddingsFileError`, never a
silently wrong analysis.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CorpusFormatError, EmbeddingsFileError, OutputError
from .base import Embedder
from .cache import EmbeddingCache
from .engine import embed_texts


@dataclass(frozen=True, slots=True)
class StreamResult:
    out: Path
    rows: int
    dim: int
    n_embedded: int
    n_cached: int
    seconds: float


def _blocks(path: Path, text_col: str, block_rows: int) -> Iterator[list[str]]:
    """Blocks of texts; a file the readers reject is a :class:`CorpusFormatError` naming it."""
    try:
        yield from _raw_blocks(path, text_col, block_rows)
    except CorpusFormatError:
        raise
    except (ValueError, OSError) as exc:  # pandas ParserError/EmptyDataError, UnicodeDecodeError, ArrowInvalid
        if isinstance(exc, FileNotFoundError):
            raise
        raise CorpusFormatError(f"cannot be read ({type(exc).__name__}: {exc})", path=str(path)) from None


def _raw_blocks(path: Path, text_col: str, block_rows: int) -> Iterator[list[str]]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        import pandas as pd

        reader = pd.read_csv(path, usecols=lambda c: c == text_col, dtype=str, chunksize=block_rows,
                             keep_default_na=False, sep="\t" if suffix == ".tsv" else ",")
        for block in reader:
            if text_col not in block.columns:
                raise CorpusFormatError(f"missing column {text_col!r}", path=str(path), field=text_col)
            yield block[text_col].tolist()
    elif suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        if text_col not in pf.schema_arrow.names:
            raise CorpusFormatError(f"missing column {text_col!r}; found {pf.schema_arrow.names}",
                                    path=str(path), field=text_col)
        for batch in pf.iter_batches(batch_size=block_rows, columns=[text_col]):
            yield ["" if t is None else str(t) for t in batch.column(0).to_pylist()]
    else:
        raise CorpusFormatError(f"unknown file type {suffix!r}; expected .csv or .parquet", path=str(path))


class TextsDigest:
    """sha256 of texts in order (each stripped, as the corpus loader stores them, and length-prefixed)."""

    def __init__(self) -> None:
        import hashlib

        self._h = hashlib.sha256()

    def update(self, texts) -> TextsDigest:
        for t in texts:
            b = str(t).strip().encode("utf-8")
            self._h.update(len(b).to_bytes(8, "little"))
            self._h.update(b)
        return self

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def meta_path(npy: str | Path) -> Path:
    """The record written beside an embeddings ``.npy``: ``vectors.npy`` -> ``vectors.npy.json``."""
    npy = Path(npy)
    return npy.with_name(npy.name + ".json")


def write_meta(npy: str | Path, *, model_id: str, rows: int, dim: int, texts_sha256: str,
               source: str | None = None) -> Path:
    import json

    path = meta_path(npy)
    record = {"model_id": model_id, "rows": rows, "dim": dim, "texts_sha256": texts_sha256, "source": source,
              "dtype": "float32", "order": "row i is the vector of input row i"}
    with _atomic(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def load_embeddings(path: str | Path, *, model_id: str, texts, dim: int | None = None) -> np.ndarray:
    """The vectors of ``path`` (a ``.npy`` from ``stakeholder-nlp embed``), as a read-only memory map, after
    checking that they are ``model_id``'s vectors of ``texts`` in this order (the record beside the file,
    :func:`meta_path`) and of the right shape."""
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"embeddings file {path} does not exist; write it with "
                                f"`stakeholder-nlp embed CORPUS --out {path}`")
    meta = meta_path(path)
    if not meta.is_file():
        raise EmbeddingsFileError(f"{path}: no record of its model and texts beside it ({meta.name}); expected "
                                  f"the {meta.name} that `stakeholder-nlp embed` writes with the .npy")
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
        vectors = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise EmbeddingsFileError(f"{path}: cannot be read as an embeddings .npy with its record ({exc})") from None
    n = len(texts)
    want_dim = dim if dim is not None else record.get("dim")
    if vectors.ndim != 2 or vectors.shape[0] != n or (want_dim is not None and vectors.shape[1] != want_dim):
        raise EmbeddingsFileError(f"{path}: holds an array of shape {vectors.shape}; expected ({n}, "
                                  f"{want_dim if want_dim is not None else 'dim'}): one row per quote of the corpus, "
                                  "in its order")
    if vectors.dtype != np.float32:
        raise EmbeddingsFileError(f"{path}: holds {vectors.dtype} values; expected float32")
    if record.get("model_id") != model_id:
        raise EmbeddingsFileError(f"{path}: vectors of model {record.get('model_id')!r}; expected {model_id!r} "
                                  "(the --backend of this run): embed again with the same --backend")
    if record.get("texts_sha256") != TextsDigest().update(texts).hexdigest():
        raise EmbeddingsFileError(f"{path}: its rows are not this corpus's texts in this order (the digest "
                                  f"recorded in {meta.name} differs; embedded from {record.get('source')!r}): "
                                  "embed the same file and text column")
    return vectors


def _partial(out: Path) -> Path:
    return out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")


def _output_error(exc: OSError, out: Path) -> OutputError:
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return OutputError(exc.errno or errno.EIO, f"cannot write {out}: {why}; nothing was written there")


def _remove_dead_partials(out: Path) -> None:
    """Temporary files that killed runs left beside ``out`` (their process is gone)."""
    for p in out.parent.glob(f".{out.stem}.partial-*{out.suffix}"):
        pid = p.name[len(f".{out.stem}.partial-"):len(p.name) - len(out.suffix)]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except PermissionError:
            pass


@contextlib.contextmanager
def _atomic(out: Path):
    """A temporary path beside ``out``, renamed to ``out`` on success and removed on any failure."""
    tmp = _partial(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_partials(out)
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _output_error(exc, out) from exc
        raise


def save_npy(out: str | Path, array: np.ndarray) -> Path:
    """``np.save`` through a temporary file and a rename: ``out`` is complete or untouched."""
    out = Path(out)
    with _atomic(out) as tmp:
        np.save(tmp, np.asarray(array))
    return out


def _reserve(path: Path, nbytes: int) -> None:
    with path.open("r+b") as fh:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fh.fileno(), 0, nbytes)


def count_rows(path: Path, text_col: str = "text") -> int:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except (ValueError, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise CorpusFormatError(f"is not a readable parquet file ({exc})", path=str(path)) from None
    return sum(len(b) for b in _blocks(path, text_col, 100_000))


def embed_file(path: str | Path, out: str | Path, embedder: Embedder, *, text_col: str = "text",
               cache: EmbeddingCache | None = None, block_rows: int = 20_000,
               progress: bool = False) -> StreamResult:
    """Embed every row of ``path`` into the ``.npy`` file ``out`` (float32, ``(rows, dim)``)."""
    import time

    start = time.perf_counter()
    path, out = Path(path), Path(out)
    total = count_rows(path, text_col)
    bar = None
    row = embedded = cached = 0
    digest = TextsDigest()
    with _atomic(out) as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, embedder.dim))
        _reserve(tmp, os.path.getsize(tmp))  # ENOSPC now, not SIGBUS when the memory map is written
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="rows", dynamic_ncols=True, desc=f"embedding {path.name}")
        try:
            for texts in _blocks(path, text_col, block_rows):
                res = embed_texts(texts, embedder, cache=cache)
                mm[row:row + len(texts)] = res.vectors
                digest.update(texts)
                row += len(texts)
                embedded += res.n_embedded
                cached += res.n_cached
                if bar is not None:
                    bar.update(len(texts))
            mm.flush()
        finally:
            del mm
            if bar is not None:
                bar.close()
    write_meta(out, model_id=embedder.model_id, rows=row, dim=embedder.dim, texts_sha256=digest.hexdigest(),
               source=str(path))
    return StreamResult(out, row, embedder.dim, embedded, cached, time.perf_counter() - start)
