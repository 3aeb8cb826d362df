"""Read records from any supported source into the canonical table, with a row report."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.errors import InputError
from topicstrata.io.columns import CANONICAL_COLUMNS, ColumnPlan, resolve_columns
from topicstrata.io.config import IngestConfig
from topicstrata.io.readers import ChunkReader, detect_format, iter_csv, iter_jsonl, iter_parquet
from topicstrata.io.report import RowReport
from topicstrata.io.salesforce import iter_salesforce
from topicstrata.io.validate import validate_chunk

__all__ = ["IngestResult", "read_records"]

logger = logging.getLogger(__name__)

READERS: dict[str, ChunkReader] = {
    "csv": iter_csv,
    "parquet": iter_parquet,
    "jsonl": iter_jsonl,
    "salesforce": iter_salesforce,
}


@dataclass(frozen=True)
class IngestResult:
    """The canonical table (accepted rows only) and the report on every input row."""

    table: pd.DataFrame
    report: RowReport
    columns: ColumnPlan


def read_records(
    path: str | os.PathLike[str],
    config: IngestConfig | None = None,
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Read, validate and canonicalise the records in ``path``, chunk by chunk.

    Only one raw chunk (``config.chunk_rows`` rows) is in memory at a time
    besides the accepted rows. Rejected rows are counted and listed in the
    report, never dropped silently. Raises :class:`InputError` for problems
    with the file as a whole (missing, unknown format, encoding, malformed,
    empty, missing column).
    """
    config = config or IngestConfig()
    progress = progress or null_progress
    source = Path(path)
    if not source.exists():
        raise InputError(
            f"{source}: no such file or directory (working directory: {Path.cwd()}); "
            "check the path."
        )
    fmt = detect_format(source, config)
    if source.is_dir() and fmt != "salesforce":
        raise InputError(
            f"{source}: is a directory; pass the {fmt} file inside it, or drop format= "
            "to read a directory as a Salesforce export."
        )
    report = RowReport(source=str(source), format=fmt)
    total = _known_rows(source, fmt)
    plan: ColumnPlan | None = None
    first_rows: dict[str, int] = {}
    tables: list[pd.DataFrame] = []
    for chunk in READERS[fmt](source, config):
        if plan is None:
            _check_columns(source, list(chunk.frame.columns))
            plan = resolve_columns(list(chunk.frame.columns), config, source.name)
            logger.info("%s: %s", source.name, _describe(plan))
        result = validate_chunk(chunk, plan, config, first_rows)
        report.add(len(chunk.frame), len(result.table), result.rejected)
        if len(result.table):
            tables.append(result.table)
        progress("ingest", report.rows_in, total)
    if plan is None or report.rows_in == 0:
        raise InputError(
            f"{source.name}: no records found; the file is empty or holds only a header. "
            "Check that this is the right file."
        )
    table = _concat(tables, plan)
    logger.info(
        "%s: %d rows in, %d ok, %d rejected %s",
        source.name,
        report.rows_in,
        report.ok,
        report.n_rejected,
        {k: v for k, v in report.counts.items() if v and k != "ok"},
    )
    return IngestResult(table=table, report=report, columns=plan)


def _check_columns(source: Path, columns: list[object]) -> None:
    duplicated = [str(c) for c, n in Counter(columns).items() if n > 1]
    if duplicated:
        raise InputError(
            f"{source.name}: column names appear more than once: {', '.join(duplicated)}; "
            "rename them so each is unique."
        )


def _concat(tables: list[pd.DataFrame], plan: ColumnPlan) -> pd.DataFrame:
    if not tables:
        columns = [*CANONICAL_COLUMNS, *plan.passthrough]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if len(tables) == 1:
        return tables[0]
    return pd.concat(tables, ignore_index=True, sort=False)


def _describe(plan: ColumnPlan) -> str:
    meta = {
        "id": plan.id or "(generated from row numbers)",
        "industry": plan.industry,
        "amount": plan.amount,
        "term": plan.term,
        "close_date": plan.close_date,
    }
    found = ", ".join(f"{k}={v}" for k, v in meta.items() if v)
    return f"text from {', '.join(plan.text)}; {found}"


def _known_rows(source: Path, fmt: str) -> int | None:
    """Row count from a Parquet footer (free), for a progress bar with a total; else None."""
    if fmt != "parquet":
        return None
    try:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(source).metadata.num_rows)
    except Exception:  # an unreadable file is reported by the reader, with context
        return None
