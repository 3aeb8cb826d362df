"""What a fit leaves in its run directory (see DESIGN "Run directory").

``assignments.parquet``, ``topics.parquet``, ``hierarchy.json``,
``mapping.v<N>.yaml``, ``model/``, ``metrics.json``, ``report.html`` and the
ingest row report. Files are written to a temporary name and renamed, and one process
at a time writes a run directory: a second ``strata fit`` into the same ``-o`` waits for
the first to finish writing (an OS file lock, released if its holder dies), then writes
its own complete set.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from topicstrata.ensemble import Ensemble
from topicstrata.ensemble.persist import MANIFEST
from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.errors import WRITE_ERRNOS, OutputError, output_error
from topicstrata.io import RowReport, write_table
from topicstrata.io.schema import ANNUALIZED_REVENUE, ID, INDUSTRY
from topicstrata.io.writers import atomic_path
from topicstrata.mapping import dump_mapping, path_sort_key

ASSIGNMENTS = "assignments.parquet"
TOPICS = "topics.parquet"
HIERARCHY = "hierarchy.json"
METRICS = "metrics.json"
REPORT = "report.html"
VIEWS = "views.parquet"
MODEL = "model"
#: The lock file of a run directory's writer (inside it, hidden).
WRITE_LOCK = ".write.lock"
#: How long a second writer of one run directory waits for the first.
WRITE_LOCK_WAIT_S = 3600.0

logger = logging.getLogger(__name__)


def locate_model(path: str | Path) -> tuple[Path, Path | None] | None:
    """``(model directory, run directory or None)`` for a run directory or a saved model.

    A run directory is recognised by its ``model/`` folder holding a saved model; a
    model directory given directly has a run directory only when its parent has
    ``metrics.json``. ``None`` when ``path`` is neither; callers word the error.
    """
    path = Path(path)
    if (path / MODEL / MANIFEST).is_file():
        return path / MODEL, path
    if (path / MANIFEST).is_file():
        return path, path.parent if (path.parent / METRICS).is_file() else None
    return None


def write_json(path: Path, data: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path


#: What a user does once a run directory can be written again.
THEN_RESUME = "or choose another --output; then resume the run (`strata pipeline resume RUN`)"


@contextmanager
def writing(run_dir: Path) -> Iterator[None]:
    """Turn a failed write under ``run_dir`` (disk full, read-only...) into an
    ``OutputError`` naming it; what was written is renamed into place only when whole."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:  # a bug, not the disk: keep its own message
            raise
        raise output_error("the run directory", run_dir, exc, THEN_RESUME) from exc


def check_writable(run_dir: Path) -> None:
    """Fail before any work when the run directory cannot be written (a probe file)."""
    with writing(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".probe-"):
            pass


@contextmanager
def exclusive(run_dir: Path, wait_s: float = WRITE_LOCK_WAIT_S) -> Iterator[None]:
    """Hold the run directory's write lock; says so when another process holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / WRITE_LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        logger.warning("%s is being written by another process; waiting for it", run_dir)
        try:
            lock.acquire(timeout=wait_s)
        except Timeout:
            raise OutputError(
                f"{run_dir} was still being written by another process after {wait_s:.0f} s; "
                "wait for that `strata fit` to end (or choose another --output), then resume."
            ) from None
    try:
        yield
    finally:
        lock.release()


def assignments_frame(ensemble: Ensemble, table: pd.DataFrame) -> pd.DataFrame:
    """The ensemble's assignments with the record metadata used by the report."""
    frame = ensemble.assignments_.copy()
    for col in (INDUSTRY, ANNUALIZED_REVENUE):
        if col in table.columns:
            frame[col] = table[col].to_numpy()
    return frame


def topics_frame(ensemble: Ensemble) -> pd.DataFrame:
    frame = ensemble.topics_frame()
    for col in (
        "keywords",
        "keyword_scores",
        "vocabulary",
        "phrases",
        "representative_ids",
        "flags",
    ):
        frame[col] = frame[col].map(list)
    return frame


def hierarchy(ensemble: Ensemble, assignments: pd.DataFrame) -> dict[str, Any]:
    """The final tree (after the mapping) as nested JSON with record counts."""
    mapping = ensemble.mapping_
    entries = mapping.by_path()
    counts = assignments["path"].value_counts().to_dict()
    nodes: dict[str, dict[str, Any]] = {}
    for path in sorted(set(assignments["path"]), key=path_sort_key):
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            sub = ".".join(parts[:depth])
            if sub not in nodes:
                entry = entries.get(sub)
                nodes[sub] = {
                    "path": sub,
                    "label": entry.label if entry else ("Outliers" if sub == "-1" else sub),
                    "keywords": list(entry.keywords) if entry else [],
                    "size": 0,
                    "children": [],
                }
    for path, n in counts.items():
        parts = str(path).split(".")
        for depth in range(1, len(parts) + 1):
            nodes[".".join(parts[:depth])]["size"] += int(n)
    roots: list[dict[str, Any]] = []
    for path in sorted(nodes, key=path_sort_key):
        parent = path.rpartition(".")[0]
        (nodes[parent]["children"] if parent in nodes else roots).append(nodes[path])
    return {"n_records": len(assignments), "mapping_version": mapping.version, "topics": roots}


def write_run(
    run_dir: str | Path,
    *,
    table: pd.DataFrame,
    report: RowReport,
    ensemble: Ensemble,
    predictor: TopicPredictor,
    metrics: dict[str, Any],
    views: pd.DataFrame,
    label_cols: list[str] | None = None,
) -> dict[str, Path]:
    """Write every run-directory file, holding its write lock; returns name -> path."""
    from topicstrata.run.report import render_report

    run_dir = Path(run_dir)
    with writing(run_dir), exclusive(run_dir):
        assignments = assignments_frame(ensemble, table)
        topics = topics_frame(ensemble)
        written = {
            ASSIGNMENTS: write_table(assignments, run_dir / ASSIGNMENTS),
            TOPICS: write_table(topics, run_dir / TOPICS),
            HIERARCHY: write_json(run_dir / HIERARCHY, hierarchy(ensemble, assignments)),
        }
        for mapping in ensemble.mappings_:
            name = f"mapping.v{mapping.version}.yaml"
            dump_mapping(mapping, run_dir / name)
            written[name] = run_dir / name
        written[MODEL] = predictor.save(run_dir / MODEL)
        written.update({Path(p).name: Path(p) for p in report.write(run_dir)})
        written[METRICS] = write_json(run_dir / METRICS, metrics)
        # The keyword corpus (for re-evaluating coherence) and the label columns used.
        keep = [c for c in (label_cols or []) if c in table.columns]
        view_frame = pd.concat(
            [
                table[[ID]].reset_index(drop=True),
                views.reset_index(drop=True),
                table[keep].reset_index(drop=True),
            ],
            axis=1,
        )
        written[VIEWS] = write_table(view_frame, run_dir / VIEWS)
        texts = dict(zip(table[ID].astype(str), table["text"].astype(str), strict=True))
        html = render_report(ensemble, assignments, topics, metrics, texts)
        page = run_dir / REPORT
        with atomic_path(page) as tmp:
            tmp.write_text(html, encoding="utf-8")
        written[REPORT] = page
        for draft in run_dir.glob("mapping.v*.draft.yaml"):
            draft.unlink(missing_ok=True)  # accepted: the final mapping files replace them
        return written
