"""``preprocess``: many records to both views, with dedupe, cache and worker processes.

Order of work: coerce inputs to strings, look every text up in the cache
(one batched query per 900 keys), deduplicate the misses, make their views in
chunks (in process for small inputs, else in a pool of forked or spawned workers
that each load spaCy once), write each finished chunk to the cache, and scatter
the views back to every input position. Rows are never dropped or reordered.

With the vocabulary entity filter (the default in full mode) the per-record
part is fast mode's (cleaned text, untagged lemmas); then a sample is drawn
from the distinct cleaned texts, spaCy reads only the sample, a
:class:`~topicstrata.preprocess.vocabulary.VocabularyFilter` learns from it, and
every other text's keywords are made with it. Sampled texts keep the record
filter's keywords. What is cached under which key is in ``cache.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.errors import ConfigError
from topicstrata.io.schema import EMBED_TEXT, KEYWORD_TOKENS
from topicstrata.preprocess.cache import PreprocessCache, salt_for, text_key
from topicstrata.preprocess.config import PreprocessConfig
from topicstrata.preprocess.nlp import split_words
from topicstrata.preprocess.views import ViewMaker, Views, init_worker, run_in_worker
from topicstrata.preprocess.vocabulary import VocabularyFilter, draw_sample, sample_order

__all__ = ["ChunkWorkers", "EntitySample", "WorkersFactory", "learn_entity_filter", "preprocess"]

logger = logging.getLogger(__name__)

#: Fewer distinct texts per worker than this and starting processes (each
#: loads spaCy, about 2 s) costs more than it saves. Full mode with the
#: vocabulary filter runs spaCy on up to ``entity_sample`` texts, so it counts as full.
MIN_TEXTS_PER_WORKER = {"full": 1_000, "fast": 20_000}

_TASK = "preprocess"
_TASK_SAMPLE = "preprocess: entity sample"

#: Called with the texts just finished, for progress.
Done = Callable[[Sequence[str]], None]


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where the OS has it, else spawn.

    Not fork: a forked worker starts as a copy of this process, which by then holds the
    whole input table (GBs at a million records); its pages stay shared only until
    reference counting touches them, and every worker's RSS counts them again. A
    forkserver's workers are forked from a small server process instead. Its preload is
    this package's worker module, not ``__main__``: spawn and forkserver's default both
    re-import the main script, so one without an ``if __name__ == "__main__":`` guard
    would run again in the server.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["topicstrata.preprocess.views"])
        return context
    return multiprocessing.get_context("spawn")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def _chunks(texts: Sequence[str], size: int) -> list[Sequence[str]]:
    return [texts[start : start + size] for start in range(0, len(texts), size)]


class ChunkWorkers:
    """Run :class:`ViewMaker` tasks on chunks of texts, in this process or in a pool.

    The pool starts only when there are enough texts to pay for loading spaCy in
    each worker; a vocabulary-filter run uses one pool for all its stages. Another
    engine subclasses it and overrides ``__enter__``, ``__exit__`` and ``map`` (e.g.
    ``topicstrata.pipeline.raydata.RayDataWorkers``: a Ray Data actor pool).
    """

    def __init__(self, config: PreprocessConfig, n_texts: int) -> None:
        self.config = config
        self.n_workers = min(config.workers, n_texts // MIN_TEXTS_PER_WORKER[config.mode])
        self._maker: ViewMaker | None = None
        self._pool: Executor | None = None

    def __enter__(self) -> ChunkWorkers:
        if self.n_workers > 1:
            # An executor, not multiprocessing.Pool: a worker killed (e.g. out of memory)
            # raises BrokenProcessPool here instead of hanging forever.
            self._pool = ProcessPoolExecutor(
                self.n_workers,
                mp_context=_context(),
                initializer=init_worker,
                initargs=(self.config,),
            )
            logger.info("preprocessing in %d worker processes", self.n_workers)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def map(
        self, task: str, chunks: Iterable[Sequence[str]], *args: Any
    ) -> Iterator[tuple[Sequence[str], list[Any]]]:
        """Yield ``(chunk, ViewMaker.<task>(chunk, *args))`` in order.

        Lazy: a pool is handed at most two chunks per worker ahead of the one yielded,
        so a caller that stops early (the sample scan) leaves the rest undone.
        """
        if self._pool is None:
            if self._maker is None:
                self._maker = ViewMaker(self.config)
            for chunk in chunks:
                yield chunk, getattr(self._maker, task)(chunk, *args)
            return
        pending: deque[tuple[Sequence[str], Future[list[Any]]]] = deque()
        try:
            for chunk in chunks:
                pending.append((chunk, self._pool.submit(run_in_worker, task, chunk, args)))
                if len(pending) > 2 * self.n_workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()


#: ``factory(config, n_distinct_texts)`` -> the workers of one ``preprocess`` call.
WorkersFactory = Callable[[PreprocessConfig, int], ChunkWorkers]


def _per_record_views(
    texts: Sequence[str],
    salt: bytes,
    workers: ChunkWorkers,
    cache: PreprocessCache | None,
    done: Done,
) -> dict[str, Views]:
    """The per-record views of distinct ``texts``, from the cache (rows under ``salt``)
    where present; ``done(texts)`` is called as texts finish."""
    keys: dict[str, bytes] = {}
    found: dict[str, Views] = {}
    if cache is not None:
        keys = {text: text_key(text, salt) for text in texts}
        hits = cache.get_many(list(keys.values()))
        found = {text: hits[key] for text, key in keys.items() if key in hits}
    done(list(found))
    missing = [text for text in texts if text not in found]
    chunk_size = max(workers.config.batch_size, 1_000)
    for chunk, views in workers.map("__call__", _chunks(missing, chunk_size)):
        found.update(zip(chunk, views, strict=True))
        if cache is not None:
            cache.put_many(
                (keys[text], embed, kw) for text, (embed, kw) in zip(chunk, views, strict=True)
            )
        done(chunk)
    return found


def _corpus_salt(salt: bytes, texts: Sequence[str]) -> bytes:
    """A salt for views that depend on the whole corpus: the config's salt and the set
    of distinct texts (order and duplicates do not matter)."""
    digest = hashlib.sha256(salt)
    for key in sorted(text_key(text, salt) for text in texts):
        digest.update(key)
    return digest.digest()


def _read_sample(
    sample: Sequence[str],
    config: PreprocessConfig,
    workers: ChunkWorkers,
    cache: PreprocessCache | None,
    report: ProgressCallback,
) -> dict[str, tuple[str, str]]:
    """``(keyword_tokens, evidence)`` of each sampled cleaned text, from the cache where
    present. Keyed by the record filter's fingerprint: both come from spaCy per record."""
    keys: dict[str, bytes] = {}
    found: dict[str, tuple[str, str]] = {}
    if cache is not None:
        record = dataclasses.replace(config, entity_filter="record")
        salt = salt_for(record.fingerprint())
        keys = {text: text_key(text, salt) for text in sample}
        hits = cache.get_evidence(list(keys.values()))
        found = {text: hits[key] for text, key in keys.items() if key in hits}
    missing = [text for text in sample if text not in found]
    report(_TASK_SAMPLE, len(found), len(sample))
    logger.info(
        "entity sample: %d records (%d cached), spaCy reads %d",
        len(sample),
        len(found),
        len(missing),
    )
    # Small chunks: this is the slow stage, and a pool shares it out by chunk.
    size = max(config.batch_size, math.ceil(len(missing) / (4 * max(workers.n_workers, 1))))
    for chunk, read in workers.map("read_sample", _chunks(missing, size)):
        found.update(zip(chunk, read, strict=True))
        if cache is not None:
            cache.put_evidence(
                (keys[text], kw, evidence) for text, (kw, evidence) in zip(chunk, read, strict=True)
            )
        report(_TASK_SAMPLE, len(found), len(sample))
    return found


