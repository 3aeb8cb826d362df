"""Each action's effect on record paths and labels, through resolve and apply_mapping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from topicstrata.errors import MappingError
from topicstrata.mapping import (
    Mapping,
    TopicEntry,
    apply_mapping,
    loads_mapping,
    resolve,
)


def tree(actions: dict[str, str] | None = None) -> Mapping:
    """Topics -1, 0-2, 7 with 7.1-7.3 and 7.2.1-7.2.2, labelled L<path>; others keep."""
    paths = ["-1", "0", "1", "2", "7", "7.1", "7.2", "7.3", "7.2.1", "7.2.2"]
    given = actions or {}
    return Mapping(
        version=1,
        layer=3,
        topics=[TopicEntry(path=p, label=f"L{p}", action=given.get(p, "keep")) for p in paths],
    )


RECORDS = ["0", "1", "7", "7.1", "7.2", "7.2.1", "7.2.2", "7.3", "-1"]


def final(mapping: Mapping, records=RECORDS) -> dict[str, str]:
    finals, _ = apply_mapping(records, mapping)
    return dict(zip(records, finals.tolist(), strict=True))


def test_keep_changes_nothing():
    finals, labels = apply_mapping(RECORDS, tree())
    assert finals.tolist() == RECORDS
    assert labels.tolist() == [f"L{p}" for p in RECORDS]


def test_rename_shows_the_edited_label():
    mapping = tree({"7.1": "rename"})
    mapping.by_path()["7.1"].label = "Voice bots"
    _, labels = apply_mapping(["7.1", "7.2"], mapping)
    assert labels.tolist() == ["Voice bots", "L7.2"]


def test_merge_joins_two_topics_with_the_targets_label():
    mapping = tree({"7.2": "merge: 7.3"})
    finals, labels = apply_mapping(["7.2", "7.3", "7.1"], mapping)
    assert finals.tolist() == ["7.3", "7.3", "7.1"]
    assert labels.tolist() == ["L7.3", "L7.3", "L7.1"]


def test_merge_moves_the_whole_subtree_to_the_target_leaf():
    got = final(tree({"7.2": "merge: 7.3"}))
    assert got["7.2.1"] == got["7.2.2"] == "7.3"


def test_merge_chain_is_followed():
    mapping = tree({"0": "merge: 1", "1": "merge: 2"})
    assert final(mapping)["0"] == "2"
    assert resolve(mapping).final == {**{p: p for p in resolve(tree()).final}, "0": "2", "1": "2"}


def test_merge_into_a_topic_whose_parent_moves_follows_the_parent():
    got = final(tree({"7": "merge: 2", "7.2": "merge: 7.3"}))
    assert {got[p] for p in ["7", "7.1", "7.2", "7.2.1", "7.3"]} == {"2"}


def test_drop_layer1_topic_sends_records_to_outliers():
    got = final(tree({"7": "drop"}))
    assert {got[p] for p in ["7", "7.1", "7.2.1"]} == {"-1"}
    _, labels = apply_mapping(["7.2.1"], tree({"7": "drop"}))
    assert labels.tolist() == ["L-1"]


def test_drop_layer1_topic_without_an_outlier_entry_is_labelled_outliers():
    mapping = Mapping(version=1, layer=1, topics=[TopicEntry(path="3", action="drop")])
    finals, labels = apply_mapping(["3"], mapping)
    assert (finals.tolist(), labels.tolist()) == (["-1"], ["Outliers"])


def test_drop_deeper_topic_sends_records_to_the_parent():
    got = final(tree({"7.2": "drop"}))
    assert got["7.2"] == got["7.2.1"] == got["7.2.2"] == "7"
    assert got["7.1"] == "7.1"
    assert final(tree({"7.2.1": "drop"}))["7.2.1"] == "7.2"


def test_split_is_listed_by_paths_to_split_unless_an_ancestor_moves():
    mapping = tree({"7.1": "split", "7.3": "split", "1": "split"})
    assert mapping.paths_to_split(1) == ["1"]
    assert mapping.paths_to_split(2) == ["7.1", "7.3"]
    assert tree({"7": "drop", "7.1": "split"}).paths_to_split(2) == []
    assert final(mapping) == {p: p for p in RECORDS}


def test_unknown_paths_pass_through_with_the_nearest_label():
    finals, labels = apply_mapping(["7.9", "7.-1", "42"], tree({"0": "drop"}))
    assert finals.tolist() == ["7.9", "7.-1", "42"]
    assert labels.tolist() == ["L7", "L7", "42"]
    assert apply_mapping(["7.9"], tree({"7": "merge: 0"}))[0].tolist() == ["0"]


def test_apply_mapping_takes_arrays_series_and_missing_values():
    mapping = tree({"0": "merge: 1"})
    series = pd.Series(["0", None, "1", np.nan], dtype=object)
    finals, labels = apply_mapping(series, resolve(mapping))
    assert finals.tolist() == ["1", "-1", "1", "-1"]
    assert labels.tolist() == ["L1", "L-1", "L1", "L-1"]
    big = np.array(["0", "7.2.1"] * 50_000, dtype=object)
    assert apply_mapping(big, mapping)[0][:2].tolist() == ["1", "7.2.1"]


def test_empty_label_falls_back_to_the_auto_label():
    mapping = Mapping(
        version=1,
        layer=1,
        topics=[TopicEntry(path="0", label="", keywords=["crm"], phrases=["crm migration"])],
    )
    assert apply_mapping(["0"], mapping)[1].tolist() == ["Crm migration"]


def test_resolve_raises_on_a_cycle_built_in_python():
    mapping = tree({"0": "merge: 1", "1": "merge: 0"})
    with pytest.raises(MappingError, match="merge cycle 0 -> 1 -> 0"):
        resolve(mapping)


def test_compact_merge_forms_read_the_same():
    base = 'version: 1\nlayer: 1\ntopics:\n  - path: "1"\n  - path: "0"\n'
    forms = [
        '    action: merge\n    merge_into: "1"\n',
        '    action: "merge: 1"\n',
        "    action: {merge: 1}\n",
        "    action: 'merge: \"1\"'\n",
    ]
    read = [loads_mapping(base + form).by_path()["0"] for form in forms]
    assert {(e.action, e.merge_into) for e in read} == {("merge", "1")}
