"""``run_fit``: one call that runs the default topic pipeline, records file in, run directory out.

It is the Python face of ``strata fit`` and takes the same path: the default
pipeline (:mod:`topicstrata.pipeline.topic`) with its cache, run records and
review points. There is no second chain of the steps to drift from it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.config import StrataConfig
from topicstrata.ensemble import Ensemble, ReviewCallback
from topicstrata.io import RowReport
from topicstrata.mapping import Mapping, dumps_mapping, load_mapping
from topicstrata.pipeline.executor import Executor
from topicstrata.pipeline.hashing import hash_bytes
from topicstrata.pipeline.hooks import PipelineHooks
from topicstrata.pipeline.runner import RunResult, resume_run, run_pipeline
from topicstrata.pipeline.topic import build_pipeline

__all__ = ["FitResult", "run_fit"]

_REVIEW = "review_"


@dataclass
class FitResult:
    """What a fit produced.

    ``root`` holds the run's ``.strata/`` records (``None`` when the fit ran
    without caching: they went with the temporary folder). ``timings`` are
    seconds per pipeline step (a cache hit costs about nothing).
    """

    run_dir: Path
    run_id: str
    root: Path | None
    ensemble: Ensemble
    report: RowReport
    metrics: dict[str, Any]
    timings: dict[str, float]
    files: dict[str, Path]


class _Progress(PipelineHooks):
    """Forwards the steps' progress reports to a ``ProgressCallback``."""

    def __init__(self, progress: ProgressCallback) -> None:
        self.progress = progress

    def on_progress(self, run_id: str, step: str, task: str, done: int, total: int | None) -> None:
        self.progress(task, done, total)


def run_fit(
    data: str | Path,
    run_dir: str | Path,
    config: StrataConfig | None = None,
    *,
    mapping: str | Path | Mapping | None = None,
    label_cols: Sequence[str] | None = None,
    cache_dir: str | Path | None = None,
    review: ReviewCallback | None = None,
    progress: ProgressCallback = null_progress,
    executor: Executor | None = None,
) -> FitResult:
    """Run the default topic pipeline on ``data`` and write the run directory ``run_dir``.

    The same path as ``strata fit``. ``mapping`` is an edited mapping file of
    an earlier fit (or a :class:`Mapping`): its labels, actions and rules are
    carried over. ``cache_dir`` holds every cache of the fit: the pipeline's
    artefacts and run records (``cache_dir/.strata``, so ``strata pipeline
    status --root cache_dir`` shows the run) and the text caches; ``None``
    runs the pipeline with caching off in a temporary folder removed
    afterwards. ``review(layer, draft)`` is called at each layer's review
    point and may return an edited mapping (``None`` approves the draft);
    without it every review is approved as is. ``executor`` runs the steps
    (default: a ``LocalExecutor``; ``make_executor("ray")`` for Ray): the
    results and the cache do not depend on it.
    """
    config = config or StrataConfig()
    pipeline = build_pipeline(len(config.ensemble.layers))
    hooks = [_Progress(progress)]
    with _root(cache_dir) as (root, cache):
        params = {
            "data": str(data),
            "output": str(run_dir),
            "config": config.model_dump(mode="json"),
            "mapping": _mapping_file(mapping, root),
            "labels": ",".join(label_cols or ()),
            "cache_dir": str(root / ".strata" / "cache") if cache else "",
            "auto_approve": review is None,
        }
        result = run_pipeline(
            pipeline, params, root=root, executor=executor, hooks=hooks, cache=cache
        )
        while result.status == "waiting" and result.waiting is not None:
            step = str(result.waiting["step"])
            layer_no = int(step.removeprefix(_REVIEW))
            draft = result.output(f"layer_{layer_no}", "mapping")
            reviewed = review(layer_no, draft) if review is not None else None
            result = resume_run(
                root,
                result.run_id,
                reviewed or draft,
                pipeline=pipeline,
                executor=executor,
                hooks=hooks,
                cache=cache,
            )
        return _fit_result(result, Path(run_dir), root if cache else None)


@contextmanager
def _root(cache_dir: str | Path | None) -> Iterator[tuple[Path, bool]]:
    """The pipeline root and whether caching is on; without a cache, a temporary root."""
    if cache_dir is not None:
        yield Path(cache_dir), True
        return
    folder = Path(tempfile.mkdtemp(prefix="strata-fit-"))
    try:
        yield folder, False
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _mapping_file(mapping: str | Path | Mapping | None, root: Path) -> str:
    """The mapping as a file path for the pipeline's ``mapping`` parameter.

    A file is checked now (a broken one stops here, with its line named) and passed by
    its absolute path: the pipeline's ``read_mapping`` step hands its content to the
    layers, so an edit in place is a new input. A :class:`Mapping` is written under the
    root, named by its content hash.
    """
    if mapping is None:
        return ""
    if not isinstance(mapping, Mapping):
        load_mapping(mapping)
        return str(Path(mapping).resolve())
    data = dumps_mapping(mapping).encode("utf-8")
    target = root / ".strata" / "mappings" / f"{hash_bytes(data)}.yaml"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".tmp")
        partial.write_bytes(data)
        partial.replace(target)
    return str(target)


def _fit_result(result: RunResult, run_dir: Path, root: Path | None) -> FitResult:
    timings = {
        name: round(record.duration_s or 0.0, 3)
        for name, record in result.steps.items()
        if record.status == "succeeded"
    }
    return FitResult(
        run_dir=run_dir,
        run_id=result.run_id,
        root=root,
        ensemble=result.output("assemble"),
        report=result.output("ingest", "report"),
        metrics=json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")),
        timings=timings,
        files={path.name: path for path in sorted(run_dir.iterdir())},
    )
