"""Each format reads into the same canonical table; write_table round-trips."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topicstrata.errors import ConfigError
from topicstrata.io import IngestConfig, read_records, schema, write_table

CANONICAL = [
    schema.ID,
    schema.TEXT,
    schema.INDUSTRY,
    schema.AMOUNT,
    schema.TERM_MONTHS,
    schema.ANNUALIZED_REVENUE,
    schema.CLOSE_DATE,
]


def opportunities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a1", "a2", "a3"],
            "opportunity_name": ["Cloud migration", "Fleet tracking", "Audit"],
            "details": ["Move ERP to cloud", "", "Yearly compliance audit"],
            "product_name": ["Compute", "Telematics", None],
            "industry": ["Retail", "Logistics", None],
            "amount": [120000.0, 36000.0, None],
            "term_months": [24.0, None, 6.0],
            "close_date": ["2025-06-30", "2025-01-15", "2025-12-01"],
            "true_l1": ["infra", "iot", "services"],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_each_format_gives_the_canonical_table(tmp_path: Path, suffix: str) -> None:
    path = write_table(opportunities(), tmp_path / f"opps{suffix}")

    result = read_records(path)

    table = result.table
    assert list(table.columns[: len(CANONICAL)]) == CANONICAL
    assert list(table[schema.ID]) == ["a1", "a2", "a3"]
    assert list(table[schema.TEXT]) == [
        "Cloud migration\nMove ERP to cloud\nCompute",
        "Fleet tracking\nTelematics",
        "Audit\nYearly compliance audit",
    ]
    assert list(table[schema.INDUSTRY]) == ["Retail", "Logistics", None]
    np.testing.assert_allclose(table[schema.AMOUNT], [120000.0, 36000.0, np.nan])
    np.testing.assert_allclose(table[schema.TERM_MONTHS], [24.0, np.nan, 6.0])
    # 120000 * 12 / 24; the missing term falls back to 12 months; no amount, no revenue.
    np.testing.assert_allclose(table[schema.ANNUALIZED_REVENUE], [60000.0, 36000.0, np.nan])
    assert list(table[schema.CLOSE_DATE]) == ["2025-06-30", "2025-01-15", "2025-12-01"]
    # Text fields and labels pass through; consumed metadata is not duplicated.
    assert list(table["true_l1"]) == ["infra", "iot", "services"]
    assert "opportunity_name" in table.columns
    assert list(table.columns).count(schema.AMOUNT) == 1
    assert result.report.summary()["ok"] == 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_write_then_read_keeps_values(tmp_path: Path, suffix: str) -> None:
    first = read_records(write_table(opportunities(), tmp_path / f"a{suffix}")).table
    second = read_records(write_table(first, tmp_path / f"b{suffix}")).table
    pd.testing.assert_frame_equal(
        first[CANONICAL], second[CANONICAL], check_dtype=False, check_exact=False
    )


def test_non_opportunity_csv_with_generated_ids(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text(
        'Title,Text,Cat1\nPet door,"Works great, easy install",pets\n,Dry hay,pets\n',
        encoding="utf-8",
    )

    result = read_records(path, IngestConfig(text_cols=("Title", "Text")))

    assert list(result.table[schema.ID]) == ["row-1", "row-2"]
    assert list(result.table[schema.TEXT]) == ["Pet door\nWorks great, easy install", "Dry hay"]
    assert list(result.table["Cat1"]) == ["pets", "pets"]
    assert result.table[schema.AMOUNT].isna().all()


def test_text_cols_accepts_comma_string_and_any_case(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("Title,Text\nA,B\n", encoding="utf-8")
    result = read_records(path, IngestConfig(text_cols="title, TEXT"))
    assert list(result.table[schema.TEXT]) == ["A\nB"]


def test_aliases_and_salesforce_style_names_are_found(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Opportunity_ID,Name,Description,Customer_Needs__c,Amount,Contract_Term_Months__c,"
        "CloseDate,Industry\n"
        'X-1,Deal,Long text,Faster reports,"$1,200.50",36,06/30/2025,Banking\n',
        encoding="utf-8",
    )

    result = read_records(path)

    row = result.table.iloc[0]
    assert row[schema.ID] == "X-1"
    assert row[schema.TEXT] == "Deal\nLong text\nFaster reports"
    assert row[schema.AMOUNT] == pytest.approx(1200.50)
    assert row[schema.TERM_MONTHS] == 36
    assert row[schema.ANNUALIZED_REVENUE] == pytest.approx(1200.50 * 12 / 36)
    assert row[schema.CLOSE_DATE] == "2025-06-30"
    assert row[schema.INDUSTRY] == "Banking"
    assert "Amount" not in result.table.columns


def test_annualizing_is_configurable(tmp_path: Path) -> None:
    path = write_table(opportunities(), tmp_path / "o.parquet")
    config = IngestConfig(default_term_months=None, annualize_factor=1.0)
    table = read_records(path, config).table
    np.testing.assert_allclose(table[schema.ANNUALIZED_REVENUE], [5000.0, np.nan, np.nan])


def test_compressed_and_tsv_inputs(tmp_path: Path) -> None:
    gz = tmp_path / "opps.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("id,text\n1,hello\n2,world\n")
    tsv = tmp_path / "opps.tsv"
    tsv.write_text("id\ttext\n1\thello, there\n", encoding="utf-8")
    jsonl_gz = tmp_path / "opps.jsonl.gz"
    with gzip.open(jsonl_gz, "wt", encoding="utf-8") as fh:
        fh.write('{"id": 1, "text": "hello"}\n')

    assert list(read_records(gz).table[schema.TEXT]) == ["hello", "world"]
    assert list(read_records(tsv).table[schema.TEXT]) == ["hello, there"]
    assert list(read_records(jsonl_gz).table[schema.ID]) == ["1"]


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    assert read_records(path, IngestConfig(format="jsonl")).report.ok == 1


def test_explicit_encoding_transcodes(tmp_path: Path) -> None:
    csv = tmp_path / "latin.csv"
    csv.write_bytes("id,text\n1,Café Müller\n".encode("cp1252"))
    jsonl = tmp_path / "latin.jsonl"
    jsonl.write_bytes('{"id": 1, "text": "Café"}\n'.encode("cp1252"))

    assert read_records(csv, IngestConfig(encoding="cp1252")).table[schema.TEXT][0] == (
        "Café Müller"
    )
    assert read_records(jsonl, IngestConfig(encoding="cp1252")).table[schema.TEXT][0] == "Café"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"id": "a", "text": "x"}\n')
    assert read_records(path).report.ok == 1


def test_write_table_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"out\.xlsx.*\.parquet, \.csv, \.jsonl"):
        write_table(opportunities(), tmp_path / "out.xlsx")
    assert not list(tmp_path.iterdir())


def test_progress_has_a_total_for_parquet_and_none_for_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(25)], "text": ["renew crm"] * 25})
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_csv(tmp_path / "d.csv", index=False)
    for name, expected in (("d.parquet", 25), ("d.csv", None)):
        calls: list[tuple[str, int, int | None]] = []
        read_records(
            tmp_path / name,
            IngestConfig(chunk_rows=10),
            progress=lambda task, done, total, calls=calls: calls.append((task, done, total)),
        )
        assert calls[-1] == ("ingest", 25, expected), name
        assert [c[1] for c in calls] == sorted(c[1] for c in calls)
