"""Bad input fails with an InputError naming the file, the place and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from topicstrata.errors import ConfigError, InputError
from topicstrata.io import IngestConfig, read_records


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_column_names_the_closest_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "reviews.csv", "Title,Text,Cat1\nA,B,c\n")
    with pytest.raises(InputError) as info:
        read_records(path, IngestConfig(text_cols=("Titel", "Text")))
    message = str(info.value)
    assert "reviews.csv" in message
    assert "'Titel'" in message
    assert "closest: 'Title'" in message
    assert "text_cols" in message


def test_missing_metadata_column_names_the_option(tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", "id,text,deal_amount_usd\n1,a,5\n")
    with pytest.raises(InputError, match=r"o\.csv: column 'amount_usd' \(from amount_col\)"):
        read_records(path, IngestConfig(amount_col="amount_usd"))


def test_no_text_column_explains_text_cols(tmp_path: Path) -> None:
    path = write(tmp_path / "nums.csv", "a,b\n1,2\n")
    with pytest.raises(
        InputError, match=r"nums\.csv: no text column.*text_cols=\('Title', 'Text'\)"
    ):
        read_records(path)


def test_unknown_format_lists_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "data.xlsx", "x")
    with pytest.raises(InputError) as info:
        read_records(path)
    message = str(info.value)
    assert "data.xlsx" in message and "'.xlsx'" in message
    assert ".csv (csv)" in message and ".parquet (parquet)" in message and "format=" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        read_records(tmp_path / "nope.csv")


def test_wrong_encoding_says_what_it_looks_like(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    body = "".join(f"{i},plain ascii row {i}\n" for i in range(1, 200))
    accented = "200,Café déjà vu - naïve façade für Müller “quoted” résumé\n"
    path.write_bytes(("id,text\n" + body + accented).encode("cp1252"))
    with pytest.raises(InputError) as info:
        read_records(path)
    message = str(info.value)
    assert "export.csv" in message
    assert "line 201" in message
    assert "not valid UTF-8" in message
    assert "encoding='cp1252'" in message
    assert "re-save" in message.lower()


def test_wrong_encoding_in_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"text": "ok"}\n' + '{"text": "Café façade"}\n'.encode("cp1252"))
    with pytest.raises(InputError, match=r"r\.jsonl: line 2 .*not valid UTF-8.*encoding="):
        read_records(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.csv", ""), ("header.csv", "id,text\n"), ("empty.jsonl", "\n\n")],
)
def test_empty_files(tmp_path: Path, name: str, content: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(InputError, match=rf"{name}: .*empty"):
        read_records(path)


def test_empty_parquet(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "none.parquet"
    pd.DataFrame({"id": pd.Series(dtype=str), "text": pd.Series(dtype=str)}).to_parquet(path)
    with pytest.raises(InputError, match=r"none\.parquet: no records"):
        read_records(path)


def test_malformed_json_line_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", '{"text": "a"}\n\n{"text": "b"\n{"text": "c"}\n')
    with pytest.raises(InputError) as info:
        read_records(path)
    message = str(info.value)
    assert "r.jsonl: line 3 is not valid JSON" in message
    assert "one complete JSON object" in message


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", '{"text": "a"}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"r\.jsonl: line 2 holds a JSON list"):
        read_records(path)


def test_malformed_csv_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", "id,text\n1,a\n2,b,extra\n3,c\n")
    with pytest.raises(InputError) as info:
        read_records(path)
    message = str(info.value)
    assert "bad.csv: row 3 (counting the header as row 1)" in message
    assert "3 fields, expected 2" in message
    assert "Quote values" in message


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = write(tmp_path / "fake.parquet", "id,text\n1,a\n")
    with pytest.raises(InputError, match=r"fake\.parquet: not a readable Parquet file.*format="):
        read_records(path)


def test_duplicate_column_names(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "id,text,text\n1,a,b\n")
    with pytest.raises(InputError, match=r"d\.csv: column names appear more than once: text"):
        read_records(path)


def test_salesforce_malformed_json(tmp_path: Path) -> None:
    path = write(tmp_path / "Opportunities.json", '{"records": [\n  {"Name": "x",}\n]}\n')
    with pytest.raises(InputError, match=r"Opportunities\.json: line 2, column \d+: invalid JSON"):
        read_records(path)


def test_salesforce_wrong_shape(tmp_path: Path) -> None:
    path = write(tmp_path / "Opportunities.json", json.dumps({"records": "nope"}))
    with pytest.raises(InputError, match=r"Opportunities\.json: expected a Salesforce tree export"):
        read_records(path)


def test_salesforce_directory_without_opportunities(tmp_path: Path) -> None:
    write(tmp_path / "Accounts.json", json.dumps({"records": []}))
    with pytest.raises(InputError, match=r"no Opportunities JSON file.*Accounts\.json"):
        read_records(tmp_path)


def test_user_errors_are_value_errors_without_chained_tracebacks(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", "{oops\n")
    with pytest.raises(ValueError) as info:
        read_records(path)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"format": "xml"}, r"format='xml' is not supported; use one of csv, parquet"),
        ({"chunk_rows": 0}, r"chunk_rows=0 must be a positive integer"),
        ({"default_term_months": -1}, r"default_term_months=-1 must be a positive number"),
        ({"annualize_factor": 0}, r"annualize_factor=0 must be a positive number"),
        ({"encoding": "klingon"}, r"encoding='klingon' is not a known codec"),
        ({"text_cols": ()}, r"text_cols=\(\) must name at least one column"),
    ],
)
def test_config_errors(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        IngestConfig(**kwargs)  # type: ignore[arg-type]


def test_config_from_dict_rejects_typos() -> None:
    assert IngestConfig.from_dict({"text_cols": ["a"]}).text_cols == ("a",)
    with pytest.raises(
        ConfigError, match=r"unknown ingest option 'text_col'; did you mean 'text_cols'"
    ):
        IngestConfig.from_dict({"text_col": ["a"]})


def test_directory_with_a_file_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is a directory; pass the csv file inside it"):
        read_records(tmp_path, IngestConfig(format="csv"))
