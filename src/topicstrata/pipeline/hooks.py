"""Lifecycle hooks: how a run reports progress without drawing anything itself.

Subclass :class:`PipelineHooks` and override what you need; pass instances
as ``hooks=[...]`` to ``run_pipeline``/``resume_run``. The runner calls
hooks from its own thread, in order; an exception in a hook is logged and
ignored, so a broken progress bar never fails a run. The CLI renders these
with rich.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PipelineHooks"]


class PipelineHooks:
    """No-op base class for run lifecycle callbacks."""

    def on_run_start(self, run_id: str, pipeline: str, parameters: dict[str, Any]) -> None:
        """The run started (or resumed)."""

    def on_step_start(self, run_id: str, step: str, kind: str) -> None:
        """A step was submitted to the executor."""

    def on_cache_hit(self, run_id: str, step: str) -> None:
        """A step's outputs were reused from the cache; it did not run."""

    def on_progress(self, run_id: str, step: str, task: str, done: int, total: int | None) -> None:
        """A running step reported progress through ``ctx.progress`` or ``ctx.map``."""

    def on_retry(self, run_id: str, step: str, attempt: int, delay: float, error: str) -> None:
        """Attempt ``attempt`` failed with ``error``; the next starts after ``delay`` s."""

    def on_step_end(
        self,
        run_id: str,
        step: str,
        status: str,
        duration_s: float,
        cache_hit: bool,
        error: str | None,
    ) -> None:
        """A step finished: succeeded, failed, skipped or waiting."""

    def on_run_end(self, run_id: str, status: str) -> None:
        """The run stopped: succeeded, failed, waiting or stopped."""
