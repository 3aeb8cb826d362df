"""Stream generated opportunities to a Parquet, CSV or JSON Lines file.

The writer is chosen by the file's extension. Each batch is written as soon
as it is generated (one Parquet row group per batch), so memory stays flat.
The file is written under a temporary name and renamed at the end: a killed
run leaves no half-written file behind under the requested name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol, TextIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.errors import ConfigError
from topicstrata.synth._generate import SCHEMA, generate_opportunities

logger = logging.getLogger(__name__)


class BatchWriter(Protocol):
    def write_batch(self, batch: pa.RecordBatch) -> None: ...


@contextmanager
def _parquet(path: Path) -> Iterator[BatchWriter]:
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        yield writer


@contextmanager
def _csv(path: Path) -> Iterator[BatchWriter]:
    with pacsv.CSVWriter(path, SCHEMA) as writer:
        yield writer


class _JsonLinesWriter:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        text = batch.to_pandas().to_json(orient="records", lines=True, force_ascii=False)
        # pandas writes "/" as "\/": valid JSON, but unreadable URLs. Records hold no "\".
        text = text.replace("\\/", "/")
        self._stream.write(text if text.endswith("\n") else text + "\n")


@contextmanager
def _jsonl(path: Path) -> Iterator[BatchWriter]:
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        yield _JsonLinesWriter(stream)


WRITERS: dict[str, Callable[[Path], AbstractContextManager[BatchWriter]]] = {
    ".parquet": _parquet,
    ".csv": _csv,
    ".jsonl": _jsonl,
}


def write_opportunities(
    path: str | os.PathLike[str],
    rows: int,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    *,
    batch_rows: int = 50_000,
) -> int:
    """Write ``rows`` synthetic opportunities to ``path``; return the rows written.

    The format follows the extension: ``.parquet`` (zstd, one row group per
    batch), ``.csv`` (header, quoted text; fields may contain newlines) or
    ``.jsonl`` (one JSON object per line). Same arguments, same bytes.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in WRITERS:
        raise ConfigError(
            f"{target}: cannot write synthetic data as {suffix or 'a file without extension'!r}; "
            f"use one of {', '.join(sorted(WRITERS))}."
        )
    if not target.parent.is_dir():
        raise ConfigError(f"{target}: folder {target.parent} does not exist; create it first.")
    batches = generate_opportunities(rows, seed, batch_rows)
    report = progress or null_progress
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    written = 0
    try:
        with WRITERS[suffix](tmp) as writer:
            report("synth", 0, rows)
            for batch in batches:
                writer.write_batch(batch)
                written += batch.num_rows
                report("synth", written, rows)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("wrote %d synthetic opportunities (seed %d) to %s", written, seed, target)
    return written
