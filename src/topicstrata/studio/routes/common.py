"""What several routers share: a run's directory from its id."""

from __future__ import annotations

from fastapi import Request

from topicstrata.pipeline.store import RunRecord
from topicstrata.studio.rundir import RunDir, locate_run_dir
from topicstrata.studio.runinfo import get_run

__all__ = ["run_files"]


def run_files(request: Request, run_id: str) -> tuple[RunRecord, RunDir]:
    """The stored run and its run directory; a 404 page says why either is missing."""
    root = request.app.state.settings.root
    run = get_run(root, run_id)
    return run, RunDir(locate_run_dir(root, run))
