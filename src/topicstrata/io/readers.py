"""One streaming reader per input format, each yielding raw chunks of source rows.

Readers only parse: they turn bytes into a pandas frame of source columns and
say which source rows it holds. Choosing columns and validating rows happens in
:mod:`topicstrata.io.validate`, the same for every format.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from topicstrata.errors import InputError
from topicstrata.io.config import FORMATS, IngestConfig
from topicstrata.io.encoding import check_not_utf16, encoding_error, open_binary, strip_compression

__all__ = [
    "EXTENSIONS",
    "Chunk",
    "ChunkReader",
    "detect_format",
    "iter_csv",
    "iter_jsonl",
    "iter_parquet",
]

logger = logging.getLogger(__name__)

#: File extensions (after any .gz/.bz2/.xz) and the format each implies.
EXTENSIONS: Final = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "salesforce",
}

# pyarrow fails on a single record larger than a block; 16 MiB fits long descriptions.
_CSV_BLOCK_BYTES: Final = 16 << 20


@dataclass(frozen=True)
class Chunk:
    """Consecutive source records as a frame of raw source columns.

    ``first_row`` is the 1-based number of the frame's first record in the
    source (a CSV header is not counted); ``lines`` holds each record's
    physical line number where the format has one per record (JSONL).
    """

    frame: pd.DataFrame
    first_row: int
    lines: list[int] | None = None


ChunkReader = Callable[[Path, IngestConfig], Iterator[Chunk]]


def detect_format(path: Path, config: IngestConfig) -> str:
    """The configured format, else the one the extension implies; a directory is Salesforce."""
    if config.format is not None:
        return config.format
    if path.is_dir():
        return "salesforce"
    name = strip_compression(path)
    for ext, fmt in EXTENSIONS.items():
        if name.endswith(ext):
            return fmt
    known = ", ".join(f"{e} ({f})" for e, f in EXTENSIONS.items())
    raise InputError(
        f"{path.name}: unknown input format {Path(name).suffix or '(no extension)'!r}; "
        f"supported extensions: {known}, optionally compressed (.gz, .bz2, .xz). "
        f"Rename the file or pass format= one of {', '.join(FORMATS)} (CLI: --format)."
    )


def iter_csv(path: Path, config: IngestConfig) -> Iterator[Chunk]:
    """Stream a CSV (or TSV) file with pyarrow, every column read as a string.

    Strings, because pyarrow infers types from the first block only: a later
    non-numeric value in a numeric-looking column would otherwise fail the read
    instead of rejecting one row. Values pass through exactly as in the file.
    """
    if config.encoding is None:
        check_not_utf16(path)
    delimiter = "\t" if strip_compression(path).endswith(".tsv") else ","
    bad_rows: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row)
        return "error"

    read_options = pacsv.ReadOptions(
        use_threads=False,  # so pyarrow numbers the rows of parse errors
        block_size=_CSV_BLOCK_BYTES,
        encoding=_csv_encoding(config.encoding),
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
    )
    rows_done = 0
    try:
        with pacsv.open_csv(path, read_options=read_options, parse_options=parse_options) as r:
            names = r.schema.names
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        with pacsv.open_csv(
            path, read_options=read_options, parse_options=parse_options, convert_options=convert
        ) as reader:
            for table in _rebatch(reader, config.chunk_rows):
                frame = table.to_pandas()
                yield Chunk(frame, first_row=rows_done + 1)
                rows_done += len(frame)
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc, bad_rows, rows_done, config) from None


def _csv_error(
    path: Path,
    exc: pa.ArrowInvalid,
    bad_rows: list[pacsv.InvalidRow],
    rows_done: int,
    config: IngestConfig,
) -> InputError:
    message = str(exc)
    if "Empty CSV file" in message:
        return InputError(f"{path.name}: the file is empty; expected a header row and records.")
    if "invalid UTF8" in message and config.encoding is None:
        return encoding_error(path)
    if bad_rows:
        row = bad_rows[0]
        where = f"row {row.number} (counting the header as row 1)" if row.number else "a row"
        return InputError(
            f"{path.name}: {where} has {row.actual_columns} fields, expected "
            f"{row.expected_columns} like the header: {row.text[:120]!r}. Quote values that "
            'contain the delimiter or line breaks ("a, b"), or fix the row.'
        )
    return InputError(
        f"{path.name}: cannot be parsed as CSV ({message}; {rows_done} records read before). "
        "Check the delimiter and quoting, or pass format= if it is not CSV."
    )


def iter_parquet(path: Path, config: IngestConfig) -> Iterator[Chunk]:
    """Stream a Parquet file by record batches; column types pass through as stored."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(
            f"{path.name}: not a readable Parquet file ({exc}); check that it is complete "
            "and really Parquet, or pass format= to read it as another format."
        ) from None
    rows_done = 0
    with parquet:
        for table in _rebatch(
            parquet.iter_batches(batch_size=config.chunk_rows), config.chunk_rows
        ):
            frame = table.to_pandas()
            yield Chunk(frame, first_row=rows_done + 1)
            rows_done += len(frame)


def iter_jsonl(path: Path, config: IngestConfig) -> Iterator[Chunk]:
    """Stream JSON Lines: one object per line; blank lines are skipped, not records.

    Read line by line with the json module rather than pyarrow.json so that a
    malformed line is reported by its number and types are not inferred from
    the first block only.
    """
    encoding = _text_encoding(config.encoding)
    records: list[dict[str, object]] = []
    lines: list[int] = []
    rows_done = 0
    number = 0
    with io.TextIOWrapper(open_binary(path), encoding=encoding, newline="\n") as fh:
        try:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"{path.name}: line {number} is not valid JSON ({exc.msg} at column "
                        f"{exc.colno}); each line must hold one complete JSON object. "
                        f"Line starts: {line.strip()[:80]!r}"
                    ) from None
                if not isinstance(record, dict):
                    raise InputError(
                        f"{path.name}: line {number} holds a JSON {type(record).__name__}, "
                        "not an object; write one {...} record per line."
                    )
                records.append(record)
                lines.append(number)
                if len(records) >= config.chunk_rows:
                    yield Chunk(pd.DataFrame.from_records(records), rows_done + 1, lines)
                    rows_done += len(records)
                    records, lines = [], []
        except UnicodeDecodeError:
            if config.encoding is None:
                raise encoding_error(path) from None
            raise InputError(
                f"{path.name}: near line {number + 1}, bytes cannot be decoded as "
                f"{config.encoding}; pass the file's real encoding, or re-save it as UTF-8."
            ) from None
    if records:
        yield Chunk(pd.DataFrame.from_records(records), rows_done + 1, lines)


def _csv_encoding(encoding: str | None) -> str:
    # pyarrow transcodes in Python unless told "utf8", its native encoding.
    if encoding is None or codecs.lookup(encoding).name == "utf-8":
        return "utf8"
    return encoding


def _text_encoding(encoding: str | None) -> str:
    # Accept a UTF-8 byte-order mark, which spreadsheet tools like to write.
    if encoding is None or codecs.lookup(encoding).name == "utf-8":
        return "utf-8-sig"
    return encoding


def _rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup record batches (sized by bytes or row groups) into tables of ``rows`` rows."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending = rest.to_batches()
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)
