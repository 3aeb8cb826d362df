"""One streaming reader per input format, each yielding raw chunks of source rows.

Readers only parse: they turn bytes into a pandas frame of source columns and
say which source rows it holds. Choosing columns and validating rows happens in
:mod:`topicstrata.io.validate`, the same for every format.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from topicstrata.errors import InputError
from topicstrata.io.config import DELIMITERS, FORMATS, IngestConfig
from topicstrata.io.encoding import (
    check_not_utf16,
    encoding_error,
    is_utf8,
    open_binary,
    strip_compression,
)

__all__ = [
    "EXTENSIONS",
    "Chunk",
    "ChunkReader",
    "detect_format",
    "iter_csv",
    "iter_jsonl",
    "iter_parquet",
    "sniff_delimiter",
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

# Bytes read from the start of a CSV file to guess its delimiter.
_SNIFF_BYTES: Final = 64 << 10


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
    The delimiter is ``config.delimiter``, else sniffed from the file's start.
    """
    if is_utf8(config.encoding):
        check_not_utf16(path, declared=config.encoding)
    delimiter = config.delimiter or sniff_delimiter(path, config.encoding)
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
        with _arrow_decoding(path, config):
            with pacsv.open_csv(path, read_options=read_options, parse_options=parse_options) as r:
                names = r.schema.names
            convert = pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            )
            reader = pacsv.open_csv(
                path,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert,
            )
        with reader:
            for table in _rebatch(_guarded_batches(reader, path, config), config.chunk_rows):
                frame = table.to_pandas()
                yield Chunk(frame, first_row=rows_done + 1)
                rows_done += len(frame)
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc, bad_rows, rows_done, config, delimiter) from None


def sniff_delimiter(path: Path, encoding: str | None) -> str:
    """The delimiter of a CSV file, guessed with :class:`csv.Sniffer` from its first lines.

    Only ``,``, ``;``, tab and ``|`` are considered (see ``IngestConfig.delimiter``),
    and only one that occurs in the header line: spreadsheet exports in much of
    Europe use ``;``. Without a clear answer (a one-column file), a ``.tsv`` file is
    tab-separated and anything else comma-separated.
    """
    default = "\t" if strip_compression(path).endswith(".tsv") else ","
    with open_binary(path) as fh:
        head = fh.read(_SNIFF_BYTES)
    decoder = codecs.getincrementaldecoder(_text_encoding(encoding))(errors="replace")
    try:
        sample = decoder.decode(head)
    except UnicodeError:  # e.g. "UTF-16 stream does not start with BOM"; the read says more
        return default
    complete, newline, _ = sample.rpartition("\n")
    if newline and complete:
        sample = complete  # whole lines only: a cut-off last line would skew the counts
    header = sample.lstrip("\ufeff").partition("\n")[0].rstrip("\r")
    for text in (sample, header):
        try:
            found = csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
        except csv.Error:
            continue
        if found in header:
            return found
    return default


@contextmanager
def _unraisable_decode_errors() -> Iterator[list[UnicodeError]]:
    """Collect the ``UnicodeError`` s pyarrow raises where it cannot propagate them.

    pyarrow decodes some bytes (header names, the text of a malformed row) in
    callbacks, where an exception is only printed as "Exception ignored" and the
    read goes on. Hold this hook around pyarrow calls only, never across a yield.
    """
    caught: list[UnicodeError] = []
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, UnicodeError):
            caught.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield caught
    finally:
        sys.unraisablehook = previous


@contextmanager
def _arrow_decoding(path: Path, config: IngestConfig) -> Iterator[None]:
    """Turn text pyarrow's CSV reader cannot decode into an encoding :class:`InputError`."""
    with _unraisable_decode_errors() as caught:
        try:
            yield
        except UnicodeError as exc:
            raise _decoding_error(path, config, exc) from None
        except pa.ArrowInvalid:
            if caught:  # the row pyarrow could not decode is also the one it reports
                raise _decoding_error(path, config, caught[0]) from None
            raise
    if caught:
        raise _decoding_error(path, config, caught[0])


def _decoding_error(
    path: Path, config: IngestConfig, exc: BaseException | None = None
) -> InputError:
    if is_utf8(config.encoding):
        return encoding_error(path, declared=config.encoding)
    why = f" ({_short(exc)})" if exc is not None else ""
    return InputError(
        f"{path.name}: bytes cannot be decoded as {config.encoding}{why}; pass the file's real "
        "encoding (CLI: --encoding), or re-save it as UTF-8."
    )


def _guarded_batches(
    reader: pacsv.CSVStreamingReader, path: Path, config: IngestConfig
) -> Iterator[pa.RecordBatch]:
    while True:
        with _arrow_decoding(path, config):
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
        yield batch