@dataclass(frozen=True)
class EntitySample:
    """What the vocabulary entity filter learned from a corpus.

    Attributes:
        words: the learned filter (entity decisions in context, tags).
        keywords: each sampled cleaned text's keywords from spaCy (record filter);
            those texts keep them.
    """

    words: VocabularyFilter
    keywords: dict[str, str]


def _learn(
    unique: Sequence[str],
    config: PreprocessConfig,
    workers: ChunkWorkers,
    cache: PreprocessCache | None,
    report: ProgressCallback,
) -> tuple[EntitySample, dict[str, str]]:
    """Draw the sample from distinct raw ``unique`` texts, read it with spaCy, fit the filter.

    Records are visited in a seeded order and cleaned a chunk at a time only until the
    sample is drawn (a few thousand). Also returns the cleaned text of each raw text
    visited.
    """
    order = [unique[i] for i in sample_order(unique, config.random_state)]
    scanned: dict[str, str] = {}
    candidates: dict[str, None] = {}  # distinct cleaned texts, in order
    chunk_size = max(config.batch_size, 1_000)

    def candidate_terms() -> Iterator[set[str]]:
        for chunk, views in workers.map("__call__", _chunks(order, chunk_size)):
            for text, (embed_text, untagged) in zip(chunk, views, strict=True):
                scanned[text] = embed_text
                if embed_text not in candidates:  # texts that clean alike are one candidate
                    candidates[embed_text] = None
                    yield set(untagged.split())

    drawn = set(draw_sample(candidate_terms(), config.entity_contexts, config.entity_sample))
    sample = [text for i, text in enumerate(candidates) if i in drawn]
    read = _read_sample(sample, config, workers, cache, report)
    words = VocabularyFilter(config.entity_share).fit(
        (split_words(text), read[text][1]) for text in sample
    )
    logger.info(
        "entity filter: spaCy read %d texts; %d cleaned to draw them",
        len(sample),
        len(scanned),
    )
    return EntitySample(words, {text: read[text][0] for text in sample}), scanned


