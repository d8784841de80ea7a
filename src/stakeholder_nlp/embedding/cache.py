"""A persistent embedding cache in SQLite, keyed by (model id, sha256 of the text).

Each batch is written in one transaction, so an interrupted run (Ctrl-C, kill -9) loses at most the batch
in flight and the file never holds a partial vector; a row whose blob has the wrong size is treated as a
miss. WAL mode lets a reader and a writer share the file.

Runs may share one cache at the same time (two ``analyze`` processes on one ``--cache``): writes queue behind
each other (SQLite's lock, waited for up to :data:`LOCK_TIMEOUT_S`), and opening a cache another process is
creating or switching to WAL is retried: two connections switching a new file to WAL at once are a
deadlock SQLite breaks by failing one of them at once, without waiting ("database is locked"). Both runs
then give the vectors a solo run gives. A lock held longer than that is an :class:`OutputError` saying so.

A write that fails (the disk is full, the file or folder became read-only, an I/O error) is rolled back and
raised as :class:`~stakeholder_nlp.errors.OutputError` naming the cache and the cause: the cache then holds
every batch committed before, and none of the failed one.
"""

from __future__ import annotations

import errno
import hashlib
import random
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import OutputError

# a rowid table: vectors are ~1.5 kB, too large for an efficient WITHOUT ROWID b-tree
SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS vectors_key ON vectors (model, text_sha256);
CREATE TABLE IF NOT EXISTS text_sets (
    model TEXT NOT NULL,
    set_sha256 BLOB NOT NULL,
    n INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    matrix BLOB NOT NULL,
    PRIMARY KEY (model, set_sha256)
);
"""


#: seconds a connection waits for another process's lock on the cache (SQLite's busy timeout), and the
#: longest opening keeps retrying when SQLite fails it at once as a deadlock
LOCK_TIMEOUT_S = 30.0

#: bytes per read or write of a whole-set blob (a 100,000-text set is 154 MB: never copied whole)
_BLOB_BLOCK = 16 * 2**20


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def set_key(texts: Sequence[str]) -> bytes:
    """Key of an ordered list of unique texts (length-prefixed, so no two lists collide by joining)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


#: SQLite result codes (``sqlite3.Error.sqlite_errorcode``, low byte) -> errno and what to tell the user
_WRITE_FAILURES = {
    13: (errno.ENOSPC, "the disk is full; free space or choose another --cache folder"),  # SQLITE_FULL
    8: (errno.EROFS, "it is read-only or not writable by you; choose another --cache folder"),  # SQLITE_READONLY
    5: (errno.EBUSY, f"another run held it locked for more than {LOCK_TIMEOUT_S:.0f} s; wait for that run to "
                     "finish or choose another --cache folder"),  # SQLITE_BUSY
    10: (errno.EIO, "a disk I/O error; check the disk or choose another --cache folder"),  # SQLITE_IOERR
}


def _busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock this one needs."""
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in (5, 6)


def _configure(conn: sqlite3.Connection) -> None:
    """WAL (switched once per file: the mode is kept in it), pragmas, schema."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # no memory map: a 1 GB map put every page a read touched into this process's memory while the read ran
    # (reading a million vectors peaked 1.0 GB above the vectors themselves; read() calls cost ~5% more time).
    # 16 MB of page cache: a larger cache only filled with the pages of each write and stayed allocated
    # (256 MB held ~1.5 kB per embedded text, up to its size)
    conn.execute("PRAGMA mmap_size=0")
    conn.execute("PRAGMA cache_size=-16384")
    conn.executescript(SCHEMA)


