"""Config files the fuzzer (tests/fuzz, bench/fuzz.py) broke: a ConfigError naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from topicstrata.config import StrataConfig
from topicstrata.errors import ConfigError


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "strata.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_non_utf8_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# réglages\ningest: {}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"strata\.yaml: byte 3 is not valid UTF-8; re-save"):
        StrataConfig.from_yaml(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ingest: {chunk_row: 5}", "'chunk_row'"),
        ("ingest: {text_cols: 5}", "text_cols=5"),
        ("ingest: {id_col: [a]}", "id_col="),
        ("ingest: {delimiter: ';;'}", "delimiter="),
        ("preprocess: {spacy_model: 5}", "spacy_model=5"),
        ("preprocess: {entity_labels: 5}", "entity_labels"),
        ("preprocess: {batch_sise: 5}", "'batch_sise'; did you mean 'batch_size'"),
    ],
)
def test_section_errors_name_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        StrataConfig.from_yaml(write(tmp_path, text))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'strata.yaml'}: ")
    assert key in message


def test_deeply_nested_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "tune: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match=r"strata\.yaml"):
        StrataConfig.from_yaml(path)
