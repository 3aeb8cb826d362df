"""Every row ends with one status; rejected rows say where they were and why."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from topicstrata.io import IngestConfig, read_records, schema

CSV = (
    "id,opportunity_name,details,amount,term_months,close_date,true_l1\n"
    "1,Cloud,Move ERP,1000,12,2025-01-01,a\n"  # ok
    "2,,  ,500,12,2025-01-01,b\n"  # empty_text
    "3,Fleet,,abc,12,2025-01-01,c\n"  # invalid amount
    "4,Audit,,100,-6,2025-01-01,d\n"  # invalid term
    "1,Cloud again,,100,12,2025-01-01,e\n"  # duplicate of row 1
    "5,Dated,,100,12,not a date,f\n"  # invalid date
    ",No id,,100,12,,g\n"  # invalid: empty id
    '6,Money,,"$1,200",N/A,,h\n'  # ok: currency, N/A term is missing
    '7,Comma decimal,,"1,5",0,,i\n'  # invalid amount and zero term
)


@pytest.fixture
def result(tmp_path: Path):
    path = tmp_path / "mixed.csv"
    path.write_text(CSV, encoding="utf-8")
    return read_records(path)


def test_statuses_and_counts(result) -> None:
    assert result.report.summary() == {
        "source": result.report.source,
        "format": "csv",
        "rows_in": 9,
        "ok": 2,
        "rejected": 7,
        "empty_text": 1,
        "invalid": 5,
        "duplicate_id": 1,
    }
    assert list(result.table[schema.ID]) == ["1", "6"]
    assert list(result.table["true_l1"]) == ["a", "h"]
    assert result.table.loc[1, schema.AMOUNT] == 1200.0
    assert pd.isna(result.table.loc[1, schema.TERM_MONTHS])


def test_rejected_rows_name_row_id_and_reason(result) -> None:
    rejected = result.report.rejected.set_index("row")
    assert list(rejected.index) == [2, 3, 4, 5, 6, 7, 9]
    assert rejected.loc[2, "status"] == "empty_text"
    assert "opportunity_name, details" in rejected.loc[2, "reason"]
    assert rejected.loc[3, "reason"] == "amount (amount) 'abc' is not a number"
    assert rejected.loc[3, "id"] == "3"
    assert rejected.loc[4, "reason"] == "term_months (term_months) is -6; it must be positive"
    assert rejected.loc[5, "status"] == "duplicate_id"
    assert rejected.loc[5, "reason"] == "id '1' already used by row 1"
    assert rejected.loc[6, "reason"] == "close_date (close_date) 'not a date' is not a date"
    assert rejected.loc[7, "reason"] == "id (id) is empty"
    assert pd.isna(rejected.loc[7, "id"])
    assert "'1,5' is not a number" in rejected.loc[9, "reason"]
    assert "is 0; it must be positive" in rejected.loc[9, "reason"]


def test_report_write(result, tmp_path: Path) -> None:
    report_path, rejected_path = result.report.write(tmp_path / "out")

    assert json.loads(report_path.read_text()) == result.report.summary()
    written = pd.read_csv(rejected_path)
    assert list(written.columns) == ["row", "line", "id", "status", "reason"]
    assert len(written) == result.report.n_rejected
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "rejected_rows.csv",
        "row_report.json",
    ]


def test_jsonl_rejections_carry_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"id": 1, "text": "a"}\n\n{"id": 1, "text": "b"}\n{"id": 2.0, "text": ""}\n',
        encoding="utf-8",
    )
    result = read_records(path)
    rejected = result.report.rejected
    assert list(rejected["row"]) == [2, 3]
    assert list(rejected["line"]) == [3, 4]
    assert list(rejected["status"]) == ["duplicate_id", "empty_text"]
    assert list(rejected["id"]) == ["1", "2"]


def test_first_duplicate_wins_even_if_an_earlier_copy_was_rejected(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,text\nx,\nx,kept\nx,dup\n", encoding="utf-8")
    result = read_records(path)
    assert list(result.table[schema.TEXT]) == ["kept"]
    assert list(result.report.rejected["status"]) == ["empty_text", "duplicate_id"]


def test_all_rows_rejected_gives_an_empty_table_with_columns(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("id,text,label\n1,,x\n2,,y\n", encoding="utf-8")
    result = read_records(path)
    assert len(result.table) == 0
    assert schema.TEXT in result.table.columns and "label" in result.table.columns
    assert result.report.rows_in == result.report.n_rejected == 2


def test_jsonl_keys_missing_in_later_chunks_are_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"id": "a", "text": "x", "amount": 5}\n{"text": "y"}\n{"text": "z", "label": "new"}\n',
        encoding="utf-8",
    )
    result = read_records(path, IngestConfig(chunk_rows=1))
    assert list(result.table[schema.ID]) == ["a"]
    assert list(result.report.rejected["reason"]) == ["id (id) is empty", "id (id) is empty"]
