"""The document map of a run: a seeded sample of its records projected to 2-D, cached.

A map is computed once per run and sample size, then read from
``ROOT/.strata/studio/maps/<run>-<stamp>-s<sample>.parquet`` (``stamp`` hashes the
size and modification time of the run's ``assignments.parquet``, so a refitted run
gets a new map). The vectors are the run's own: the embed step's ``embeddings``
artefact from the run store, read memory-mapped, only the sampled rows. Where that
artefact is gone, the sampled texts are embedded again with the run's saved model.

UMAP compiles for 20-35 s on its first use in a process and fits 20,000 points in
tens of seconds, so pages ask :data:`JOBS` for a map: it answers at once (ready,
computing, or failed with the reason) and computes in a background thread, one per
run at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from topicstrata.errors import TopicStrataError
from topicstrata.io.writers import atomic_path
from topicstrata.mapping import path_sort_key
from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.store import RunStore
from topicstrata.run.outputs import ASSIGNMENTS, VIEWS, locate_model
from topicstrata.studio.errors import StudioError
from topicstrata.studio.rundir import RunDir

__all__ = [
    "JOBS",
    "MAP_SAMPLE",
    "MapJobs",
    "MapKey",
    "MapState",
    "build_map",
    "map_key",
    "map_points",
    "project",
    "read_map",
    "sample_vectors",
]

logger = logging.getLogger(__name__)

#: Records a map shows by default, and the bounds of the page's ``sample`` parameter.
MAP_SAMPLE = 20_000
MIN_SAMPLE = 100
MAX_SAMPLE = 50_000
#: Seed of the sample and of UMAP: a map is the same each time it is computed.
MAP_SEED = 0
#: Characters of a record's text kept for its hover.
HOVER_CHARS = 300
#: Part of every map's file name; bump it when a map file's content changes meaning.
MAP_VERSION = 1
#: UMAP's neighbourhood size and spacing of points in the 2-D map.
N_NEIGHBORS = 15
MIN_DIST = 0.1

_RERUN = (
    "run the pipeline again with the same data and config (cached steps are reused and "
    "the embed step's output is stored again), then reload this page"
)


def maps_dir(root: Path) -> Path:
    return root / ".strata" / "studio" / "maps"


@dataclass(frozen=True)
class MapKey:
    """Which map: the run, the state of its assignments, the number of sampled records."""

    run_id: str
    stamp: str
    sample: int
    n_records: int

    def file(self, root: Path) -> Path:
        return maps_dir(root) / f"{_safe(self.run_id)}-{self.stamp}-s{self.sample}.parquet"


def map_key(run_id: str, run_dir: Path, sample: int = MAP_SAMPLE) -> MapKey:
    """The key of the map of ``sample`` records of the run in ``run_dir`` (reads no rows)."""
    file = run_dir / ASSIGNMENTS
    stat = file.stat()
    n_records = pq.ParquetFile(file).metadata.num_rows
    basis = f"{MAP_VERSION}:{MAP_SEED}:{stat.st_size}:{stat.st_mtime_ns}"
    stamp = hashlib.sha256(basis.encode()).hexdigest()[:12]
    return MapKey(run_id, stamp, min(sample, n_records), n_records)


class _Unavailable(Exception):
    """One source of vectors cannot be used; the message says why."""


# --------------------------------------------------------------------------- vectors
def _step_output(
    store: RunStore, artifacts: ArtifactStore, run_id: str, step: str, name: str
) -> Any:
    """Output ``name`` of ``step`` in the run: its own artefact, or a key of a dict output."""
    rows = [r for r in store.lineage(run_id, step) if r["direction"] == "write"]
    if not rows:
        raise _Unavailable(f"the run store records no outputs of step {step!r} for run {run_id}")
    named = [r for r in rows if r["name"] == name]
    for row in named or rows:
        sha = row["sha256"]
        if not artifacts.exists(sha):
            if named:
                raise _Unavailable(
                    f"the {step} step's {name!r} output (artefact {sha[:12]}) is no longer "
                    f"in {artifacts.dir}"
                )
            continue
        try:
            value = artifacts.get(sha)
        except (TopicStrataError, OSError) as exc:
            raise _Unavailable(
                f"the {step} step's artefact {sha[:12]} cannot be read: {exc}"
            ) from exc
        if named:
            return value
        if isinstance(value, dict) and name in value:
            return value[name]
    raise _Unavailable(f"step {step!r} of run {run_id} stored no {name!r} output")


def _stored_vectors(root: Path, run_id: str, run_dir: Path, ids: list[str]) -> NDArray[np.float32]:
    store, artifacts = RunStore(root), ArtifactStore(root)
    embeddings = _step_output(store, artifacts, run_id, "embed", "embeddings")
    try:
        row_ids = [str(i) for i in _step_output(store, artifacts, run_id, "ingest", "ids")]
    except _Unavailable as why:
        # views.parquet holds the embed step's rows in the same order.
        views = run_dir / VIEWS
        if not views.is_file():
            raise _Unavailable(f"{why}, and {views} is missing") from None
        logger.info("map of run %s: %s; reading the row order from %s", run_id, why, views)
        row_ids = [str(i) for i in pq.read_table(views, columns=["id"])["id"].to_pylist()]
    if not hasattr(embeddings, "shape") or len(embeddings) != len(row_ids):
        raise _Unavailable(
            f"the embed step's vectors ({getattr(embeddings, 'shape', type(embeddings))}) "
            f"do not match the run's {len(row_ids):,} records"
        )
    index = pd.Index(row_ids)
    if not index.is_unique:
        raise _Unavailable(
            f"the run's row ids (ingest step) repeat {index.duplicated().sum():,} ids"
        )
    positions = index.get_indexer(ids)
    if (positions < 0).any():
        raise _Unavailable(
            f"{int((positions < 0).sum()):,} sampled records are not among the embed step's rows"
        )
    return np.asarray(embeddings[positions], dtype=np.float32)


def _embed_again(run_dir: Path, ids: list[str]) -> tuple[NDArray[np.float32], str]:
    located = locate_model(run_dir)
    if located is None:
        raise _Unavailable(f"{run_dir} has no saved model (model/) to embed the texts with")
    texts = RunDir(run_dir).record_texts(ids)
    missing = [i for i in ids if texts.get(i) is None]
    if missing:
        raise _Unavailable(
            f"{run_dir / 'views.parquet'} lacks the text of {len(missing):,} sampled records "
            f"(e.g. {missing[0]})"
        )
    from topicstrata.embed import embed_texts
    from topicstrata.ensemble.predictor import TopicPredictor

    try:
        embedder = TopicPredictor.load(located[0]).embedder
        vectors = embed_texts([texts[i] for i in ids], embedder, use_cache=False)
    except Exception as exc:  # any failure of the fallback: the caller says neither works
        logger.exception("map: the saved model in %s could not embed the sample", located[0])
        raise _Unavailable(
            f"the saved model in {located[0]} could not embed them ({type(exc).__name__}: {exc})"
        ) from exc
    return vectors, (
        f"embedded again with the run's saved model ({embedder.name}): "
        "the embed step's output is gone"
    )


def sample_vectors(
    root: Path, run_id: str, run_dir: Path, ids: list[str]
) -> tuple[NDArray[np.float32], str]:
    """The vectors of records ``ids``, one row each in that order, and where they came from.

    The embed step's own output first; where it is gone, the texts embedded again
    with the run's saved model. Neither: a :class:`StudioError` naming both reasons.
    """
    try:
        return _stored_vectors(root, run_id, run_dir, ids), "stored by the run's embed step"
    except _Unavailable as why:
        stored = str(why)
    logger.warning(
        "map of run %s: %s; embedding the %d sampled texts again with the run's saved model",
        run_id,
        stored,
        len(ids),
    )
    try:
        return _embed_again(run_dir, ids)
    except _Unavailable as why:
        raise StudioError(
            404,
            f"no vectors to map run {run_id}",
            f"{stored}, and {why}. To see the map, {_RERUN}.",
        ) from None


# --------------------------------------------------------------------------- projection
def project(vectors: NDArray[np.float32], random_state: int = MAP_SEED) -> NDArray[np.float32]:
    """2-D UMAP (cosine) of ``vectors``; seeded, single-threaded, so the same each time."""
    from umap import UMAP  # deferred: importing umap pulls numba

    from topicstrata.layers.reduce import exact_umap_graph

    X = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(X) < 3:
        raise StudioError(422, "too few records to map", f"{len(X)} records; a map needs 3.")
    k = min(N_NEIGHBORS, len(X) - 1)
    reducer = UMAP(
        n_components=2,
        n_neighbors=k,
        min_dist=MIN_DIST,
        metric="cosine",
        random_state=random_state,
        n_jobs=1,
    )
    # An exact graph (up to EXACT_NEIGHBORS_MAX_ROWS) skips pynndescent, whose NN-descent
    # compiles for ~30 s per process.
    exact_umap_graph(reducer, X)
    with warnings.catch_warnings():
        # Only the fit's embedding is used, never UMAP's transform.
        warnings.filterwarnings("ignore", message=r".*knn_search_index.*")
        return np.asarray(reducer.fit_transform(X), dtype=np.float32)


# --------------------------------------------------------------------------- the map file
def build_map(root: Path, key: MapKey, run_dir: Path) -> Path:
    """Compute the map ``key`` names and write it (atomically) to ``key.file(root)``."""
    # Deferred: the tune package imports optuna, which pages need not load.
    from topicstrata.tune.data import sample_rows

    started = time.perf_counter()
    files = RunDir(run_dir)
    levels = [f"path_l{i}" for i in range(1, files.depth + 1)]
    frame = files.assignments(["id", "path", *levels])
    rows = sample_rows(len(frame), key.sample, MAP_SEED)
    chosen = frame.iloc[rows].reset_index(drop=True)
    ids = chosen["id"].astype(str).tolist()
    vectors, source = sample_vectors(root, key.run_id, run_dir, ids)
    xy = project(vectors)
    texts = files.record_texts(ids)
    out = pd.DataFrame(
        {
            "id": ids,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "path": chosen["path"].astype(str),
            **{c: chosen[c].astype(str) for c in levels},
            "text": [(texts.get(i) or "")[:HOVER_CHARS] for i in ids],
        }
    )
    seconds = time.perf_counter() - started
    meta = {"source": source, "n_records": len(frame), "seconds": round(seconds, 2)}
    table = pa.Table.from_pandas(out, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"topicstrata.map": json.dumps(meta).encode()}
    )
    target = key.file(root)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    _remove_stale(root, key)
    logger.info(
        "map of run %s: %d of %d records in %.1f s (vectors: %s)",
        key.run_id,
        len(out),
        len(frame),
        seconds,
        source,
    )
    return target


def _safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def _remove_stale(root: Path, key: MapKey) -> None:
    """Maps of the run's earlier assignments (refitted since): never read again."""
    pattern = re.compile(rf"{re.escape(_safe(key.run_id))}-([0-9a-f]{{12}})-s\d+\.parquet")
    for old in maps_dir(root).glob("*.parquet"):
        match = pattern.fullmatch(old.name)
        if match and match.group(1) != key.stamp:
            old.unlink(missing_ok=True)


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(b"topicstrata.map", b"{}"))
    return table.to_pandas(), meta


