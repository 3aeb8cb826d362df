"""Progress reporting as a hook, not as output.

The library never draws progress bars: long-running functions accept an
optional ``progress`` callback, and ``cli.py`` renders it with rich.
"""

from __future__ import annotations

from typing import Protocol


class ProgressCallback(Protocol):
    """Called as work advances: ``progress(task, done, total)``.

    ``task`` is a short human-readable name ("embed", "preprocess"); ``total``
    may be ``None`` when unknown. Implementations must be cheap.
    """

    def __call__(self, task: str, done: int, total: int | None) -> None: ...


def null_progress(task: str, done: int, total: int | None) -> None:
    """The default: report nothing."""
