"""Streaming writers: every format round-trips, is byte-stable, and fails clearly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

from topicstrata.errors import ConfigError
from topicstrata.synth import SCHEMA, generate_opportunities, write_opportunities

ROWS, BATCH = 1200, 500  # three batches, the last one partial


def _expected(seed: int = 4) -> pa.Table:
    return pa.Table.from_batches(list(generate_opportunities(ROWS, seed, BATCH)), SCHEMA)


def _read(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    if path.suffix == ".csv":
        return pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={f.name: f.type for f in SCHEMA}, strings_can_be_null=True
            ),
        )
    return pajson.read_json(path, parse_options=pajson.ParseOptions(explicit_schema=SCHEMA))


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"opps{suffix}"
    assert write_opportunities(path, ROWS, seed=4, batch_rows=BATCH) == ROWS
    got = _read(path).select(SCHEMA.names).to_pandas()
    pd.testing.assert_frame_equal(got, _expected().to_pandas(), check_dtype=False)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_same_seed_same_bytes(tmp_path: Path, suffix: str) -> None:
    a, b, c = (tmp_path / f"{n}{suffix}" for n in "abc")
    write_opportunities(a, 800, seed=1, batch_rows=300)
    write_opportunities(b, 800, seed=1, batch_rows=300)
    write_opportunities(c, 800, seed=2, batch_rows=300)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_parquet_has_one_row_group_per_batch(tmp_path: Path) -> None:
    path = tmp_path / "opps.parquet"
    write_opportunities(path, ROWS, batch_rows=BATCH)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3


def test_jsonl_is_one_readable_record_per_line(tmp_path: Path) -> None:
    path = tmp_path / "opps.jsonl"
    write_opportunities(path, 300, batch_rows=120)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    assert "\\/" not in path.read_text(encoding="utf-8")
    assert pd.read_json(path, lines=True)["id"].is_unique


def test_progress_reports_rows(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int | None]] = []
    write_opportunities(
        tmp_path / "o.csv", ROWS, batch_rows=BATCH, progress=lambda *a: calls.append(a)
    )
    assert calls[0] == ("synth", 0, ROWS)
    assert calls[-1] == ("synth", ROWS, ROWS)
    assert [done for _, done, _ in calls] == [0, 500, 1000, 1200]


def test_zero_rows_writes_an_empty_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    assert write_opportunities(path, 0) == 0
    table = pq.read_table(path)
    assert table.num_rows == 0 and table.schema.names == SCHEMA.names


@pytest.mark.parametrize("name", ["opps.xlsx", "opps", "opps.json"])
def test_unknown_extension_names_supported_ones(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=r"\.csv, \.jsonl, \.parquet"):
        write_opportunities(tmp_path / name, 10)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        write_opportunities(tmp_path / "nope" / "o.parquet", 10)


def test_failed_run_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "o.parquet"

    def boom(task: str, done: int, total: int | None) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_opportunities(path, ROWS, batch_rows=BATCH, progress=boom)
    assert list(tmp_path.iterdir()) == []
