"""embed_texts and the on-disk cache: encode each unique text once, ever."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from topicstrata.embed import (
    EmbeddingCache,
    OnnxMiniLMEmbedder,
    embed_texts,
    embedding_cache_dir,
    text_hash,
)

TEXTS = [f"opportunity {i}: renew {i % 7} crm seats" for i in range(50)]


def test_second_call_encodes_nothing(tmp_path: Path, counting: Any) -> None:
    first = embed_texts(TEXTS, counting, cache_dir=tmp_path)
    assert len(counting.encoded) == len(TEXTS)
    counting.encoded.clear()
    second = embed_texts(TEXTS, counting, cache_dir=tmp_path)
    assert counting.encoded == []
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32 and first.shape == (50, 8)


def test_partial_overlap_encodes_only_new_texts(tmp_path: Path, counting: Any) -> None:
    embed_texts(TEXTS[:30], counting, cache_dir=tmp_path)
    counting.encoded.clear()
    out = embed_texts(TEXTS[20:], counting, cache_dir=tmp_path)
    assert sorted(counting.encoded) == sorted(TEXTS[30:])
    np.testing.assert_array_equal(out, counting.encode(TEXTS[20:]))


def test_duplicates_encoded_once_and_order_kept(tmp_path: Path, counting: Any) -> None:
    texts = ["b", "a", "b", "c", "a", "b"]
    out = embed_texts(texts, counting, cache_dir=tmp_path, use_cache=False)
    assert sorted(counting.encoded) == ["a", "b", "c"]
    np.testing.assert_array_equal(out, counting.encode(texts))
    assert not any(tmp_path.iterdir())  # use_cache=False writes nothing


def test_misses_sorted_longest_first(tmp_path: Path, counting: Any) -> None:
    texts = ["mid text", "s", "the longest text of all", "medium"]
    embed_texts(texts, counting, cache_dir=tmp_path)
    assert counting.encoded == sorted(texts, key=len, reverse=True)


def test_progress_counts_hits_and_batches(tmp_path: Path, counting: Any) -> None:
    embed_texts(TEXTS[:10], counting, cache_dir=tmp_path)
    calls: list[tuple[str, int, int | None]] = []
    embed_texts(
        TEXTS[:25], counting, cache_dir=tmp_path, batch_size=5, progress=lambda *a: calls.append(a)
    )
    assert calls == [("embed", 10, 25), ("embed", 15, 25), ("embed", 20, 25), ("embed", 25, 25)]


def test_cache_keyed_by_version(tmp_path: Path, counting: Any) -> None:
    embed_texts(TEXTS[:5], counting, cache_dir=tmp_path)
    counting.version = "2"
    counting.encoded.clear()
    embed_texts(TEXTS[:5], counting, cache_dir=tmp_path)
    assert len(counting.encoded) == 5


def _cache_files(tmp_path: Path, counting: Any) -> EmbeddingCache:
    return EmbeddingCache(embedding_cache_dir(tmp_path), counting.name, counting.version, 8)


@pytest.mark.parametrize("damage", ["truncate", "garble_index", "garble_rows", "drop_meta"])
def test_corrupt_cache_is_rebuilt_with_warning(
    tmp_path: Path, counting: Any, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    expected = embed_texts(TEXTS, counting, cache_dir=tmp_path)
    cache = _cache_files(tmp_path, counting)
    cache.close()
    if damage == "truncate":
        with open(cache.vectors_path, "r+b") as fh:
            fh.truncate(cache.vectors_path.stat().st_size // 2)
    elif damage == "garble_index":
        for suffix in ("-wal", "-shm"):
            Path(f"{cache.index_path}{suffix}").unlink(missing_ok=True)
        cache.index_path.write_bytes(b"this is not a sqlite database" * 100)
    elif damage == "garble_rows":
        with open(cache.vectors_path, "r+b") as fh:
            fh.seek(4 * 8 * 3)
            fh.write(np.full(8, 7.0, dtype=np.float32).tobytes())
    elif damage == "drop_meta":
        with sqlite3.connect(cache.index_path) as conn:
            conn.execute("UPDATE meta SET value = '999' WHERE key = 'rows'")
    counting.encoded.clear()
    with caplog.at_level(logging.WARNING, logger="topicstrata.embed"):
        again = embed_texts(TEXTS, counting, cache_dir=tmp_path)
    assert "corrupt" in caplog.text and "rebuilding" in caplog.text
    np.testing.assert_array_equal(again, expected)
    assert len(counting.encoded) == len(TEXTS)
    counting.encoded.clear()
    embed_texts(TEXTS, counting, cache_dir=tmp_path)
    assert counting.encoded == []  # the rebuilt cache works


def test_uncommitted_tail_after_crash_is_ignored(tmp_path: Path, counting: Any) -> None:
    embed_texts(TEXTS[:10], counting, cache_dir=tmp_path)
    cache = _cache_files(tmp_path, counting)
    cache.close()
    # A crash after writing rows but before committing their index leaves a tail.
    with open(cache.vectors_path, "ab") as fh:
        fh.write(np.full((3, 8), 0.5, dtype=np.float32).tobytes())
    counting.encoded.clear()
    out = embed_texts(TEXTS[:20], counting, cache_dir=tmp_path)
    assert sorted(counting.encoded) == sorted(TEXTS[10:20])
    np.testing.assert_array_equal(out, counting.encode(TEXTS[:20]))
    with _cache_files(tmp_path, counting) as reopened:
        assert len(reopened) == 20
        assert reopened.vectors_path.stat().st_size == 20 * 8 * 4


def test_cache_put_and_lookup_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(100, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    hashes = [text_hash(str(i)) for i in range(100)]
    with EmbeddingCache(tmp_path, "x", "v", 16) as cache:
        assert cache.put(hashes[:60], vectors[:60]) == 60
        assert cache.put(hashes, vectors) == 40  # the first 60 are already there
        rows = cache.lookup([*hashes[::-1], text_hash("missing")])
        assert rows[-1] == -1
        np.testing.assert_array_equal(cache.read(rows[:-1]), vectors[::-1])
    assert text_hash("a") != text_hash("b") and len(text_hash("a")) == 16


def test_real_embedder_hits_cache(
    tmp_path: Path, minilm_onnx: OnnxMiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["renew crm licences", "migrate the warehouse", "renew crm licences"]
    first = embed_texts(texts, minilm_onnx, cache_dir=tmp_path)
    calls: list[int] = []
    real = minilm_onnx._encode_batch

    def spy(batch: list[str]) -> np.ndarray:
        calls.append(len(batch))
        return real(batch)

    monkeypatch.setattr(minilm_onnx, "_encode_batch", spy)
    second = embed_texts(texts, minilm_onnx, cache_dir=tmp_path)
    assert calls == []
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first[0], first[2])
    embed_texts(["a new text", *texts], minilm_onnx, cache_dir=tmp_path)
    assert calls == [1]
