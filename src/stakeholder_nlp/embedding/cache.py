"""A persistent embedding cache in SQLite, keyed by (model id, sha256 of the text).

Each batch is written in one transaction, so an interrupted run (Ctrl-C, kill -9) loses at most the batch
in flight and the file never holds a partial vector; a row whose blob has the wrong size is treated as a
miss. WAL mode lets a reader and a writer share the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_sha256)
) WITHOUT ROWID;
"""


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """``get``/``put`` float32 vectors by (model id, text). Pass one to the engine; it is not global."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix != ".sqlite":
            self.path.mkdir(parents=True, exist_ok=True)
            self.path = self.path / "embeddings.sqlite"
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, model_id: str, texts: Sequence[str], dim: int) -> dict[int, np.ndarray]:
        """Vectors found, by position in ``texts``."""
        found: dict[int, np.ndarray] = {}
        keys = [text_key(t) for t in texts]
        pos: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            pos.setdefault(k, []).append(i)
        unique = list(pos)
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT text_sha256, dim, vector FROM vectors WHERE model = ? AND text_sha256 IN ({marks})",
                [model_id, *chunk]).fetchall()
            for key, d, blob in rows:
                if d != dim or len(blob) != 4 * dim:
                    continue
                vec = np.frombuffer(blob, dtype=np.float32)
                for i in pos[key]:
                    found[i] = vec
        return found

    def put(self, model_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one batch atomically."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(model_id, text_key(t), vectors.shape[1], vectors[i].tobytes()) for i, t in enumerate(texts)]
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            return self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        return self._conn.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", [model_id]).fetchone()[0]
