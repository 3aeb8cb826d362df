"""generate_mapping: auto labels, default actions, and carrying people's edits forward."""

from __future__ import annotations

import logging

import pytest

from topicstrata.errors import MappingError
from topicstrata.mapping import (
    Rule,
    TopicSummary,
    auto_label,
    generate_mapping,
)


def test_auto_label_prefers_top_keyword_then_phrases_and_skips_repeats():
    label = auto_label(
        ["chatbots", "agent", "deflection"], ["virtual agent", "call deflection", "agent"]
    )
    assert label == "Chatbots · virtual agent · call deflection"


def test_auto_label_lets_a_phrase_replace_the_word_it_contains():
    assert auto_label(["invoice", "ocr"], ["invoice processing"]) == "Invoice processing · ocr"


def test_auto_label_keeps_acronyms_and_limits_terms():
    assert auto_label(["CRM", "crm", "sales", "pipeline"], [], max_terms=2) == "CRM · sales"
    assert auto_label([], []) == ""


def test_entries_are_in_tree_order_with_flags_and_sizes(layer1):
    mapping = generate_mapping(layer1, version=1, layer=1)
    assert [e.path for e in mapping.topics] == ["-1", "0", "1", "2", "10"]
    by_path = mapping.by_path()
    assert by_path["0"].flags == ["too_broad: share 0.21 > 0.10"]
    assert by_path["-1"].label == "Outliers"
    assert by_path["2"].size == 150


def test_default_split_none_splits_topics_flagged_too_broad(layer1):
    assert generate_mapping(layer1, 1, 1).paths_to_split(1) == ["0"]
    assert generate_mapping(layer1, 1, 1, default_split=set()).paths_to_split(1) == []
    assert generate_mapping(layer1, 1, 1, default_split={"1", "2"}).paths_to_split(1) == ["1", "2"]


def test_edits_carry_over_to_the_next_layer(layer1, layer2):
    v1 = generate_mapping(layer1, version=1, layer=1, default_split=set())
    edited = v1.by_path()
    edited["0"].action = "split"
    edited["0"].label = "Conversational AI"
    edited["1"].notes = "AP automation, reviewed by Ana"
    edited["2"].action = "merge"
    edited["2"].merge_into = "1"
    edited["10"].action = "drop"
    v1.rules.append(Rule(pattern="contact center", path="0"))

    layer1[1].keywords = ["bots", "chat"]  # keywords moved on
    layer1[3].keywords = ["aml", "fraud"]
    v2 = generate_mapping([*layer1, *layer2], version=2, layer=2, previous=v1)
    got = v2.by_path()
    assert got["0"].label == "Conversational AI"  # edited label survives new keywords
    assert got["0"].keywords == ["bots", "chat"]
    assert got["0"].action == "split"
    assert got["1"].notes == "AP automation, reviewed by Ana"
    assert (got["2"].action, got["2"].merge_into) == ("merge", "1")
    assert got["2"].label.startswith("Aml")  # unedited label follows the keywords
    assert got["10"].action == "drop"
    assert [r.pattern for r in v2.rules] == ["contact center"]
    assert [e.path for e in v2.topics_at(2)] == ["0.0", "0.1", "0.2"]
    assert {e.action for e in v2.topics_at(2)} == {"keep"}
    assert v2.children("0") == v2.topics_at(2)


def test_rename_keeps_the_label_even_if_it_equals_the_old_auto_label(layer1):
    v1 = generate_mapping(layer1, 1, 1)
    v1.by_path()["1"].action = "rename"
    old = v1.by_path()["1"].label
    layer1[2].keywords = ["payables"]
    assert generate_mapping(layer1, 2, 1, previous=v1).by_path()["1"].label == old


def test_stale_merges_and_rules_are_undone_with_a_warning(layer1, caplog):
    v1 = generate_mapping(layer1, 1, 1)
    v1.by_path()["2"].action = "merge"
    v1.by_path()["2"].merge_into = "10"
    v1.rules.append(Rule(pattern="forecast", path="10"))
    remaining = [s for s in layer1 if s.path != "10"]
    with caplog.at_level(logging.WARNING, logger="topicstrata.mapping"):
        v2 = generate_mapping(remaining, 2, 1, previous=v1)
    entry = v2.by_path()["2"]
    assert (entry.action, entry.merge_into) == ("keep", None)
    assert entry.flags == ["stale_merge: target 10 no longer exists"]
    assert v2.rules == []
    assert "merge target 10" in caplog.text and "removing rule" in caplog.text


def test_generation_is_deterministic(layer1):
    assert generate_mapping(layer1, 1, 1) == generate_mapping(list(reversed(layer1)), 1, 1)


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (TopicSummary("7.x", 2, [], [], 1), "not a topic path"),
        (TopicSummary("7.2", 1, [], [], 1), "says level 1"),
        (TopicSummary("7.2.1", 3, [], [], 1), "deeper than layer 2"),
    ],
)
def test_bad_summaries_are_refused(summary, message):
    with pytest.raises(MappingError, match=message):
        generate_mapping([summary], version=2, layer=2)


def test_duplicate_summaries_are_refused():
    s = TopicSummary("1", 1, ["a"], [], 1)
    with pytest.raises(MappingError, match="given twice"):
        generate_mapping([s, s], version=1, layer=1)