def _open(path: Path) -> sqlite3.Connection:
    """A configured connection; a lock another process holds is waited for (busy timeout), and a deadlock
    SQLite breaks at once (two processes setting up a new cache) is retried until :data:`LOCK_TIMEOUT_S`."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        conn = sqlite3.connect(str(path), timeout=LOCK_TIMEOUT_S)
        try:
            _configure(conn)
            return conn
        except sqlite3.Error as exc:
            conn.close()
            if not _busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(random.uniform(0.02, 0.2))  # the other process finishes its setup meanwhile


def write_error(path: Path, exc: sqlite3.Error) -> OutputError:
    """The :class:`OutputError` for a failed write to the cache at ``path`` (the transaction was rolled back)."""
    code = getattr(exc, "sqlite_errorcode", None)
    num, hint = _WRITE_FAILURES.get((code or 0) & 0xFF, (errno.EIO, "choose another --cache folder"))
    return OutputError(num, f"embedding cache {path} cannot be written: {hint} ({exc}). Nothing of the failed "
                            "batch was stored; every batch before it is intact")


class EmbeddingCache:
    """``get``/``put`` float32 vectors by (model id, text). Pass one to the engine; it is not global."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if self.path.suffix != ".sqlite":
                self.path.mkdir(parents=True, exist_ok=True)
                self.path = self.path / "embeddings.sqlite"
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = _open(self.path)
        except sqlite3.Error as exc:
            if _busy(exc):  # still locked after LOCK_TIMEOUT_S
                raise OutputError(errno.EBUSY, f"embedding cache {self.path} is locked: another run held it for "
                                               f"more than {LOCK_TIMEOUT_S:.0f} s ({exc}); wait for that run to "
                                               "finish or choose another --cache folder") from None
            raise self._open_error(exc) from None
        except OSError as exc:
            raise self._open_error(exc) from None

    def _open_error(self, exc: Exception) -> OutputError:  # read-only, full, or not a folder: say which cache
        return OutputError(errno.EACCES, f"embedding cache {self.path} cannot be opened for writing ({exc}); "
                                         "choose another --cache folder")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get_many(self, model_id: str, texts: Sequence[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """``(found, vectors)``: a bool mask over ``texts`` and a ``(len(texts), dim)`` array filled where found."""
        keys = [text_key(t) for t in texts]
        pos = {k: i for i, k in enumerate(keys)}
        found = np.zeros(len(texts), dtype=bool)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        unique = list(pos)
        for start in range(0, len(unique), 900):
            chunk = unique[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for key, d, blob in self._conn.execute(
                    f"SELECT text_sha256, dim, vector FROM vectors WHERE model = ? AND text_sha256 IN ({marks})",
                    [model_id, *chunk]):
                if d == dim and len(blob) == 4 * dim:  # a wrong-sized blob is a miss
                    i = pos[key]  # into place as it is read: the blobs are never held all at once
                    out[i] = np.frombuffer(blob, dtype=np.float32)
                    found[i] = True
        if len(pos) != len(keys):  # repeated texts share their vector
            first = np.asarray([pos[k] for k in keys])
            found, out = found[first], out[first]
        return found, out

    def get(self, model_id: str, texts: Sequence[str], dim: int) -> dict[int, np.ndarray]:
        """Vectors found, by position in ``texts``."""
        found, out = self.get_many(model_id, texts, dim)
        return {int(i): out[i] for i in np.flatnonzero(found)}

    def put(self, model_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one batch atomically."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(model_id, text_key(t), vectors.shape[1], vectors[i].tobytes()) for i, t in enumerate(texts)]
        try:
            with self._conn:  # one transaction: committed whole or rolled back
                self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise write_error(self.path, exc) from exc

    # Whole-set entries: a re-run over the same unique texts (stability reruns, a second analysis) reads one
    # blob instead of one row per text. Written after the per-text rows, in one transaction.
    def get_set(self, model_id: str, set_key: bytes, n: int, dim: int) -> np.ndarray | None:
        row = self._conn.execute("SELECT rowid, n, dim, length(matrix) FROM text_sets WHERE model = ? AND "
                                 "set_sha256 = ?", [model_id, set_key]).fetchone()
        if row is None or row[1] != n or row[2] != dim or row[3] != 4 * n * dim:
            return None
        out = np.empty((n, dim), dtype=np.float32)
        view = memoryview(out).cast("B")
        # read in blocks into the array: the blob is never held whole beside its copy
        with self._conn.blobopen("text_sets", "matrix", row[0], readonly=True) as blob:
            for start in range(0, len(view), _BLOB_BLOCK):
                view[start:start + _BLOB_BLOCK] = blob.read(_BLOB_BLOCK)
        return out

    def put_set(self, model_id: str, set_key: bytes, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        view = memoryview(vectors).cast("B")
        try:
            with self._conn:  # one transaction: a zero blob of the right size, written in blocks
                cur = self._conn.execute("INSERT OR REPLACE INTO text_sets VALUES (?, ?, ?, ?, zeroblob(?))",
                                         [model_id, set_key, vectors.shape[0], vectors.shape[1], len(view)])
                with self._conn.blobopen("text_sets", "matrix", cur.lastrowid) as blob:
                    for start in range(0, len(view), _BLOB_BLOCK):
                        blob.write(view[start:start + _BLOB_BLOCK])
        except sqlite3.Error as exc:
            raise write_error(self.path, exc) from exc

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            return self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", [model_id]).fetchone()[0]