def _csv_error(
    path: Path,
    exc: pa.ArrowInvalid,
    bad_rows: list[pacsv.InvalidRow],
    rows_done: int,
    config: IngestConfig,
    delimiter: str,
) -> InputError:
    message = str(exc)
    if "Empty CSV file" in message:
        return InputError(f"{path.name}: the file is empty; expected a header row and records.")
    if "invalid UTF8" in message and is_utf8(config.encoding):
        return encoding_error(path, declared=config.encoding)
    if bad_rows:
        row = bad_rows[0]
        where = f"row {row.number} (counting the header as row 1)" if row.number else "a row"
        return InputError(
            f"{path.name}: {where} has {row.actual_columns} fields, expected "
            f"{row.expected_columns} like the header: {row.text[:120]!r}. Quote values that "
            'contain the delimiter or line breaks ("a, b"), or fix the row.'
        )
    return InputError(
        f"{path.name}: cannot be parsed as CSV ({message}; {rows_done} records read before, "
        f"delimiter {delimiter!r}). Check the delimiter (IngestConfig(delimiter=...), in a "
        "config file `ingest: {delimiter: ';'}`) and quoting, or pass format= if it is not CSV."
    )


def iter_parquet(path: Path, config: IngestConfig) -> Iterator[Chunk]:
    """Stream a Parquet file by record batches; column types pass through as stored.

    A damaged file (cut short, flipped bytes, a text column whose bytes are not
    UTF-8) fails with an :class:`InputError` naming what was read before, never
    with pyarrow's own exception.
    """
    try:
        with _arrow_guard(path, 0):
            parquet = pq.ParquetFile(path)
    except InputError as exc:
        raise InputError(
            f"{path.name}: not a readable Parquet file ({exc.__cause__ or exc}); check that it "
            "is complete and really Parquet, or pass format= to read it as another format."
        ) from None
    done = [0]  # records yielded so far, for the messages of the guarded reads
    with parquet:
        batches = _guarded(parquet.iter_batches(batch_size=config.chunk_rows), path, done)
        for table in _rebatch(batches, config.chunk_rows):
            with _arrow_guard(path, done[0]):
                _check_text(table, path, done[0])
                frame = table.to_pandas()
            yield Chunk(frame, first_row=done[0] + 1)
            done[0] += len(frame)


@contextmanager
def _arrow_guard(path: Path, rows_done: int) -> Iterator[None]:
    """Turn pyarrow's failures on a damaged Parquet file, raised or not, into an InputError."""
    with _unraisable_decode_errors() as caught:
        try:
            yield
        except InputError:
            raise
        except (pa.ArrowException, OSError, ValueError, IndexError) as exc:
            raise InputError(_damaged(path, exc, rows_done)) from exc
    if caught:
        raise InputError(_damaged(path, caught[0], rows_done)) from caught[0]


def _damaged(path: Path, exc: BaseException, rows_done: int) -> str:
    return (
        f"{path.name}: the Parquet data is damaged after record {rows_done} "
        f"({type(exc).__name__}: {_short(exc)}); the file may be cut short or corrupted: "
        "write it again, or check how it was copied."
    )


def _guarded(
    batches: Iterator[pa.RecordBatch], path: Path, done: list[int]
) -> Iterator[pa.RecordBatch]:
    while True:
        with _arrow_guard(path, done[0]):
            batch = next(batches, None)
        if batch is None:
            return
        yield batch


def _check_text(table: pa.Table, path: Path, rows_done: int) -> None:
    """Name the column and record of text that is not UTF-8 (pandas cannot hold it)."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            row = next(
                i
                for i, value in enumerate(column.cast(pa.binary()).to_pylist())
                if value is not None and not _is_utf8(value)
            )
            raise InputError(
                f"{path.name}: record {rows_done + row + 1}, column {name!r}: the text is not "
                "valid UTF-8; write the file again with UTF-8 strings (or the column as "
                "binary)."
            ) from None


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
                except (ValueError, RecursionError) as exc:
                    # Integers of thousands of digits, or arrays nested thousands deep.
                    raise InputError(
                        f"{path.name}: line {number} cannot be read ({_short(exc)}); fix or "
                        f"remove the line. Line starts: {line.strip()[:80]!r}"
                    ) from None
                if not isinstance(record, dict):
                    raise InputError(
                        f"{path.name}: line {number} holds a JSON {type(record).__name__}, "
                        "not an object; write one {...} record per line."
                    )
                records.append(record)
                lines.append(number)
                if len(records) >= config.chunk_rows:
                    yield Chunk(_frame(records), rows_done + 1, lines)
                    rows_done += len(records)
                    records, lines = [], []
        except UnicodeError as exc:  # also "UTF-16 stream does not start with BOM"
            if is_utf8(config.encoding):
                raise encoding_error(path, declared=config.encoding) from None
            raise InputError(
                f"{path.name}: near line {number + 1}, bytes cannot be decoded as "
                f"{config.encoding} ({_short(exc)}); pass the file's real encoding, or re-save "
                "it as UTF-8."
            ) from None
    if records:
        yield Chunk(_frame(records), rows_done + 1, lines)


def _frame(records: list[dict[str, object]]) -> pd.DataFrame:
    # One row per record, even for records without keys ({}), which pandas
    # would otherwise turn into no rows at all.
    return pd.DataFrame.from_records(records, index=pd.RangeIndex(len(records)))


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


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
