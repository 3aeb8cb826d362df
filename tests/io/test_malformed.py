"""Defects the fuzzer (tests/fuzz, bench/fuzz.py) found in ingest, one regression test each."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from topicstrata.errors import ConfigError, InputError
from topicstrata.io import IngestConfig, read_records, schema


def test_parquet_numeric_columns_are_not_written_in_place(tmp_path: Path) -> None:
    # Arrow hands pandas read-only arrays; blanking a bad term or amount crashed.
    path = tmp_path / "t.parquet"
    table = {"id": ["a", "b"], "text": ["x", "y"], "term_months": [12.0, -1.0]}
    pq.write_table(pa.table({**table, "amount": [1.0, float("inf")]}), path)
    report = read_records(path).report
    assert (report.rows_in, report.ok) == (2, 1)
    reason = report.rejected.loc[0, "reason"]
    assert "inf is not a finite number" in reason and "it must be positive" in reason


def test_undecodable_bytes_in_a_bad_csv_row_are_an_encoding_error(tmp_path: Path) -> None:
    # pyarrow decoded the malformed row's text in a callback: an "Exception ignored"
    # UnicodeDecodeError, then a generic parse error.
    path = tmp_path / "r.csv"
    path.write_bytes(b"id,text\n1,a\n2,caf\xe9,x\n")
    seen: list[object] = []
    previous, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        with pytest.raises(InputError, match=r"r\.csv: line 3 \(byte \d+\) is not valid UTF-8"):
            read_records(path)
    finally:
        sys.unraisablehook = previous
    assert seen == []
    assert sys.unraisablehook is previous


def test_non_utf8_header_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes("idé,text\n1,a\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"h\.csv: line 1 .*not valid UTF-8.*encoding="):
        read_records(path)


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_is_sniffed_from_the_header(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "d.csv"
    lines = ["id", "text", "amount"], ["1", "hello, world; again", "5"], ["2", "bye", "7"]
    path.write_text("\n".join(delimiter.join(f'"{c}"' for c in line) for line in lines) + "\n")
    result = read_records(path)
    assert list(result.table[schema.TEXT]) == ["hello, world; again", "bye"]
    assert list(result.table[schema.AMOUNT]) == [5.0, 7.0]


def test_configured_delimiter_wins_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("text\nsemi;colon\n")  # one column: nothing to sniff
    assert list(read_records(path).table[schema.TEXT]) == ["semi;colon"]
    with pytest.raises(InputError, match=r"one\.csv: row 2 .* has 2 fields, expected 1"):
        read_records(path, IngestConfig(delimiter=";"))
    for bad in (";;", "", "\n", '"', 5):
        with pytest.raises(ConfigError, match="delimiter="):
            IngestConfig(delimiter=bad)  # type: ignore[arg-type]


def test_declared_utf8_that_is_not_says_so(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes("id,text\n1,café\n".encode("cp1252"))
    with pytest.raises(InputError) as info:
        read_records(path, IngestConfig(encoding="utf-8"))
    message = str(info.value)
    assert "e.csv: line 2" in message
    assert "although encoding='utf-8' was given" in message
    assert "encoding='cp1252'" in message
    utf16 = tmp_path / "w.csv"
    utf16.write_bytes("id,text\n1,a\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"w\.csv: the file is UTF-16 .*although encoding="):
        read_records(utf16, IngestConfig(encoding="UTF8"))


def test_huge_amount_is_a_rejected_row_not_an_overflow(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,text,amount\n1,a,1e308\n2,b,5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = read_records(path).report
    assert (report.ok, report.n_rejected) == (1, 1)
    assert "1e+308 is too large: its annualized revenue" in report.rejected.loc[0, "reason"]


def test_jsonl_records_without_keys_are_counted(tmp_path: Path) -> None:
    # A chunk of only {} records became a frame of no rows: records lost silently.
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "1", "text": "a"}\n{}\n{}\n')
    report = read_records(path, IngestConfig(chunk_rows=1)).report
    assert (report.rows_in, report.ok) == (3, 1)
    assert list(report.rejected["reason"]) == ["id (id) is empty"] * 2
    assert list(report.rejected["line"]) == [2, 3]


def test_dates_outside_python_dates_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        '{"text": "a", "close_date": "-1"}\n{"text": "b", "close_date": "0000-01-01"}\n'
    )
    report = read_records(path).report
    assert report.n_rejected == 2
    assert "is not a date" in report.rejected.loc[0, "reason"]
    stamps = pa.array([-62135596800 * 2, 0], type=pa.timestamp("s"))
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "close_date": stamps}), parquet)
    report = read_records(parquet).report
    assert (report.ok, report.n_rejected) == (1, 1)
    assert "is not a usable date" in report.rejected.loc[0, "reason"]


def test_damaged_parquet_pages_are_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(50)], "text": ["x" * 40] * 50}), path)
    data = bytearray(path.read_bytes())
    for at in range(4, 200):  # the first data pages, not the footer
        data[at] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"p\.parquet: .*(damaged|not a readable)"):
        read_records(path)


def test_parquet_text_that_is_not_utf8_names_column_and_record(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    bad = pa.array([b"ok", b"\xff\xfe"], type=pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ["1", "2"], "text": bad}), path)
    with pytest.raises(InputError, match=r"b\.parquet: record 2, column 'text': .*not valid UTF-8"):
        read_records(path)


@pytest.mark.parametrize(
    "line", ['{"text": "a", "amount": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000]
)
def test_unreadable_json_lines_name_the_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "ok"}\n' + line + "\n")
    with pytest.raises(InputError, match=r"r\.jsonl: line 2 (cannot be read|is not valid JSON)"):
        read_records(path)


def test_json_integer_beyond_float_range_is_a_rejected_amount(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "a", "amount": 1' + "0" * 400 + "}\n")
    report = read_records(path).report
    assert report.rejected.loc[0, "status"] == "invalid"


def test_salesforce_malformed_nested_opportunities(tmp_path: Path) -> None:
    (tmp_path / "Opportunities.json").write_text(json.dumps({"records": [{"Name": "a"}]}))
    accounts = [{"attributes": {"referenceId": "AccountRef1"}, "Opportunities": {"records": 5}}]
    (tmp_path / "Accounts.json").write_text(json.dumps({"records": accounts}))
    with pytest.raises(InputError, match=r"Accounts\.json: account record 1 \(AccountRef1\)"):
        read_records(tmp_path)


def test_salesforce_missing_account_links_keep_every_record(tmp_path: Path) -> None:
    opps = [
        {"Name": "a", "AccountId": "@AccountRef9"},
        {"Name": "b", "AccountId": None},
        {"Name": "c", "AccountId": {"odd": 1}},
        {"Name": "d"},
    ]
    (tmp_path / "Opportunities.json").write_text(json.dumps({"records": opps}))
    table = read_records(tmp_path / "Opportunities.json").table
    assert list(table[schema.TEXT]) == ["a", "b", "c", "d"]
    assert table[schema.ACCOUNT_NAME].isna().all()


@pytest.mark.parametrize(
    ("option", "value"),
    [("id_col", 5), ("text_cols", 5), ("encoding", 5), ("amount_col", ["a"]), ("chunk_rows", True)],
)
def test_ingest_options_of_the_wrong_type(option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"{option}="):
        IngestConfig(**{option: value})


def test_sniffing_reads_a_frame_like_the_explicit_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame({"id": ["1", "2"], "text": ["a|b", "c"]}).to_csv(path, sep="|", index=False)
    sniffed = read_records(path).table
    explicit = read_records(path, IngestConfig(delimiter="|")).table
    pd.testing.assert_frame_equal(sniffed, explicit)


@pytest.mark.parametrize("name", ["u.csv", "u.jsonl"])
def test_declared_utf16_without_its_byte_order_mark(tmp_path: Path, name: str) -> None:
    # The UTF-16 decoder raises a plain UnicodeError ("does not start with BOM").
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + '"id","text"\n"1","a"\n'.encode("utf-16-le"))
    with pytest.raises(InputError, match=rf"{name}: .*cannot be decoded as utf-16 \(.*BOM"):
        read_records(path, IngestConfig(encoding="utf-16"))
