"""Every bad input raises MappingError naming the file, the line and the fix."""

from __future__ import annotations

import re

import pytest

from topicstrata.errors import MappingError
from topicstrata.mapping import load_mapping, loads_mapping

GOOD = """\
# comment
version: 2
layer: 2
topics:
  - path: "7"
    label: Chatbots
    action: split
  - path: "7.1"
    label: Voice bots
  - path: "7.2"
    label: FAQ bots
  - path: "7.3"
    label: Handoff
  - path: "8"
    label: Invoices
rules:
  - pattern: contact center
    path: "7.1"
"""
KNOWN = ["7", "7.1", "7.2", "7.3", "7.4", "8"]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return lines[occurrence - 1]


def edit(old: str, new: str, occurrence: int = 1) -> str:
    return _replace_nth(GOOD, old, new, occurrence)


def _replace_nth(text: str, old: str, new: str, n: int) -> str:
    start = -1
    for _ in range(n):
        start = text.index(old, start + 1)
    return text[:start] + new + text[start + len(old) :]


def error_for(text: str, known=None) -> str:
    with pytest.raises(MappingError) as info:
        loads_mapping(text, known, source="mapping.v2.yaml")
    return str(info.value)


def assert_line(message: str, line: int) -> None:
    assert message.startswith(f"mapping.v2.yaml, line {line}"), message


def test_the_good_file_reads():
    assert len(loads_mapping(GOOD, KNOWN).topics) == 5


def test_bad_yaml_names_line_and_column():
    text = edit("    label: FAQ bots\n", "    label: [FAQ bots\n")
    message = error_for(text)
    assert re.match(r"mapping\.v2\.yaml, line \d+, column \d+: the file is not valid YAML", message)
    assert "check the indentation" in message


def test_bad_yaml_tab_indentation():
    message = error_for(edit("    label: Handoff\n", "\tlabel: Handoff\n"))
    assert_line(message, line_of(GOOD, "label: Handoff"))


def test_unknown_action_names_its_line():
    text = edit("    action: split\n", "    action: splitt\n")
    message = error_for(text)
    assert_line(message, line_of(text, "splitt"))
    assert "unknown action 'splitt'" in message and "keep, split, merge" in message


def test_unknown_key_lists_the_valid_keys():
    text = edit("    label: Handoff\n", "    lable: Handoff\n")
    message = error_for(text)
    assert_line(message, line_of(text, "lable"))
    assert "unknown key 'lable'" in message and "label, keywords" in message


def test_missing_path_names_the_entry():
    text = edit('  - path: "8"\n    label: Invoices\n', "  - label: Invoices\n")
    message = error_for(text)
    assert_line(message, line_of(text, "label: Invoices"))
    assert "has no 'path'" in message


def test_wrong_type_names_the_field():
    text = edit("    label: Voice bots\n", "    label: Voice bots\n    size: many\n")
    message = error_for(text)
    assert_line(message, line_of(text, "size: many"))
    assert "'size'" in message and "integer" in message


def test_malformed_path():
    text = edit('  - path: "8"\n', '  - path: "8.x"\n')
    message = error_for(text)
    assert_line(message, line_of(text, '"8.x"'))
    assert "'8.x' is not a topic path" in message


def test_unknown_path_lists_valid_siblings():
    text = edit('  - path: "7.3"\n', '  - path: "7.9"\n')
    message = error_for(text, KNOWN)
    assert_line(message, line_of(text, '"7.9"'))
    assert "topic '7.9' is not in the model; known topics at this level are 7.1-7.4" in message


def test_merge_into_unknown_topic_lists_valid_targets():
    text = edit("    label: FAQ bots\n", "    label: FAQ bots\n    action: 'merge: 7.9'\n")
    message = error_for(text)
    assert message == (
        f"mapping.v2.yaml, line {line_of(text, 'merge: 7.9')}: 'merge: 7.9' names no topic; "
        "valid targets at this level are 7.1, 7.3"
    )


def test_merge_into_self():
    text = edit(
        "    label: FAQ bots\n", '    label: FAQ bots\n    action: merge\n    merge_into: "7.2"\n'
    )
    message = error_for(text)
    assert_line(message, line_of(text, 'merge_into: "7.2"'))
    assert "into itself" in message


def test_merge_into_another_level():
    text = edit("    label: FAQ bots\n", "    label: FAQ bots\n    action: {merge: 8}\n")
    message = error_for(text)
    assert_line(message, line_of(text, "{merge: 8}"))
    assert "names a level-1 topic but 7.2 is at level 2" in message


