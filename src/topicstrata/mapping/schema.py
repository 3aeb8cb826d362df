"""The mapping file's schema: one ``TopicEntry`` per topic, ``Rule`` s, and the ``Mapping``.

The models check shapes and types only (a path is well formed, an action is
known, ``merge`` has a target). Checks across entries (duplicate paths, merge
targets, cycles, rule targets) live in :mod:`topicstrata.mapping.validate`, where
the file's line numbers are known.

``merge`` is stored as ``action="merge"`` plus ``merge_into="7.3"``. The compact
forms ``action="merge: 7.3"`` and ``action={"merge": "7.3"}`` are accepted on
input and normalized to that pair.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from topicstrata.mapping.paths import is_valid_path, path_level, path_sort_key

__all__ = ["ACTIONS", "Action", "Mapping", "Rule", "TopicEntry"]

logger = logging.getLogger(__name__)

Action = Literal["keep", "split", "merge", "drop", "rename"]
ACTIONS: tuple[str, ...] = ("keep", "split", "merge", "drop", "rename")

_ACTION_HELP = "write one of keep, split, merge (with merge_into: <path>), drop, rename"


def _check_path(value: str) -> str:
    if not is_valid_path(value):
        raise PydanticCustomError(
            "topic_path",
            '{value} is not a topic path; write it like "7", "7.2" or "7.2.1" ("-1" for outliers)',
            {"value": repr(value)},
        )
    return value


class TopicEntry(BaseModel):
    """One topic of the tree as the mapping file shows it.

    ``label`` is used whatever the action: ``rename`` only records that a
    person meant to change it. ``flags`` are the model's suggestions (for
    example ``too_broad: share 0.21 > 0.10``); they do nothing by themselves.
    """

    model_config = ConfigDict(extra="forbid")

    path: str
    label: str = ""
    keywords: list[str] = Field(default_factory=list)
    phrases: list[str] = Field(default_factory=list)
    size: int = Field(default=0, ge=0)
    action: Action = "keep"
    merge_into: str | None = None
    notes: str = ""
    flags: list[str] = Field(default_factory=list)

    @property
    def level(self) -> int:
        """The depth of this topic in the tree (1 for layer-1 topics)."""
        return path_level(self.path)

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        return _check_path(value)

    @field_validator("merge_into")
    @classmethod
    def _valid_target(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value)

    @field_validator("label", "notes", mode="before")
    @classmethod
    def _none_is_empty_text(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("keywords", "phrases", "flags", mode="before")
    @classmethod
    def _none_is_empty_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="before")
    @classmethod
    def _normalize_action(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "action" not in data:
            return data
        data = dict(data)
        action, target = _parse_action(data["action"])
        given = data.get("merge_into")
        if target is not None:
            if given is not None and str(given) != target:
                raise PydanticCustomError(
                    "action_conflict",
                    "action says merge into {target} but merge_into says {given}; keep one",
                    {"target": repr(target), "given": repr(str(given))},
                )
            data["merge_into"] = target
        data["action"] = action
        return data

    @model_validator(mode="after")
    def _merge_has_target(self) -> TopicEntry:
        if self.action == "merge" and self.merge_into is None:
            raise PydanticCustomError(
                "action_merge_target",
                "action 'merge' needs a target; add merge_into: \"<path>\" "
                '(or write action: "merge: <path>")',
            )
        if self.action != "merge" and self.merge_into is not None:
            raise PydanticCustomError(
                "merge_into_without_merge",
                "merge_into is set but action is {action}; write action: merge, "
                "or delete merge_into",
                {"action": repr(self.action)},
            )
        return self


def _parse_action(value: Any) -> tuple[str, str | None]:
    """Split any accepted spelling of an action into (action, merge target)."""
    if isinstance(value, dict):
        if list(value) == ["merge"] and value["merge"] is not None:
            return "merge", str(value["merge"]).strip()
        raise PydanticCustomError(
            "action_unknown",
            "action {value} is not understood; the only mapping form is "
            '{merge: "<path>"}; otherwise ' + _ACTION_HELP,
            {"value": repr(value)},
        )
    if not isinstance(value, str):
        raise PydanticCustomError(
            "action_unknown", "action {value} is not text; " + _ACTION_HELP, {"value": repr(value)}
        )
    text = value.strip()
    head, sep, tail = text.partition(":")
    if sep and head.strip().lower() == "merge" and tail.strip():
        return "merge", tail.strip().strip("'\"")
    if text.lower() in ACTIONS:
        return text.lower(), None
    raise PydanticCustomError(
        "action_unknown", "unknown action {value}; " + _ACTION_HELP, {"value": repr(value)}
    )


class Rule(BaseModel):
    """Assign records whose text matches ``pattern`` to ``path``.

    A phrase matches whole words in any case, with any run of whitespace
    between its words; ``regex: true`` takes ``pattern`` as a Python regular
    expression, also case-insensitive (write ``(?-i:...)`` for a case-sensitive
    part). ``label``, when set, is shown for the records this rule assigns
    instead of the topic's label; ``notes`` is free text for people.
    """

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1)
    path: str
    regex: bool = False
    label: str | None = None
    notes: str = ""

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        return _check_path(value)

    @field_validator("notes", mode="before")
    @classmethod
    def _none_is_empty_text(cls, value: Any) -> Any:
        return "" if value is None else value


class Mapping(BaseModel):
    """A whole mapping file: every topic of the tree up to ``layer``, and the rules.

    ``version`` numbers the file (``mapping.v<version>.yaml``); it starts at the
    layer that wrote it and grows when a person saves an edited copy.
    ``generated_at`` and ``created_by`` are optional and written only when set,
    so generated files stay byte-for-byte reproducible.
    """

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    layer: int = Field(ge=1)
    generated_at: str | None = None
    created_by: str | None = None
    topics: list[TopicEntry] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("topics", "rules", mode="before")
    @classmethod
    def _none_is_empty_list(cls, value: Any) -> Any:
        return [] if value is None else value

    def by_path(self) -> dict[str, TopicEntry]:
        """Entries keyed by path (the last one wins if a path repeats)."""
        return {entry.path: entry for entry in self.topics}

    def children(self, path: str) -> list[TopicEntry]:
        """Direct children of ``path``, in tree order."""
        prefix = path + "."
        found = [
            e for e in self.topics if e.path.startswith(prefix) and "." not in e.path[len(prefix) :]
        ]
        return sorted(found, key=lambda e: path_sort_key(e.path))

    def topics_at(self, level: int) -> list[TopicEntry]:
        """Entries at ``level`` (1 = layer-1 topics), in tree order."""
        found = [e for e in self.topics if e.level == level]
        return sorted(found, key=lambda e: path_sort_key(e.path))

    def paths_to_split(self, level: int) -> list[str]:
        """Paths at ``level`` marked ``split`` that survive the mapping.

        A topic whose ancestor is merged or dropped has no records of its own
        any more, so it is left out even if marked ``split``.
        """
        actions = {e.path: e.action for e in self.topics}
        out = []
        for entry in self.topics_at(level):
            if entry.action != "split":
                continue
            parts = entry.path.split(".")
            ancestors = (".".join(parts[:i]) for i in range(1, len(parts)))
            if any(actions.get(a) in ("merge", "drop") for a in ancestors):
                logger.debug("not splitting %s: an ancestor is merged or dropped", entry.path)
                continue
            out.append(entry.path)
        return out
