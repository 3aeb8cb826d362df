"""``run_fit``: records file in, run directory out (the direct path behind ``strata fit``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.config import StrataConfig
from topicstrata.ensemble import Ensemble, ReviewCallback
from topicstrata.io import IngestResult
from topicstrata.io.schema import EMBED_TEXT
from topicstrata.mapping import Mapping, load_mapping
from topicstrata.run import steps
from topicstrata.run.outputs import write_run

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What a fit produced, for the CLI summary."""

    run_dir: Path
    ingest: IngestResult
    ensemble: Ensemble
    metrics: dict[str, Any]
    timings: dict[str, float]
    files: dict[str, Path]


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
) -> FitResult:
    """Ingest, preprocess, embed, fit every layer, evaluate and write the run directory.

    ``mapping`` is an edited mapping file of an earlier fit: its labels, actions
    and rules are carried over. ``cache_dir`` holds the preprocessing and
    embedding caches (``None``: no caching).
    """
    config = config or StrataConfig()
    timings = steps.Timings()
    cache = Path(cache_dir) if cache_dir is not None else None
    user_mapping = load_mapping(mapping) if isinstance(mapping, str | Path) else mapping

    t = time.perf_counter()
    ingested = steps.ingest(data, config.ingest_config(), progress)
    table = ingested.table
    timings.track("ingest", t)
    logger.info("ingested %d of %d rows", len(table), ingested.report.rows_in)

    t = time.perf_counter()
    views = steps.make_views(
        table, config.preprocess_config(), cache / "preprocess" if cache else None, progress
    )
    timings.track("preprocess", t)

    t = time.perf_counter()
    embedder = steps.build_embedder(config.embed, views[EMBED_TEXT].tolist())
    vectors = steps.embed(
        views[EMBED_TEXT].tolist(),
        embedder,
        config.embed,
        cache / "embeddings" if cache else None,
        progress,
    )
    timings.track("embed", t)

    t = time.perf_counter()
    ensemble = steps.fit_ensemble(
        vectors, views, steps.id_column(table), config.ensemble, user_mapping, review, progress
    )
    timings.track("fit", t)

    t = time.perf_counter()
    labels = steps.label_columns(table, label_cols)
    metrics = steps.evaluate(ensemble, table, views, labels)
    metrics["stability"] = steps.layer1_stability(
        vectors, config.ensemble, config.evaluate.stability_sample
    )
    timings.track("evaluate", t)
    metrics["timings"] = timings.seconds
    metrics["rows"] = ingested.report.summary()

    predictor = steps.predictor_for(
        ensemble, embedder, config.embed, config.preprocess_config(), list(ingested.columns.text)
    )
    files = write_run(
        run_dir,
        table=table,
        report=ingested.report,
        ensemble=ensemble,
        predictor=predictor,
        metrics=metrics,
        views=views,
        label_cols=labels,
    )
    return FitResult(Path(run_dir), ingested, ensemble, metrics, timings.seconds, files)