def test_merge_into_a_dropped_topic():
    text = edit("    label: Handoff\n", "    label: Handoff\n    action: drop\n")
    text = _replace_nth(
        text, "    label: FAQ bots\n", "    label: FAQ bots\n    action: merge: 7.3\n", 1
    )
    # 'action: merge: 7.3' unquoted is not valid YAML; the message says to quote it.
    assert "quotes around text that contains ': '" in error_for(text)
    text = text.replace("action: merge: 7.3", "action: 'merge: 7.3'")
    message = error_for(text)
    assert_line(message, line_of(text, "merge: 7.3"))
    assert "names topic 7.3, which is dropped" in message


def test_merge_cycle_names_the_first_entry_of_the_cycle():
    text = edit("    label: FAQ bots\n", "    label: FAQ bots\n    action: 'merge: 7.3'\n")
    text = _replace_nth(
        text, "    label: Handoff\n", "    label: Handoff\n    action: 'merge: 7.2'\n", 1
    )
    message = error_for(text)
    assert_line(message, line_of(text, "merge: 7.3"))
    assert "merge cycle 7.2 -> 7.3 -> 7.2" in message


def test_merge_and_merge_into_disagree():
    text = edit(
        "    label: FAQ bots\n",
        '    label: FAQ bots\n    action: "merge: 7.3"\n    merge_into: "7.1"\n',
    )
    message = error_for(text)
    assert_line(message, line_of(text, '"merge: 7.3"'))
    assert "keep one" in message


def test_merge_without_target():
    text = edit("    label: FAQ bots\n", "    label: FAQ bots\n    action: merge\n")
    message = error_for(text)
    assert_line(message, line_of(text, "action: merge"))
    assert "add merge_into" in message


def test_duplicate_path_names_both_lines():
    text = edit('  - path: "8"\n', '  - path: "7.1"\n')
    message = error_for(text)
    assert_line(message, line_of(text, '"7.1"', 2))
    assert f"topic 7.1 is listed twice (first at line {line_of(text, '7.1')})" in message


def test_duplicate_key_in_one_entry():
    text = edit("    label: Handoff\n", "    label: Handoff\n    label: Escalation\n")
    message = error_for(text)
    assert_line(message, line_of(text, "Escalation"))
    assert "key 'label' appears twice" in message


def test_invalid_regex_names_the_rule_line():
    text = edit("  - pattern: contact center\n", "  - pattern: '(contact'\n    regex: true\n")
    message = error_for(text)
    assert_line(message, line_of(text, "(contact"))
    assert "is not a valid regular expression" in message and "remove `regex: true`" in message


def test_rule_to_unknown_path():
    text = edit('    path: "7.1"\n', '    path: "7.7"\n')
    message = error_for(text)
    assert_line(message, line_of(text, '"7.7"'))
    assert "sends records to '7.7', which names no topic" in message


def test_topic_deeper_than_the_layer():
    text = edit("layer: 2\n", "layer: 1\n")
    message = error_for(text)
    assert_line(message, line_of(text, '"7.1"'))
    assert "at level 2 but this file describes layers 1-1" in message


def test_all_problems_are_reported_in_line_order():
    text = edit("    action: split\n", "    action: splitt\n")
    text = _replace_nth(text, "    label: Handoff\n", "    lable: Handoff\n", 1)
    lines = error_for(text).splitlines()
    assert len(lines) == 2
    assert_line(lines[0], line_of(text, "splitt"))
    assert lines[1].startswith(f"mapping.v2.yaml, line {line_of(text, 'lable')}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("- 1\n- 2\n", "must be a YAML mapping"),
        ("layer: 1\ntopics: []\n", "has no 'version'"),
        ("version: 1\nlayer: 1\ntopics: {a: 1}\n", "'topics': Input should be a valid list; write"),
        ("version: 1\nlayer: 1\ntopics:\n  - 7\n", "line 4: topic entry 1: Input should be"),
    ],
)
def test_wrong_top_level(text, message):
    assert message in error_for(text)


def test_load_mapping_names_the_file(tmp_path):
    path = tmp_path / "mapping.v2.yaml"
    path.write_text(edit("    action: split\n", "    action: splitt\n"), encoding="utf-8")
    with pytest.raises(
        MappingError, match=rf"^{re.escape(str(path))}, line 7: topic 7: unknown action"
    ):
        load_mapping(path)
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")


def test_mapping_error_is_a_value_error():
    with pytest.raises(ValueError):
        loads_mapping("version: [")