def read_map(file: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A map file's points and its metadata (source of the vectors, records, seconds)."""
    frame, meta = _read(str(file), file.stat().st_mtime_ns)
    return frame.copy(), dict(meta)


def map_points(file: Path, level: int, labels: dict[str, str]) -> dict[str, Any]:
    """The map at ``level`` as the page draws it: topics, then one array per column."""
    frame, meta = read_map(file)
    column = f"path_l{level}"
    counts = frame[column].value_counts()
    paths = sorted(counts.index, key=path_sort_key)
    code = {p: i for i, p in enumerate(paths)}
    return {
        "level": level,
        "n_records": int(meta.get("n_records", len(frame))),
        "n_sample": len(frame),
        "source": meta.get("source", ""),
        "topics": [{"path": p, "label": labels.get(p, p), "count": int(counts[p])} for p in paths],
        "points": {
            "id": frame["id"].tolist(),
            "x": np.round(frame["x"].to_numpy(np.float64), 4).tolist(),
            "y": np.round(frame["y"].to_numpy(np.float64), 4).tolist(),
            "topic": frame[column].map(code).astype(int).tolist(),
            "path": frame["path"].tolist(),
            "text": frame["text"].tolist(),
        },
    }


# --------------------------------------------------------------------------- background
@dataclass(frozen=True)
class MapState:
    """What a page shows: the map, that it is being computed, or why it failed."""

    status: Literal["ready", "computing", "failed"]
    key: MapKey
    file: Path
    started_at: float | None = None
    error: StudioError | None = None


@dataclass
class _Job:
    key: MapKey
    started_at: float
    done: bool = False
    error: StudioError | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


class MapJobs:
    """The maps being computed, at most one per run; a failure is kept until a retry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    def request(
        self, root: Path, run_id: str, run_dir: Path, sample: int, *, retry: bool = False
    ) -> MapState:
        """The map's state now; starts its computation when it is neither ready nor running."""
        key = map_key(run_id, run_dir, sample)
        file = key.file(root)
        with self._lock:
            job = self._jobs.get(run_id)
            if file.is_file():
                return MapState("ready", key, file)
            if job is not None and not job.done:
                return MapState("computing", job.key, job.key.file(root), job.started_at)
            if job is not None and job.key == key and job.error is not None and not retry:
                return MapState("failed", key, file, job.started_at, job.error)
            job = _Job(key, time.time())
            job.thread = threading.Thread(
                target=self._compute, args=(job, root, run_dir), name=f"map-{run_id}", daemon=True
            )
            self._jobs[run_id] = job
            job.thread.start()
            return MapState("computing", key, file, job.started_at)

    def _compute(self, job: _Job, root: Path, run_dir: Path) -> None:
        error: StudioError | None = None
        try:
            build_map(root, job.key, run_dir)
        except StudioError as exc:
            logger.warning("map of run %s failed: %s", job.key.run_id, exc)
            error = exc
        except Exception as exc:  # shown on the page; the traceback goes to the log
            logger.exception("map of run %s failed", job.key.run_id)
            error = StudioError(
                500,
                f"the map of run {job.key.run_id} failed",
                f"{type(exc).__name__}: {exc}. The studio's log has the traceback; "
                "reload with retry=1 to try again, and report it if it fails again.",
            )
        with self._lock:
            job.error = error
            job.done = True

    def wait(self, run_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the run's computation; whether none is running now."""
        with self._lock:
            job = self._jobs.get(run_id)
        if job is None or job.thread is None:
            return True
        job.thread.join(timeout)
        return not job.thread.is_alive()


#: The studio process's map computations (one process serves one studio).
JOBS = MapJobs()
