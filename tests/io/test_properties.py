"""Invariants: no row is lost, and chunking does not change the result."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topicstrata.io import IngestConfig, read_records, schema, write_table

IDS = st.sampled_from(["", "a", "b", "c", "d", "e", "f"])
TEXTS = st.sampled_from(["", "  ", "hello", "two words", "ünïcode, with comma", "line\nbreak"])
AMOUNTS = st.sampled_from(["", "100", "12.5", "1,000", "$7", "abc", "-3", "1,5"])
TERMS = st.sampled_from(["", "12", "36", "0", "-1", "x"])
ROWS = st.lists(st.tuples(IDS, TEXTS, TEXTS, AMOUNTS, TERMS), min_size=1, max_size=40)
HEADER = ("id", "opportunity_name", "details", "amount", "term_months")


def expected_statuses(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    """An independent oracle for the status of each row."""

    def bad_number(value: str) -> bool:
        return value in ("abc", "1,5", "x")

    seen: set[str] = set()
    out = []
    for ident, name, details, amount, term in rows:
        if not ident or bad_number(amount) or bad_number(term) or term in ("0", "-1"):
            out.append("invalid")
        elif not (name.strip() or details.strip()):
            out.append("empty_text")
        elif ident in seen:
            out.append("duplicate_id")
        else:
            seen.add(ident)
            out.append("ok")
    return out


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(HEADER)
        writer.writerows(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, chunk_rows=st.integers(1, 12))
def test_every_row_is_accounted_for(
    rows: list[tuple[str, str, str, str, str]], chunk_rows: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.csv"
        write_csv(path, rows)
        result = read_records(path, IngestConfig(chunk_rows=chunk_rows))

    report = result.report
    assert report.rows_in == len(rows)
    assert report.ok + report.n_rejected == report.rows_in
    assert sum(report.counts.values()) == report.rows_in
    assert len(result.table) == report.ok == report.rows_in - len(report.rejected)
    assert result.table[schema.ID].is_unique
    assert result.table[schema.TEXT].str.strip().str.len().gt(0).all()

    expected = expected_statuses(rows)
    statuses = ["ok"] * len(rows)
    for row, status in zip(report.rejected["row"], report.rejected["status"], strict=True):
        statuses[row - 1] = status
    assert statuses == expected


def sample_table(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"id{i % 37}" if i % 11 else "" for i in range(n)],
            "opportunity_name": [f"deal {i}" if i % 5 else "" for i in range(n)],
            "details": [f"about {i}" if i % 3 else None for i in range(n)],
            "amount": [str(i * 100) if i % 13 else "bad" for i in range(n)],
            "term_months": [str((i % 4) * 12) for i in range(n)],
            "true_l1": [f"label{i % 4}" for i in range(n)],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_chunked_reading_matches_one_chunk(tmp_path: Path, suffix: str) -> None:
    path = write_table(sample_table(), tmp_path / f"t{suffix}")

    small = read_records(path, IngestConfig(chunk_rows=7))
    large = read_records(path, IngestConfig(chunk_rows=100_000))

    assert 0 < small.report.ok < small.report.rows_in == 50
    pd.testing.assert_frame_equal(small.table, large.table)
    pd.testing.assert_frame_equal(small.report.rejected, large.report.rejected)
    assert small.report.summary() == large.report.summary()


def test_progress_reports_rows(tmp_path: Path) -> None:
    path = write_table(sample_table(), tmp_path / "t.csv")
    calls: list[tuple[str, int, int | None]] = []
    read_records(path, IngestConfig(chunk_rows=20), progress=lambda *a: calls.append(a))
    assert calls == [("ingest", 20, None), ("ingest", 40, None), ("ingest", 50, None)]
