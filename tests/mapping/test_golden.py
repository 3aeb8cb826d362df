"""The generated v1 file, byte for byte. Regenerate with UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

from topicstrata.mapping import dump_mapping, generate_mapping, load_mapping

GOLDEN = Path(__file__).parent / "golden" / "mapping.v1.yaml"


def test_generated_v1_matches_golden(layer1, tmp_path):
    mapping = generate_mapping(layer1, version=1, layer=1)
    out = tmp_path / "mapping.v1.yaml"
    dump_mapping(mapping, out)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_bytes(out.read_bytes())
    assert out.read_bytes() == GOLDEN.read_bytes()


def test_golden_reads_back(layer1):
    mapping = load_mapping(GOLDEN, known_paths=[s.path for s in layer1])
    assert mapping == generate_mapping(layer1, version=1, layer=1)
    assert mapping.by_path()["0"].action == "split"  # flagged too broad
    assert mapping.by_path()["10"].action == "keep"
