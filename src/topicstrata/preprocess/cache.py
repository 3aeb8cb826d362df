"""A content-hash cache of preprocessed views in one SQLite file.

Key: 16-byte BLAKE2b of the text, keyed with the config fingerprint, so a config
change (or a code change that bumps ``PREPROCESS_VERSION``) never returns stale
views. Value: ``(embed_text, keyword_tokens)``. Lookups and writes go in
batches, so a million-row rerun is a few thousand queries. WAL mode lets
several processes share one cache directory.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from topicstrata.errors import ConfigError

__all__ = ["CACHE_FILENAME", "PreprocessCache", "text_key"]

logger = logging.getLogger(__name__)

CACHE_FILENAME = "preprocess.sqlite3"

#: Keys per SELECT; stays under SQLite's historical 999-variable limit.
_LOOKUP_CHUNK = 900


def text_key(text: str, salt: bytes) -> bytes:
    """The cache key of ``text`` under a config whose fingerprint digest is ``salt``."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16, key=salt).digest()


class PreprocessCache:
    """Batch get/put of ``(embed_text, keyword_tokens)`` by content key."""

    def __init__(self, cache_dir: str | Path, fingerprint: str) -> None:
        self.path = Path(cache_dir) / CACHE_FILENAME
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=60)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the preprocessing cache at {self.path}: {exc}; pass a "
                "writable cache_dir, or cache_dir=None to disable caching."
            ) from exc
        self.salt = hashlib.sha256(fingerprint.encode()).digest()[:32]
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS views ("
            " key BLOB PRIMARY KEY, embed_text TEXT NOT NULL, keyword_tokens TEXT NOT NULL"
            ") WITHOUT ROWID"
        )
        self._conn.commit()

    def key(self, text: str) -> bytes:
        """The key of ``text`` under this cache's config."""
        return text_key(text, self.salt)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, tuple[str, str]]:
        """Return the cached views of those ``keys`` that are present."""
        found: dict[bytes, tuple[str, str]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT key, embed_text, keyword_tokens FROM views WHERE key IN ({marks})",
                chunk,
            )
            for key, embed_text, keyword_tokens in rows:
                found[key] = (embed_text, keyword_tokens)
        return found

    def put_many(self, items: Iterable[tuple[bytes, str, str]]) -> int:
        """Store ``(key, embed_text, keyword_tokens)`` rows in one transaction."""
        rows = list(items)
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO views VALUES (?, ?, ?)", rows)
        return len(rows)

    def __len__(self) -> int:
        (count,) = self._conn.execute("SELECT COUNT(*) FROM views").fetchone()
        return int(count)

    def __iter__(self) -> Iterator[bytes]:
        return (key for (key,) in self._conn.execute("SELECT key FROM views"))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> PreprocessCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
