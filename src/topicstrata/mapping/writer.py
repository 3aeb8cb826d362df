"""Write a mapping as deterministic, commented, human-editable YAML.

Keys come in a fixed order, topics in the order of ``Mapping.topics`` (tree
order when generated), one blank line between entries, short lists in flow
style (``[a, b]``), paths always double-quoted so no YAML reader turns
``7.10`` into a number. Nothing time-dependent is written unless the mapping
carries it, so the same mapping always gives the same bytes.
"""

from __future__ import annotations

import logging
import os
import tempfile
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from topicstrata.mapping.schema import Mapping, Rule, TopicEntry

__all__ = ["HEADER", "dump_mapping", "dumps_mapping"]

logger = logging.getLogger(__name__)

FLOW_WIDTH = 100
_NO_WRAP = 1 << 30
_LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")

HEADER = """\
# topicstrata mapping file. Edit label, action and notes, then resume the pipeline.
#
# action: keep      leave the topic as it is
#         split     re-cluster this topic on its own in the next layer
#         merge     join this topic (and everything under it) into another topic
#                   of the same level; also write the target:  merge_into: "7.3"
#                   (or in one line:  action: "merge: 7.3")
#         drop      layer-1 topic: its records become outliers (-1);
#                   deeper topic: its records stay at the parent topic
#         rename    use the edited label (an edited label is used with any action)
# flags are the model's suggestions; they change nothing until you change action.
# keywords, phrases and size describe the topic and are rewritten on each run.
#
# rules send records whose text matches `pattern` to `path`, before clustering and
# at predict time; the first matching rule wins (top to bottom). A pattern is a
# phrase matched as whole words in any case, or a regular expression with
# `regex: true`. For example:
#   rules:
#     - pattern: contact center
#       path: "3.1"
#     - pattern: '\\bRPA\\b|robotic process'
#       regex: true
#       path: "5"
"""


class _Flow(list[Any]):
    pass


class _Block(list[Any]):
    pass


class _Quoted(str):
    __slots__ = ()


class _Literal(str):
    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent block lists under their key, as people write them by hand.
        super().increase_indent(flow, False)


def _represent_flow(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_block(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=False)


def _represent_quoted(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


def _represent_literal(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(_Block, _represent_block)
_Dumper.add_representer(_Quoted, _represent_quoted)
_Dumper.add_representer(_Literal, _represent_literal)


def _pair(key: str, value: Any) -> list[str]:
    """One ``key: value`` as YAML lines, relative to the entry's indentation."""
    text = yaml.dump(
        {key: value},
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=_NO_WRAP,
        default_flow_style=False,
    )
    return text.rstrip("\n").split("\n")


def _text(value: str) -> str:
    # Multi-line text as a literal block; one-line text quoted only where YAML needs it.
    if not value:
        return _Quoted(value)
    if any(b in value for b in _LINE_BREAKS[1:]):
        return _Quoted(value)  # escaped: YAML readers normalize these breaks in blocks
    if "\n" not in value:
        return value
    # A literal block reads best, but its trailing blank lines would swallow the
    # separator lines around it, so text ending in blank lines is quoted instead.
    return _Quoted(value) if value.endswith("\n\n") or not value.strip("\n") else _Literal(value)


def _list(key: str, values: list[str], indent: int) -> list[str]:
    items = [_Quoted(v) if any(b in v for b in _LINE_BREAKS) else v for v in values]
    flow = _pair(key, _Flow(items))
    if len(flow) == 1 and indent + len(flow[0]) <= FLOW_WIDTH:
        return flow
    return _pair(key, _Block(items))


def _entry_lines(pairs: list[list[str]], indent: int) -> list[str]:
    lines: list[str] = []
    for number, pair in enumerate(pairs):
        for line_no, line in enumerate(pair):
            if number == 0 and line_no == 0:
                lines.append(" " * (indent - 2) + "- " + line)
            else:
                lines.append(" " * indent + line if line else line)
    return lines


def _topic_pairs(entry: TopicEntry, indent: int) -> list[list[str]]:
    pairs = [
        _pair("path", _Quoted(entry.path)),
        _pair("label", _text(entry.label)),
        _list("keywords", entry.keywords, indent),
        _list("phrases", entry.phrases, indent),
        _pair("size", entry.size),
        _pair("action", entry.action),
    ]
    if entry.merge_into is not None:
        pairs.append(_pair("merge_into", _Quoted(entry.merge_into)))
    pairs.append(_pair("notes", _text(entry.notes)))
    pairs.append(_list("flags", entry.flags, indent))
    return pairs


def _rule_pairs(rule: Rule, indent: int) -> list[list[str]]:
    pairs = [_pair("pattern", _text(rule.pattern))]
    if rule.regex:
        pairs.append(_pair("regex", True))
    pairs.append(_pair("path", _Quoted(rule.path)))
    if rule.label is not None:
        pairs.append(_pair("label", _text(rule.label)))
    if rule.notes:
        pairs.append(_pair("notes", _text(rule.notes)))
    return pairs


def dumps_mapping(mapping: Mapping) -> str:
    """The mapping as YAML text: a comment header, then version, layer, topics, rules."""
    indent = 4
    out = [HEADER.rstrip("\n"), ""]
    out += _pair("version", mapping.version)
    out += _pair("layer", mapping.layer)
    if mapping.generated_at is not None:
        out += _pair("generated_at", _text(mapping.generated_at))
    if mapping.created_by is not None:
        out += _pair("created_by", _text(mapping.created_by))
    out.append("")
    sections = (
        ("topics", [_topic_pairs(t, indent) for t in mapping.topics]),
        ("rules", [_rule_pairs(r, indent) for r in mapping.rules]),
    )
    for name, items in sections:
        if not items:
            out += [f"{name}: []", ""]
            continue
        out.append(f"{name}:")
        for pairs in items:
            out += _entry_lines(pairs, indent)
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def dump_mapping(mapping: Mapping, path: str | PathLike[str]) -> None:
    """Write ``dumps_mapping(mapping)`` to ``path`` atomically (temporary file, then rename)."""
    target = Path(path)
    text = dumps_mapping(mapping)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%d topics, %d rules)", target, len(mapping.topics), len(mapping.rules))
