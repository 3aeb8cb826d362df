"""A content-hash cache of preprocessed views in one SQLite file.

Key: 16-byte BLAKE2b of the text, keyed with a salt derived from the config
fingerprint, so a config change (or a code change that bumps
``PREPROCESS_VERSION``) never returns stale views. Value: ``(embed_text,
keyword_tokens)``. Lookups and writes go in batches, so a million-row rerun is a
few thousand queries. WAL mode lets several processes share one cache directory.

With the vocabulary entity filter a record's keywords depend on the corpus (the
sample spaCy reads is drawn from all of it), so one text has three kinds of rows,
each correct under its own salt:

- ``views``, salted by the fast-mode fingerprint: the per-record part
  (cleaned text, untagged lemmas), shared with fast mode;
- ``evidence``, salted by the record-filter fingerprint: what spaCy found in a
  sampled text, so a grown corpus re-reads only newly sampled texts;
- ``views``, salted by the config fingerprint and the corpus (the set of
  distinct input texts): the final views, so rerunning the same corpus costs
  only lookups.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from topicstrata.errors import ConfigError

__all__ = ["CACHE_FILENAME", "PreprocessCache", "salt_for", "text_key"]

logger = logging.getLogger(__name__)

CACHE_FILENAME = "preprocess.sqlite3"

#: Keys per SELECT; stays under SQLite's historical 999-variable limit.
_LOOKUP_CHUNK = 900


def salt_for(fingerprint: str) -> bytes:
    """The key salt of a config fingerprint (32 bytes, BLAKE2b's longest key)."""
    return hashlib.sha256(fingerprint.encode()).digest()


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
        self.salt = salt_for(fingerprint)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS views ("
            " key BLOB PRIMARY KEY, embed_text TEXT NOT NULL, keyword_tokens TEXT NOT NULL"
            ") WITHOUT ROWID"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS evidence ("
            " key BLOB PRIMARY KEY, keyword_tokens TEXT NOT NULL, evidence TEXT NOT NULL"
            ") WITHOUT ROWID"
        )
        self._conn.commit()

    def key(self, text: str) -> bytes:
        """The key of ``text`` under this cache's config."""
        return text_key(text, self.salt)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, tuple[str, str]]:
        """Return the cached views of those ``keys`` that are present."""
        return self._get("SELECT key, embed_text, keyword_tokens FROM views", keys)

    def put_many(self, items: Iterable[tuple[bytes, str, str]]) -> int:
        """Store ``(key, embed_text, keyword_tokens)`` rows in one transaction."""
        return self._put("INSERT OR REPLACE INTO views VALUES (?, ?, ?)", items)

    def get_evidence(self, keys: Sequence[bytes]) -> dict[bytes, tuple[str, str]]:
        """Return the cached ``(keyword_tokens, evidence)`` of sampled texts present."""
        return self._get("SELECT key, keyword_tokens, evidence FROM evidence", keys)

    def put_evidence(self, items: Iterable[tuple[bytes, str, str]]) -> int:
        """Store ``(key, keyword_tokens, evidence)`` rows of sampled texts."""
        return self._put("INSERT OR REPLACE INTO evidence VALUES (?, ?, ?)", items)

    def _get(self, select: str, keys: Sequence[bytes]) -> dict[bytes, tuple[str, str]]:
        found: dict[bytes, tuple[str, str]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, first, second in self._conn.execute(f"{select} WHERE key IN ({marks})", chunk):
                found[key] = (first, second)
        return found

    def _put(self, insert: str, items: Iterable[tuple[bytes, str, str]]) -> int:
        rows = list(items)
        with self._conn:
            self._conn.executemany(insert, rows)
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
