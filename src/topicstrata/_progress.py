"""Progress reporting as a hook, not as output.

The library never draws progress bars: long-running functions accept an
optional ``progress`` callback, and ``cli.py`` renders it with rich.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class ProgressCallback(Protocol):
    """Called as work advances: ``progress(task, done, total)``.

    ``task`` is a short human-readable name ("embed", "preprocess"); ``total``
    may be ``None`` when unknown. Implementations must be cheap.
    """

    def __call__(self, task: str, done: int, total: int | None) -> None: ...


def null_progress(task: str, done: int, total: int | None) -> None:
    """The default: report nothing."""


# Progress from deep inside one unit of work (a layer model assigning a million rows)
# without threading a callback through estimator signatures (scikit-learn's ``fit``
# takes data, not hooks): whoever runs the unit sets the reporter for its duration,
# the code inside calls ``report``. A context variable, so threads and concurrent
# runs do not see each other's reporter; in a worker process it is the null one.
_reporter: ContextVar[ProgressCallback] = ContextVar("topicstrata_progress", default=null_progress)


@contextmanager
def reporting(progress: ProgressCallback) -> Iterator[None]:
    """Send ``report`` calls made inside the ``with`` block to ``progress``."""
    token = _reporter.set(progress)
    try:
        yield
    finally:
        _reporter.reset(token)


def report(task: str, done: int, total: int | None) -> None:
    """Report progress to the reporter set by the nearest enclosing ``reporting``."""
    _reporter.get()(task, done, total)
