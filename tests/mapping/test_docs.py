"""The example in docs/mapping.md reads, and does what its table says."""

from __future__ import annotations

import re
from pathlib import Path

from topicstrata.mapping import apply_mapping, apply_rules, loads_mapping, resolve

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"


def example_text() -> str:
    section = DOC.read_text(encoding="utf-8").split("## A full example", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match
    return match.group(1)


def test_documented_example_behaves_as_its_table_says():
    mapping = loads_mapping(example_text(), source="docs/mapping.md")
    finals, labels = apply_mapping(["0.0", "0.1", "2", "2.4", "10", "10.1"], mapping)
    assert finals.tolist() == ["0.0", "0.2", "1", "1", "-1", "-1"]
    assert labels.tolist()[:3] == [
        "Voice bots · IVR",
        "Live agent handoff · escalation",
        "Invoice processing · accounts payable · ap",
    ]
    assert labels.tolist()[4] == "Outliers"
    texts = ["new contact center", "RPA renewal", "nothing"]
    assert apply_rules(texts, mapping.rules) == ["0.2", "1", None]
    assert mapping.rules[1].label == "Robotic process automation"
    assert mapping.paths_to_split(1) == ["0"] and mapping.paths_to_split(2) == []
    assert resolve(mapping).final["0.1"] == "0.2"
    assert mapping.by_path()["0"].notes.endswith("voice and chat buyers differ.\n")
