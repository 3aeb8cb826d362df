"""Defects the fuzzer (tests/fuzz, bench/fuzz.py) found in mapping files, one test each."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from strategies import KNOWN_PATHS, valid_mapping_text
from topicstrata.errors import MappingError
from topicstrata.mapping import Mapping, apply_mapping, load_mapping, loads_mapping, resolve


def test_control_character_names_its_line() -> None:
    text = valid_mapping_text().replace("label: Voice", "label: Vo\x1bice")
    line = text[: text.index("\x1b")].count("\n") + 1
    with pytest.raises(MappingError, match=rf"m\.yaml, line {line}: .*character YAML"):
        loads_mapping(text, source="m.yaml")


def test_alias_bomb_is_rejected_without_expanding_it() -> None:
    # Nine levels of ten aliases each would expand to 10**10 items.
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.perf_counter()
    with pytest.raises(MappingError, match=r"m\.yaml, line \d+: .*YAML alias"):
        loads_mapping(valid_mapping_text() + "\n".join(bomb) + "\n", source="m.yaml")
    assert time.perf_counter() - started < 60  # a guard against hanging, not a benchmark


def test_deep_nesting_is_a_mapping_error() -> None:
    text = valid_mapping_text() + "extra: " + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(MappingError, match=r"m\.yaml, line \d+.*(nest|unknown key)"):
        loads_mapping(text, source="m.yaml")


def test_long_merge_chain_resolves_without_recursion() -> None:
    n = 3_000
    topics = [{"path": f"{i}", "action": "merge", "merge_into": f"{i + 1}"} for i in range(n)]
    mapping = Mapping.model_validate(
        {"version": 1, "layer": 1, "topics": [*topics, {"path": f"{n}"}]}
    )
    assert resolve(mapping).final["0"] == str(n)
    finals, _ = apply_mapping(["0", "1500", str(n)], mapping)
    assert list(finals) == [str(n)] * 3


def test_long_merge_cycle_is_named() -> None:
    n = 2_000
    topics = [{"path": f"{i}", "action": "merge", "merge_into": f"{(i + 1) % n}"} for i in range(n)]
    with pytest.raises(MappingError, match=r"merge cycle 0 -> 1 -> 2"):
        resolve(Mapping.model_validate({"version": 1, "layer": 1, "topics": topics}))


def test_rejected_file_leaves_the_previous_mapping_alone(tmp_path: Path) -> None:
    good = tmp_path / "mapping.v2.yaml"
    good.write_text(valid_mapping_text(), encoding="utf-8")
    previous = load_mapping(good, KNOWN_PATHS)
    dumped = previous.model_dump()
    bad = tmp_path / "mapping.v3.yaml"
    bad.write_text(valid_mapping_text().replace('merge_into: "1"', 'merge_into: "9"'))
    with pytest.raises(MappingError, match=r"mapping\.v3\.yaml, line \d+: 'merge: 9' names no"):
        load_mapping(bad, KNOWN_PATHS)
    assert previous.model_dump() == dumped
    assert good.read_text(encoding="utf-8") == valid_mapping_text()


@pytest.mark.parametrize(("text", "value"), [("=", "'='"), ("version: 2025-02-30\n", "2025-02-30")])
def test_values_the_safe_loader_cannot_build_name_their_line(text: str, value: str) -> None:
    # "=" carries YAML's "value" tag, which no safe constructor knows: a traceback before.
    with pytest.raises(MappingError, match=rf"m\.yaml, line 1: the value '?{value}'? cannot be"):
        loads_mapping(text, source="m.yaml")
