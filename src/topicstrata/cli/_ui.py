"""Console output for the CLI: rich logging, progress bars, error display."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.errors import TopicStrataError

ExecutorKind = Annotated[
    str,
    typer.Option("--executor", help="Where steps and fan-out run: local (this machine) or ray."),
]
Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Ray cluster to join (HOST:6379 or auto; ray://HOST:10001 for strata tune "
        "only); default: $RAY_ADDRESS, else a local Ray.",
    ),
]

console = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable[..., Any])


def setup_logging(verbose: bool = False) -> None:
    level = logging.INFO if verbose else logging.WARNING
    handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("topicstrata").setLevel(level)


def friendly_errors(func: F) -> F:
    """Show a ``TopicStrataError`` as one red message and exit 1, without a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TopicStrataError, FileNotFoundError) as exc:
            # escape: a message is text, not markup ("topicstrata[ray]" must print whole).
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def new_progress(*, label_width: int, transient: bool, remaining: bool = False) -> Progress:
    """The one progress display of the CLI: spinner, label, bar, n/m, elapsed (and ETA)."""
    columns: list[Any] = [
        SpinnerColumn(),
        TextColumn(f"[bold]{{task.description:<{label_width}}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    if remaining:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, transient=transient)


class RichProgress:
    """A ``ProgressCallback`` that draws one bar per task name."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, task: str, done: int, total: int | None) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=total)
        self._progress.update(self._tasks[task], completed=done, total=total)


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[ProgressCallback]:
    if not enabled:
        yield null_progress
        return
    with new_progress(label_width=12, transient=False, remaining=True) as progress:
        yield RichProgress(progress)
