"""``embed_texts``: dedupe, look up the cache, encode only what is missing, store it."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.embed._paths import cache_root
from topicstrata.embed.base import Embedder, _check_texts
from topicstrata.embed.cache import CacheCorruptError, EmbeddingCache, text_hash
from topicstrata.errors import InputError, ModelError

logger = logging.getLogger(__name__)

__all__ = ["ChunkEncoder", "embed_texts", "embedding_cache_dir"]

#: ``encode_chunks(embedder, chunks_of_texts, batch_size)`` yields each chunk's vectors,
#: in chunk order, as each finishes.
ChunkEncoder = Callable[[Embedder, list[list[str]], int], Iterator[NDArray[np.float32]]]

# Misses are encoded and committed to the cache in chunks of this many texts, so a killed
# run keeps what it finished and a rerun resumes from there. 1,024 texts are ~20 s of
# MiniLM on 2 cores: a kill loses at most that, and the large-input path's teacher sample
# (8,000 texts) is 8 chunks, not one. A commit costs milliseconds.
FLUSH_ROWS = 1024


def embedding_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> os.PathLike[str]:
    """Where ``embed_texts`` keeps embeddings: ``<cache_dir or user cache>/embeddings``."""
    return cache_root(cache_dir) / "embeddings"


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
    encode_chunks: ChunkEncoder | None = None,
) -> NDArray[np.float32]:
    """Embed ``texts`` with ``embedder``; one unit-norm float32 row per text, in input order.

    Identical texts are encoded once. With ``use_cache`` (the default), rows are looked up
    by backend, version and text hash under ``embedding_cache_dir(cache_dir)`` and only the
    misses are encoded, longest first, in batches of ``batch_size``; they are committed to
    the cache every few thousand texts. ``progress("embed", done, total)`` counts unique
    texts, cache hits included, and advances once per batch. ``encode_chunks`` encodes
    the chunks somewhere else (e.g. ``topicstrata.pipeline.raydata.RayDataEncoder``: a Ray Data
    actor pool), yielding each chunk's vectors in order as it finishes.
    """
    docs = _check_texts(texts)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}.")
    report = _Monotonic(progress or null_progress)
    hashes = [text_hash(t) for t in docs]
    position: dict[bytes, int] = {}  # hash -> its row among the unique texts
    unique_idx: list[int] = []  # unique row -> index of its first occurrence in texts
    inverse = np.empty(len(docs), dtype=np.int64)
    for i, h in enumerate(hashes):
        u = position.setdefault(h, len(position))
        if u == len(unique_idx):
            unique_idx.append(i)
        inverse[i] = u
    unique_hashes = list(position)
    n_unique = len(unique_idx)

    dim = embedder.dim
    out = np.empty((n_unique, dim), dtype=np.float32)
    missing = np.arange(n_unique)
    cache = _open_cache(embedder, cache_dir) if use_cache and n_unique else None
    try:
        if cache is not None:
            missing = _fill_from_cache(cache, unique_hashes, out)
        logger.info(
            "embed: %d texts, %d unique, %d cached, %d to encode with %s",
            len(docs),
            n_unique,
            n_unique - len(missing),
            len(missing),
            embedder.name,
        )
        done = n_unique - len(missing)
        report("embed", done, n_unique)
        order = sorted(missing.tolist(), key=lambda u: -len(docs[unique_idx[u]]))
        chunks = [order[start : start + FLUSH_ROWS] for start in range(0, len(order), FLUSH_ROWS)]
        texts_of = [[docs[unique_idx[u]] for u in chunk] for chunk in chunks]
        if encode_chunks is None:
            encoded: Iterator[NDArray[np.float32]] = (
                embedder.encode(
                    chunk_texts, batch_size=batch_size, progress=_Offset(report, done, n_unique)
                )
                for chunk_texts in texts_of
            )
        else:
            encoded = encode_chunks(embedder, texts_of, batch_size)
        for chunk, vectors in zip(chunks, encoded, strict=True):
            _check_output(embedder, vectors, len(chunk), dim)
            out[chunk] = vectors
            done += len(chunk)
            report("embed", done, n_unique)
            if cache is not None:
                _store(cache, [unique_hashes[u] for u in chunk], vectors)
    finally:
        if cache is not None:
            cache.close()
    return out[inverse]


class _Monotonic:
    """Passes on progress only when it moves: a chunk's last batch and the chunk's end
    report the same count once."""

    def __init__(self, report: ProgressCallback) -> None:
        self.report = report
        self.last: int | None = None

    def __call__(self, task: str, done: int, total: int | None) -> None:
        if done != self.last:
            self.last = done
            self.report(task, done, total)


class _Offset:
    """Reports a chunk's per-batch progress as progress over all unique texts."""

    def __init__(self, report: ProgressCallback, offset: int, total: int) -> None:
        self.report = report
        self.offset = offset
        self.total = total

    def __call__(self, task: str, done: int, total: int | None) -> None:
        if done:
            self.report(task, self.offset + done, self.total)


def _open_cache(embedder: Embedder, cache_dir: str | os.PathLike[str] | None) -> EmbeddingCache:
    return EmbeddingCache(
        embedding_cache_dir(cache_dir), embedder.name, embedder.version, embedder.dim
    )


def _fill_from_cache(
    cache: EmbeddingCache, hashes: list[bytes], out: NDArray[np.float32]
) -> NDArray[np.int64]:
    """Copy cached rows into ``out``; returns the positions still to encode."""
    try:
        rows = cache.lookup(hashes)
        hit = np.flatnonzero(rows >= 0)
        out[hit] = cache.read(rows[hit])
    except (CacheCorruptError, sqlite3.DatabaseError) as exc:
        cache.rebuild(str(exc))
        return np.arange(len(hashes))
    return np.flatnonzero(rows < 0)


def _store(cache: EmbeddingCache, hashes: list[bytes], vectors: NDArray[np.float32]) -> None:
    try:
        cache.put(hashes, vectors)
    except (CacheCorruptError, sqlite3.DatabaseError) as exc:
        cache.rebuild(str(exc))
        cache.put(hashes, vectors)
    except OSError as exc:
        # A full or read-only disk costs the cache, not the run.
        logger.warning("could not write to the embedding cache %s: %s", cache.directory, exc)


def _check_output(embedder: Embedder, vectors: NDArray[np.float32], n: int, dim: int) -> None:
    if vectors.shape != (n, dim) or vectors.dtype != np.float32:
        raise ModelError(
            f"embedder {embedder.name!r} returned {vectors.dtype}{vectors.shape} for {n} texts; "
            f"expected float32({n}, {dim})."
        )
