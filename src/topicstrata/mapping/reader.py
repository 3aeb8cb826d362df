"""Read a mapping file, keeping each value's line so every error can name it.

The YAML is composed into nodes (which carry their marks) and converted by
hand. Text fields (paths, labels, keywords, notes, patterns) keep the
characters as written, so ``path: 7.10`` stays ``"7.10"`` instead of becoming
the float 7.1, and a keyword ``no`` stays text instead of becoming False.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from os import PathLike
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from topicstrata.errors import MappingError
from topicstrata.mapping.schema import Mapping, Rule, TopicEntry
from topicstrata.mapping.validate import LineIndex, Loc, Problems, validate_mapping

__all__ = ["load_mapping", "loads_mapping"]

logger = logging.getLogger(__name__)

_TEXT_KEYS = frozenset(
    {
        "path",
        "label",
        "notes",
        "merge_into",
        "merge",
        "pattern",
        "action",
        "generated_at",
        "created_by",
    }
)
_TEXT_LIST_KEYS = frozenset({"keywords", "phrases", "flags"})
_NULL_TAG = "tag:yaml.org,2002:null"
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_mapping(path: str | PathLike[str], known_paths: Collection[str] | None = None) -> Mapping:
    """Read and validate a mapping file; raise ``MappingError`` naming the file and line.

    ``known_paths``, when given, are the model's topic paths: entries, merge
    targets and rule targets must be among them.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read the mapping file ({exc})") from exc
    return loads_mapping(text, known_paths, source=str(path))


