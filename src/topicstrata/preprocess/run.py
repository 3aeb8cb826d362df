"""``preprocess``: many records to both views, with dedupe, cache and worker processes.

Order of work: coerce inputs to strings, look every text up in the cache
(one batched query per 900 keys), deduplicate the misses, make their views in
chunks (in process for small inputs, else in a pool of spawned workers that
each load spaCy once), write each finished chunk to the cache, and scatter the
views back to every input position. Rows are never dropped or reordered.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.io.schema import EMBED_TEXT, KEYWORD_TOKENS
from topicstrata.preprocess.cache import PreprocessCache, text_key
from topicstrata.preprocess.config import PreprocessConfig
from topicstrata.preprocess.views import ViewMaker, Views, init_worker, make_views_in_worker

__all__ = ["preprocess"]

logger = logging.getLogger(__name__)

#: Fewer distinct texts per worker than this and starting processes (each
#: loads spaCy, about 2 s) costs more than it saves.
MIN_TEXTS_PER_WORKER = {"full": 1_000, "fast": 20_000}

_TASK = "preprocess"


def _start_method() -> str:
    """fork where the OS has it: spawn re-imports ``__main__``, so a script without
    an ``if __name__ == "__main__":`` guard would respawn workers forever. The
    workers only run spaCy (no torch), so fork's thread hazards do not apply.
    """
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def _chunks(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def _make_views(
    texts: Sequence[str], config: PreprocessConfig, chunk_size: int
) -> Iterator[tuple[Sequence[str], list[Views]]]:
    """Yield ``(chunk, views)`` in input order, in process or in a worker pool."""
    workers = min(config.workers, len(texts) // MIN_TEXTS_PER_WORKER[config.mode])
    if not texts:
        return
    if workers <= 1:
        maker = ViewMaker(config)
        for chunk in _chunks(texts, chunk_size):
            yield chunk, maker(chunk)
        return
    logger.info("preprocessing %d distinct texts in %d worker processes", len(texts), workers)
    context = multiprocessing.get_context(_start_method())
    # An executor, not multiprocessing.Pool: a worker killed (e.g. out of memory)
    # raises BrokenProcessPool here instead of hanging forever.
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=init_worker, initargs=(config,)
    ) as pool:
        chunks = list(_chunks(texts, chunk_size))
        yield from zip(chunks, pool.map(make_views_in_worker, chunks), strict=True)


def preprocess(
    texts: Sequence[str] | pd.Series,
    config: PreprocessConfig | None = None,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Make the two text views of every record.

    Args:
        texts: one text per record. ``None``/NaN become ``""``; other non-strings ``str(x)``.
        config: options; defaults to ``PreprocessConfig()`` (full mode).
        cache_dir: directory of the content-hash cache; ``None`` disables caching.
        progress: called as ``progress("preprocess", done, total)``.

    Returns:
        A DataFrame with columns ``embed_text`` and ``keyword_tokens`` (both str,
        never missing), one row per input in input order; its index is the input
        Series' index, else a RangeIndex.
    """
    config = config or PreprocessConfig()
    report = progress or null_progress
    index = texts.index if isinstance(texts, pd.Series) else None
    values = [_as_text(value) for value in texts]
    total = len(values)
    started = time.perf_counter()
    report(_TASK, 0, total)

    unique = list(dict.fromkeys(values))
    keys: dict[str, bytes] = {}
    found: dict[str, Views] = {}
    cache = PreprocessCache(cache_dir, config.fingerprint()) if cache_dir is not None else None
    try:
        if cache is not None:
            keys = {text: text_key(text, cache.salt) for text in unique}
            hits = cache.get_many(list(keys.values()))
            found = {text: hits[key] for text, key in keys.items() if key in hits}
        missing = [text for text in unique if text not in found]
        counts: dict[str, int] = dict.fromkeys(missing, 0)
        for text in values:
            if text in counts:
                counts[text] += 1
        done = total - sum(counts.values())
        report(_TASK, done, total)
        chunk_size = max(config.batch_size, 1_000)
        for chunk, views in _make_views(missing, config, chunk_size):
            found.update(zip(chunk, views, strict=True))
            if cache is not None:
                cache.put_many(
                    (keys[text], embed, kw) for text, (embed, kw) in zip(chunk, views, strict=True)
                )
            done += sum(counts[text] for text in chunk)
            report(_TASK, done, total)
    finally:
        if cache is not None:
            cache.close()

    frame = pd.DataFrame(
        {
            EMBED_TEXT: [found[text][0] for text in values],
            KEYWORD_TOKENS: [found[text][1] for text in values],
        },
        index=index,
    )
    logger.info(
        "preprocessed %d records (%d distinct, %d computed, %s mode) in %.1f s",
        total,
        len(unique),
        len(missing),
        config.mode,
        time.perf_counter() - started,
    )
    return frame
