"""Topic paths: parse, order and describe ids such as ``7``, ``7.2`` and ``7.2.1``.

A path's level is its number of components. ``-1`` is the outlier id; it is
valid as a layer-1 path and as the last component of a deeper path (``7.-1``),
although the ensemble normally keeps outliers at their parent path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "OUTLIER",
    "describe_paths",
    "is_outlier",
    "is_valid_path",
    "parent_path",
    "path_level",
    "path_sort_key",
]

OUTLIER = "-1"

_PATH_RE = re.compile(r"^(?:-1|(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*(?:\.-1)?)$")


def is_valid_path(path: str) -> bool:
    """Whether ``path`` is a well-formed topic path (no leading zeros, no blanks)."""
    return bool(_PATH_RE.match(path))


def path_level(path: str) -> int:
    """The level of a path: ``"7"`` is 1, ``"7.2"`` is 2."""
    return path.count(".") + 1


def parent_path(path: str) -> str | None:
    """The parent's path, or ``None`` for a layer-1 topic."""
    head, sep, _ = path.rpartition(".")
    return head if sep else None


def is_outlier(path: str) -> bool:
    """Whether the path names the outlier bucket of its level."""
    return path == OUTLIER or path.endswith("." + OUTLIER)


def path_sort_key(path: str) -> tuple[int, ...]:
    """Numeric tree order: ``-1`` first, ``7.10`` after ``7.9``, parents before children.

    Malformed paths sort last rather than fail, so error messages can still list them.
    """
    try:
        return tuple(int(part) for part in path.split("."))
    except ValueError:
        return (1 << 62,)


def describe_paths(paths: Iterable[str], limit: int = 24) -> str:
    """Compact, sorted listing for messages: ``7.1-7.6, 8.1, 8.3``.

    Runs of three or more consecutive siblings collapse to a range; beyond
    ``limit`` items the rest are counted, not listed.
    """
    ordered = sorted(set(paths), key=path_sort_key)
    if not ordered:
        return "(none)"
    items: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 3:
            items.append(f"{run[0]}-{run[-1]}")
        else:
            items.extend(run)
        run.clear()

    for path in ordered:
        if run and _follows(run[-1], path):
            run.append(path)
        else:
            flush()
            run.append(path)
    flush()
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", ... ({len(ordered)} in all)"
    return ", ".join(items)


def _follows(previous: str, path: str) -> bool:
    prev_parent, path_parent = parent_path(previous), parent_path(path)
    if prev_parent != path_parent:
        return False
    prev_last, last = previous.rpartition(".")[2], path.rpartition(".")[2]
    return prev_last.isdigit() and last.isdigit() and int(last) == int(prev_last) + 1
