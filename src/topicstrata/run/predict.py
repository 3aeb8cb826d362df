"""Batch prediction from a records file into an output file, in chunks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.ensemble.persist import MANIFEST
from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.errors import ModelError
from topicstrata.io import IngestConfig, read_records, write_table
from topicstrata.io.schema import ID
from topicstrata.run.outputs import MODEL, locate_model

logger = logging.getLogger(__name__)


def model_dir(run_or_model: str | Path) -> Path:
    """Accept a run directory or its ``model/`` folder."""
    found = locate_model(run_or_model)
    if found is None:
        raise ModelError(
            f"{run_or_model} holds no fitted model (no {MODEL}/{MANIFEST}); pass the run "
            "directory written by `strata fit`."
        )
    return found[0]


def predict_file(
    run: str | Path,
    data: str | Path,
    output: str | Path,
    *,
    chunk_rows: int = 10_000,
    progress: ProgressCallback = null_progress,
) -> dict[str, Any]:
    """Assign every valid record of ``data``; rejected rows go to a row report beside ``output``."""
    predictor = TopicPredictor.load(model_dir(run))
    config = IngestConfig(text_cols=tuple(predictor.text_cols) if predictor.text_cols else None)
    ingested = read_records(data, config)
    table = ingested.table
    parts = []
    for start in range(0, len(table), chunk_rows):
        chunk = table.iloc[start : start + chunk_rows]
        pred = predictor.predict(chunk)
        pred.insert(0, ID, chunk[ID].astype(str).to_numpy())
        parts.append(pred)
        progress("predict", min(start + chunk_rows, len(table)), len(table))
    result = pd.concat(parts, ignore_index=True) if parts else predictor.predict([])
    output = Path(output)
    write_table(result, output)
    report_dir = output.parent / f"{output.stem}.rows"
    ingested.report.write(report_dir)
    summary = ingested.report.summary()
    return {
        "rows_in": summary["rows_in"],
        "assigned": len(result),
        "rejected": summary["rejected"],
        "row_report": str(report_dir),
    }