def learn_entity_filter(
    texts: Sequence[str] | pd.Series,
    config: PreprocessConfig | None = None,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> EntitySample:
    """What :func:`preprocess` learns for the vocabulary entity filter from ``texts``.

    For inspection and benchmarks: ``preprocess`` with the same texts and config uses
    the same sample and filter. ``cache_dir`` shares its cache of spaCy's reads.
    """
    config = config or PreprocessConfig()
    if not config.samples_entities:
        raise ConfigError(
            f"learn_entity_filter needs mode='full' and entity_filter='vocabulary', got "
            f"mode={config.mode!r}, entity_filter={config.entity_filter!r}."
        )
    unique = list(dict.fromkeys(_as_text(value) for value in texts))
    cache = PreprocessCache(cache_dir, config.fingerprint()) if cache_dir is not None else None
    try:
        with ChunkWorkers(config, len(unique)) as workers:
            learned, _ = _learn(unique, config, workers, cache, progress or null_progress)
    finally:
        if cache is not None:
            cache.close()
    return learned


def _vocabulary_views(
    unique: Sequence[str],
    config: PreprocessConfig,
    cache: PreprocessCache | None,
    report: ProgressCallback,
    count: dict[str, int],
    make_workers: WorkersFactory,
) -> dict[str, Views]:
    """Views of distinct raw ``unique`` texts with the vocabulary entity filter: sampled
    texts keep spaCy's keywords, every other one is cleaned and filtered in one pass."""
    total = sum(count.values())
    final_salt = b""
    if cache is not None:
        final_salt = _corpus_salt(cache.salt, unique)
        keys = {text: text_key(text, final_salt) for text in unique}
        hits = cache.get_many(list(keys.values()))
        if len(hits) == len(keys):
            report(_TASK, total, total)
            return {text: hits[key] for text, key in keys.items()}

    found: dict[str, Views] = {}
    done = 0

    def finished(raw: Sequence[str], views: Sequence[Views]) -> None:
        nonlocal done
        found.update(zip(raw, views, strict=True))
        done += sum(count[text] for text in raw)
        report(_TASK, done, total)

    with make_workers(config, len(unique)) as workers:
        learned, scanned = _learn(unique, config, workers, cache, report)
        sampled = [text for text, embed in scanned.items() if embed in learned.keywords]
        finished(sampled, [(scanned[text], learned.keywords[scanned[text]]) for text in sampled])
        # The few thousand texts cleaned for the scan are cleaned again: simpler than two
        # kinds of task, for about 1% of a large run's time.
        rest = [text for text in unique if text not in found]
        # Few large chunks: each carries a pickled copy of the filter to a worker.
        size = max(1_000, math.ceil(len(rest) / (4 * max(workers.n_workers, 1))))
        for chunk, views in workers.map("filtered_views", _chunks(rest, size), learned.words):
            finished(chunk, views)

    if cache is not None:
        cache.put_many(
            (text_key(text, final_salt), embed, kw) for text, (embed, kw) in found.items()
        )
    return found


def preprocess(
    texts: Sequence[str] | pd.Series,
    config: PreprocessConfig | None = None,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    workers: WorkersFactory | None = None,
) -> pd.DataFrame:
    """Make the two text views of every record.

    Args:
        texts: one text per record. ``None``/NaN become ``""``; other non-strings ``str(x)``.
        config: options; defaults to ``PreprocessConfig()`` (full mode, vocabulary
            entity filter: a record's keywords then depend on the whole input, as the
            entity sample is drawn from it).
        cache_dir: directory of the content-hash cache; ``None`` disables caching.
        progress: called as ``progress("preprocess", done, total)``; the vocabulary
            filter also reports ``"preprocess: entity sample"`` (texts spaCy read).
        workers: where chunks of texts are processed (default: this process, or a
            pool of worker processes on large inputs).

    Returns:
        A DataFrame with columns ``embed_text`` and ``keyword_tokens`` (both str,
        never missing), one row per input in input order; its index is the input
        Series' index, else a RangeIndex.
    """
    config = config or PreprocessConfig()
    report = progress or null_progress
    make_workers = workers or ChunkWorkers
    index = texts.index if isinstance(texts, pd.Series) else None
    values = [_as_text(value) for value in texts]
    total = len(values)
    started = time.perf_counter()
    report(_TASK, 0, total)

    unique = list(dict.fromkeys(values))
    count: dict[str, int] = dict.fromkeys(unique, 0)
    for text in values:
        count[text] += 1
    cache = PreprocessCache(cache_dir, config.fingerprint()) if cache_dir is not None else None
    try:
        if config.samples_entities:
            found = _vocabulary_views(unique, config, cache, report, count, make_workers)
        else:
            state = {"done": 0}

            def done(finished: Sequence[str]) -> None:
                state["done"] += sum(count[text] for text in finished)
                report(_TASK, state["done"], total)

            salt = cache.salt if cache is not None else b""
            with make_workers(config, len(unique)) as chunk_workers:
                found = _per_record_views(unique, salt, chunk_workers, cache, done)
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
        "preprocessed %d records (%d distinct, %s mode) in %.1f s",
        total,
        len(unique),
        config.mode if not config.samples_entities else "full, vocabulary filter",
        time.perf_counter() - started,
    )
    return frame
