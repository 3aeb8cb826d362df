"""Checks across a mapping's entries, reported with the file's line numbers.

The schema checks each entry on its own; this module checks what needs the
whole file: duplicate paths, levels beyond the file's layer, paths the model
does not know, merge targets (itself, another level, a dropped topic, a
cycle), and rules (valid regex, a target that exists and is not dropped).
All problems are gathered and raised together as one ``MappingError``, one
line per problem, in line order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from topicstrata.errors import MappingError
from topicstrata.mapping.paths import describe_paths, is_outlier, parent_path, path_level
from topicstrata.mapping.resolve import MergeCycleError, Resolution
from topicstrata.mapping.rules import compile_rule
from topicstrata.mapping.schema import Mapping

__all__ = ["LineIndex", "Loc", "MappingProblem", "Problems", "mapping_problems", "validate_mapping"]

logger = logging.getLogger(__name__)

Loc = tuple[str | int, ...]
LineIndex = dict[Loc, int]


@dataclass(frozen=True)
class MappingProblem:
    """One problem: where in the mapping (``("topics", 3, "merge_into")``), on which line of
    its file if known (0 if not), and the message naming the source and line."""

    loc: Loc
    line: int
    message: str


@dataclass
class Problems:
    """Collects problems with their lines; ``raise_if_any`` turns them into one error."""

    source: str
    lines: LineIndex = field(default_factory=dict)
    found: list[MappingProblem] = field(default_factory=list)

    def line_of(self, *candidates: Loc) -> int | None:
        """The line of the first candidate the file has, else of its nearest parent."""
        for loc in candidates:
            if loc in self.lines:
                return self.lines[loc]
        for loc in candidates:
            for cut in range(len(loc) - 1, -1, -1):
                if loc[:cut] in self.lines:
                    return self.lines[loc[:cut]]
        return None

    def add(self, message: str, *candidates: Loc) -> None:
        line = self.line_of(*candidates) if self.lines else None
        where = f"{self.source}, line {line}" if line is not None else self.source
        loc = candidates[0] if candidates else ()
        self.found.append(MappingProblem(loc, line or 0, f"{where}: {message}"))

    def ordered(self) -> list[MappingProblem]:
        """The problems in line order (the order found where lines are unknown)."""
        return sorted(self.found, key=lambda problem: problem.line)

    def raise_if_any(self) -> None:
        if self.found:
            raise MappingError("\n".join(problem.message for problem in self.ordered()))


def validate_mapping(
    mapping: Mapping,
    known_paths: Collection[str] | None = None,
    *,
    source: str = "mapping",
    lines: LineIndex | None = None,
) -> None:
    """Raise ``MappingError`` listing every cross-entry problem of ``mapping``.

    ``known_paths``, when given, are the topic paths the model has; topics,
    merge targets and rule targets must be among them. Without it, merge and
    rule targets must be topics listed in the file. ``lines`` maps locations
    such as ``("topics", 3, "action")`` to line numbers (see ``load_mapping``).
    """
    problems = Problems(source, lines or {})
    _check(mapping, known_paths, problems)
    problems.raise_if_any()


def mapping_problems(
    mapping: Mapping, known_paths: Collection[str] | None = None, *, source: str = "mapping"
) -> list[MappingProblem]:
    """The problems ``validate_mapping`` would raise, each with its location (an editor shows
    each next to its field); empty when the mapping is valid."""
    problems = Problems(source)
    _check(mapping, known_paths, problems)
    return problems.ordered()


def _check(mapping: Mapping, known_paths: Collection[str] | None, problems: Problems) -> None:
    listed = [e.path for e in mapping.topics]
    known = set(known_paths) if known_paths is not None else None
    existing = (known | set(listed)) if known is not None else set(listed)
    dropped = {e.path for e in mapping.topics if e.action == "drop"}

    first_seen: dict[str, int] = {}
    for i, entry in enumerate(mapping.topics):
        here: Loc = ("topics", i, "path")
        if entry.path in first_seen:
            first = first_seen[entry.path]
            first_line = problems.line_of(("topics", first, "path"))
            seen = f"line {first_line}" if first_line else f"entry {first + 1}"
            problems.add(
                f"topic {entry.path} is listed twice (first at {seen}); keep one entry per path",
                here,
            )
            continue
        first_seen[entry.path] = i
        if entry.level > mapping.layer:
            problems.add(
                f"topic {entry.path} is at level {entry.level} but this file describes layers "
                f"1-{mapping.layer}; delete the entry or fix its path",
                here,
            )
        if known is not None and entry.path not in known:
            problems.add(
                f"topic {entry.path!r} is not in the model; known topics at this level are "
                f"{_same_level(known, entry.path)}; fix the path or delete the entry",
                here,
            )

    for i, entry in enumerate(mapping.topics):
        if entry.action != "merge" or entry.merge_into is None:
            continue
        target = entry.merge_into
        at: tuple[Loc, ...] = (("topics", i, "merge_into"), ("topics", i, "action"))
        said = f"'merge: {target}'"
        valid = _describe_targets(existing - dropped, entry.path, exclude=entry.path)
        if target == entry.path:
            problems.add(
                f"{said} merges topic {entry.path} into itself; merge it into another topic "
                f"(valid targets at this level are {valid}) or write action: keep",
                *at,
            )
        elif path_level(target) != entry.level:
            problems.add(
                f"{said} names a level-{path_level(target)} topic but {entry.path} is at level "
                f"{entry.level}; merge joins topics of the same level; valid targets at this "
                f"level are {valid}",
                *at,
            )
        elif is_outlier(target):
            problems.add(
                f"{said} merges into the outliers; to send {entry.path}'s records there "
                "write action: drop",
                *at,
            )
        elif target not in existing:
            problems.add(f"{said} names no topic; valid targets at this level are {valid}", *at)
        elif target in dropped:
            problems.add(
                f"{said} names topic {target}, which is dropped; merge into a kept topic "
                f"(valid targets at this level are {valid}) or drop {entry.path} as well",
                *at,
            )

    if not problems.found:
        _check_cycles(mapping, problems)

    for i, rule in enumerate(mapping.rules):
        try:
            compile_rule(rule)
        except re.error as exc:
            problems.add(
                f"rule {i + 1}: pattern {rule.pattern!r} is not a valid regular expression "
                f"({exc}); fix it, or remove `regex: true` to match it as a phrase",
                ("rules", i, "pattern"),
            )
        here = ("rules", i, "path")
        if rule.path not in existing:
            problems.add(
                f"rule {i + 1} ({rule.pattern!r}) sends records to {rule.path!r}, which names no "
                f"topic; valid targets at this level are "
                f"{_describe_targets(existing - dropped, rule.path)}",
                here,
            )
        elif rule.path in dropped:
            problems.add(
                f"rule {i + 1} ({rule.pattern!r}) sends records to topic {rule.path}, which is "
                "dropped; point the rule at a kept topic or delete it",
                here,
            )


def _check_cycles(mapping: Mapping, problems: Problems) -> None:
    try:
        Resolution(mapping)
    except MergeCycleError as exc:
        index = {e.path: i for i, e in enumerate(mapping.topics)}
        first = min(index[p] for p in exc.cycle if p in index)
        problems.add(str(exc), ("topics", first, "merge_into"), ("topics", first, "action"))


def _same_level(paths: Iterable[str], path: str) -> str:
    level = path_level(path)
    return describe_paths(p for p in paths if path_level(p) == level and not is_outlier(p))


def _describe_targets(paths: Collection[str], path: str, exclude: str | None = None) -> str:
    level = path_level(path)
    candidates = [p for p in paths if path_level(p) == level and not is_outlier(p) and p != exclude]
    if not candidates:
        parent = parent_path(path)
        return "none" + (f" (no other topic under {parent})" if parent else "")
    return describe_paths(candidates)