def loads_mapping(
    text: str, known_paths: Collection[str] | None = None, *, source: str = "<mapping>"
) -> Mapping:
    """Parse and validate mapping YAML from a string; ``source`` names it in errors."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except RecursionError:
        raise MappingError(
            f"{source}: the YAML is nested too deeply to read; a mapping has three levels "
            "(file, topic entry, list); fix the file"
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise MappingError(_yaml_message(source, exc)) from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise MappingError(
            f"{source}, line {line}: the file holds a character YAML does not allow "
            f"({exc.reason}: {_char(exc.character)}); delete it, or re-save the file as "
            "plain UTF-8 text"
        ) from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: the file is not valid YAML ({exc}); fix it") from exc
    if node is None:
        raise MappingError(
            f"{source}: the file is empty; a mapping needs at least `version:`, `layer:` "
            "and `topics:`"
        )
    lines: LineIndex = {}
    problems = Problems(source, lines)
    try:
        data = _Converter(lines, problems).convert(node, (), text_mode=None)
    except RecursionError:
        raise MappingError(
            f"{source}, line {node.start_mark.line + 1}: the YAML is nested too deeply to "
            "read; a mapping has three levels (file, topic entry, list); fix the file"
        ) from None
    problems.raise_if_any()
    if not isinstance(data, dict):
        raise MappingError(
            f"{source}, line {node.start_mark.line + 1}: the file must be a YAML mapping with "
            "`version:`, `layer:`, `topics:` and `rules:` at the top level"
        )
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            _add_schema_problem(problems, error, data)
        problems.raise_if_any()
        raise MappingError(f"{source}: {exc}") from exc  # pragma: no cover - always added above
    validate_mapping(mapping, known_paths, source=source, lines=lines)
    logger.debug("read %s: %d topics, %d rules", source, len(mapping.topics), len(mapping.rules))
    return mapping


def _char(character: object) -> str:
    return f"#x{character:04x}" if isinstance(character, int) else repr(character)


def _yaml_message(source: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}, line {mark.line + 1}, column {mark.column + 1}" if mark else source
    problem = " ".join(part for part in (exc.context, exc.problem) if part)
    return (
        f"{where}: the file is not valid YAML ({problem}); check the indentation, and put "
        "quotes around text that contains ': ' or ' #' or starts with a character such as "
        "'*', '&', '!', '[', '{', '@' or '%'"
    )


class _Converter:
    """Turn composed nodes into plain data, recording the line of every location."""

    def __init__(self, lines: LineIndex, problems: Problems) -> None:
        self.lines = lines
        self.problems = problems
        # A loader over an empty stream reuses SafeLoader's rules for scalars.
        self.constructor = _Loader("")
        self.seen: set[int] = set()

    def convert(self, node: yaml.Node, loc: Loc, text_mode: str | None) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.CollectionNode):
            # An alias (*name) reuses its anchor's node; expanding nested aliases can
            # take exponential time and memory (a "billion laughs" file).
            if id(node) in self.seen:
                self.problems.add(
                    "a list or mapping is repeated with a YAML alias (*name); mapping files "
                    "do not use anchors and aliases, so write the value out",
                    loc,
                )
                return None
            self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if text_mode == "text" and node.tag != _NULL_TAG:
                return node.value
            try:
                return self.constructor.construct_object(node)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                # A tag no safe loader knows ("="), or a date such as 2025-02-30.
                problem = getattr(exc, "problem", None) or str(exc)
                self.problems.add(
                    f"the value {node.value!r} cannot be read ({problem}); quote it to make "
                    "it text",
                    loc,
                )
                return None
        if isinstance(node, yaml.SequenceNode):
            item_mode = "text" if text_mode == "list" else None
            return [self.convert(child, (*loc, i), item_mode) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        return None  # pragma: no cover - yaml has no other node kinds

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.lines[(*loc, "#key")] = line
                self.problems.add("a key must be plain text, not a list or mapping", (*loc, "#key"))
                continue
            key = str(key_node.value)
            here = (*loc, key)
            if key in out:
                self.lines[(*here, "#again")] = line
                self.problems.add(
                    f"key {key!r} appears twice in one entry (first at line {self.lines[here]}); "
                    "keep one",
                    (*here, "#again"),
                )
                continue
            self.lines[here] = line
            mode = "text" if key in _TEXT_KEYS else "list" if key in _TEXT_LIST_KEYS else None
            out[key] = self.convert(value_node, here, mode)
        return out


_FIELDS = {
    "topics": ", ".join(TopicEntry.model_fields),
    "rules": ", ".join(Rule.model_fields),
    "": ", ".join(Mapping.model_fields),
}


def _add_schema_problem(problems: Problems, error: Any, data: dict[str, Any]) -> None:
    loc: Loc = tuple(error["loc"])
    kind: str = error["type"]
    section = loc[0] if loc and loc[0] in ("topics", "rules") else ""
    where = _describe_where(loc, data)
    if kind.startswith("action"):
        loc = (*loc[:2], "action")
    elif kind == "merge_into_without_merge":
        loc = (*loc[:2], "merge_into")
    if kind == "missing":
        key = loc[-1]
        problems.add(f"{where} has no {key!r}; add `{key}:`", loc[:-1])
    elif kind == "extra_forbidden":
        problems.add(
            f"{where}: unknown key {loc[-1]!r}; valid keys are {_FIELDS[str(section)]}", loc
        )
    else:
        field = loc[-1] if loc and isinstance(loc[-1], str) else None
        # Inside a list, the field name sits one step up (keywords[2]).
        if field is None and len(loc) >= 2 and isinstance(loc[-2], str):
            field = f"{loc[-2]}[{loc[-1]}]" if loc[-2] not in ("topics", "rules") else None
        detail = f"{field!r}: " if field and field not in ("action", "merge_into", "path") else ""
        hint = _HINTS.get(kind, "")
        problems.add(f"{where}: {detail}{error['msg']}{hint}", loc)


_HINTS = {
    "list_type": "; write a list, [a, b] or one '- item' per line",
    "dict_type": "; write an entry of `key: value` lines, starting with '- path: \"7\"'",
    "model_type": "; write an entry of `key: value` lines, starting with '- path: \"7\"'",
    "int_parsing": "; write a whole number",
    "string_too_short": "; write some text, or delete the rule",
}


def _describe_where(loc: Loc, data: dict[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] == "topics" and isinstance(loc[1], int):
        entry = _item(data.get("topics"), loc[1])
        path = entry.get("path") if isinstance(entry, dict) else None
        return f"topic {path}" if isinstance(path, str) else f"topic entry {loc[1] + 1}"
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        return f"rule {loc[1] + 1}"
    return "top level"


def _item(items: Any, index: int) -> Any:
    return items[index] if isinstance(items, list) and 0 <= index < len(items) else None
