"""A content-hash embedding cache: one append-only float32 file plus a SQLite index.

Layout, one directory per backend and version::

    <root>/<backend>/<version>/vectors.f32   raw float32 rows, row-major, dim columns
    <root>/<backend>/<version>/index.sqlite  rows(hash -> row), meta(dim, rows, ...)

Readers memory-map ``vectors.f32``, so reusing part of a 1M x 384 cache reads only the
rows it needs. A write takes SQLite's write lock, writes the new rows after the last
committed one, fsyncs them, and only then commits their index entries and the new row
count: a crash between the two leaves an uncommitted tail that the next write overwrites.
A cache whose files disagree (truncated vectors, unreadable index, wrong dim, rows that are
not unit vectors) is detected, logged as a warning and rebuilt empty; it never crashes a run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from topicstrata._faults import fault_point

logger = logging.getLogger(__name__)

__all__ = ["CacheCorruptError", "EmbeddingCache", "text_hash"]

FORMAT = "1"
HASH_BYTES = 16
_QUERY_CHUNK = 10_000  # host parameters per SELECT ... IN (...)
_NORM_TOLERANCE = 1e-3


class CacheCorruptError(Exception):
    """Internal: the cache's files disagree; callers rebuild it. Never escapes the package."""


def text_hash(text: str) -> bytes:
    """The cache key of a text: BLAKE2b-128 of its UTF-8 bytes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=HASH_BYTES).digest()


class EmbeddingCache:
    """The cached embeddings of one embedder version, keyed by :func:`text_hash`."""

    def __init__(self, root: str | os.PathLike[str], backend: str, version: str, dim: int) -> None:
        self.directory = Path(root) / _safe(backend) / _safe(version)
        self.backend = backend
        self.version = version
        self.dim = int(dim)
        self._conn: sqlite3.Connection | None = None
        self._open_or_rebuild()

    @property
    def vectors_path(self) -> Path:
        return self.directory / "vectors.f32"

    @property
    def index_path(self) -> Path:
        return self.directory / "index.sqlite"

    def __len__(self) -> int:
        return self._committed_rows()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, hashes: Sequence[bytes]) -> NDArray[np.int64]:
        """Row number of each hash, or -1 where it is not cached."""
        found = self._select(hashes)
        return np.fromiter((found.get(h, -1) for h in hashes), dtype=np.int64, count=len(hashes))

    def read(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """The vectors at ``rows`` (all >= 0), checked to be finite unit (or zero) rows."""
        committed = self._committed_rows()
        if len(rows) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        if committed == 0 or int(rows.max()) >= committed:
            raise CacheCorruptError(f"index points past the {committed} committed rows")
        self._check_size(committed)
        shape = (committed, self.dim)
        matrix = np.memmap(self.vectors_path, dtype=np.float32, mode="r", shape=shape)
        try:
            out = np.array(matrix[rows], dtype=np.float32)
        finally:
            del matrix
        norms = np.linalg.norm(out, axis=1)
        bad = ~(np.isfinite(norms) & ((np.abs(norms - 1) < _NORM_TOLERANCE) | (norms == 0)))
        if bad.any():
            raise CacheCorruptError(f"{int(bad.sum())} cached rows are not unit vectors")
        return out

    def put(self, hashes: Sequence[bytes], vectors: NDArray[np.float32]) -> int:
        """Append the rows whose hash is not cached yet; returns how many were written."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(hashes), self.dim):
            raise ValueError(f"expected {(len(hashes), self.dim)} vectors, got {vectors.shape}")
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")  # the write lock: one writer appends at a time
        try:
            present = self._select(hashes)
            keep: dict[bytes, int] = {}
            for i, h in enumerate(hashes):
                if h not in present and h not in keep:
                    keep[h] = i
            if not keep:
                conn.rollback()
                return 0
            committed = self._committed_rows()
            self._check_size(committed)
            new = vectors[list(keep.values())]
            self._write_rows(committed, new)
            fault_point("embed-chunk")
            conn.executemany(
                "INSERT INTO rows(hash, row) VALUES (?, ?)",
                zip(keep.keys(), range(committed, committed + len(keep)), strict=True),
            )
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'rows'", (str(committed + len(keep)),)
            )
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return len(keep)

    def rebuild(self, reason: str) -> None:
        """Drop every cached row (after logging why) and start an empty cache."""
        logger.warning(
            "embedding cache %s is corrupt (%s); rebuilding it empty", self.directory, reason
        )
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        self._create()

    # -- internals -------------------------------------------------------------------------

    def _open_or_rebuild(self) -> None:
        if not self.index_path.exists():
            self._create()
            return
        try:
            self._validate()
        except (CacheCorruptError, sqlite3.DatabaseError) as exc:
            self.rebuild(str(exc))

    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        conn = self._connection()
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS rows (hash BLOB PRIMARY KEY, row INTEGER NOT NULL)"
                " WITHOUT ROWID"
            )
            conn.executemany(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                [
                    ("format", FORMAT),
                    ("backend", self.backend),
                    ("version", self.version),
                    ("dim", str(self.dim)),
                    ("rows", "0"),
                ],
            )
        self.vectors_path.touch(exist_ok=True)
        self._validate()

    def _validate(self) -> None:
        conn = self._connection()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        expected = {"format": FORMAT, "dim": str(self.dim), "version": self.version}
        for key, value in expected.items():
            if meta.get(key) != value:
                raise CacheCorruptError(f"meta {key}={meta.get(key)!r}, expected {value!r}")
        committed = int(meta["rows"])
        count, top = conn.execute("SELECT count(*), max(row) FROM rows").fetchone()
        if count != committed or (committed and top != committed - 1):
            raise CacheCorruptError(f"index holds {count} rows but meta says {committed}")
        self._check_size(committed)

    def _check_size(self, committed: int) -> None:
        need = committed * self.dim * 4
        try:
            size = self.vectors_path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < need:
            raise CacheCorruptError(
                f"vectors.f32 has {size} bytes, the {committed} committed rows need {need}"
            )

    def _committed_rows(self) -> int:
        row = self._connection().execute("SELECT value FROM meta WHERE key = 'rows'").fetchone()
        if row is None:
            raise CacheCorruptError("meta has no row count")
        return int(row[0])

    def _select(self, hashes: Sequence[bytes]) -> dict[bytes, int]:
        conn = self._connection()
        found: dict[bytes, int] = {}
        unique = list(dict.fromkeys(hashes))
        for chunk in _chunks(unique, _QUERY_CHUNK):
            marks = ",".join("?" * len(chunk))
            found.update(conn.execute(f"SELECT hash, row FROM rows WHERE hash IN ({marks})", chunk))
        return found

    def _write_rows(self, start: int, rows: NDArray[np.float32]) -> None:
        with open(self.vectors_path, "r+b") as fh:
            fh.truncate(start * self.dim * 4)  # drop an uncommitted tail left by a crash
            fh.seek(start * self.dim * 4)
            fh.write(rows.tobytes())
            fh.flush()
            os.fsync(fh.fileno())

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.index_path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn


def _chunks(items: list[bytes], size: int) -> Iterable[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", part) or "_"
