"""The document map of a run: a WebGL scatter of a sample of its records (``studio.docmap``).

The page answers at once: while the map is being computed it says so and reloads
itself; once ready its script fetches ``/runs/RUN/map.json?level=L`` (the points as
column arrays) and draws them.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Query, Request
from plotly.colors import qualitative
from starlette.responses import JSONResponse, Response

from topicstrata.pipeline.store import RunRecord
from topicstrata.studio.docmap import (
    JOBS,
    MAP_SAMPLE,
    MAX_SAMPLE,
    MIN_SAMPLE,
    MapState,
    map_points,
    read_map,
)
from topicstrata.studio.pages import render
from topicstrata.studio.routes.common import run_files
from topicstrata.studio.rundir import RunDir

router = APIRouter()

#: Seconds between reloads of the page while its map is being computed.
REFRESH_S = 3
#: Colours of the topics (48, so that level 2's topics rarely share one).
PALETTE = [*qualitative.Dark24, *qualitative.Light24]
_SAMPLE = Query(MAP_SAMPLE, ge=MIN_SAMPLE, le=MAX_SAMPLE)


def _state(
    request: Request, run_id: str, level: int, sample: int, retry: bool = False
) -> tuple[RunRecord, RunDir, MapState]:
    run, files = run_files(request, run_id)
    files.check_level(level)
    state = JOBS.request(
        request.app.state.settings.root, run.run_id, files.path, sample, retry=retry
    )
    return run, files, state


def _status_code(state: MapState) -> int:
    if state.status == "failed" and state.error is not None:
        return state.error.status
    return 202 if state.status == "computing" else 200


@router.get("/runs/{run_id}/map")
def map_page(
    request: Request,
    run_id: str,
    level: int = 1,
    q: str = Query("", max_length=200),
    sample: int = _SAMPLE,
    retry: bool = False,
) -> Response:
    run, files, state = _state(request, run_id, level, sample, retry)
    meta = read_map(state.file)[1] if state.status == "ready" else {}
    waited = time.time() - state.started_at if state.started_at else 0.0
    keep = f"&sample={sample}" if sample != MAP_SAMPLE else ""
    return render(
        request,
        "map.html",
        status_code=_status_code(state),
        run=run,
        level=level,
        depth=files.depth,
        q=q,
        keep=keep,
        here=f"/runs/{run.run_id}/map?level={level}{keep}",
        points_url=f"/runs/{run.run_id}/map.json?level={level}{keep}",
        state=state,
        meta=meta,
        waited=waited,
        refresh_s=REFRESH_S,
        palette=PALETTE,
    )


@router.get("/runs/{run_id}/map.json")
def map_json(request: Request, run_id: str, level: int = 1, sample: int = _SAMPLE) -> Response:
    """The sampled points at ``level``; 202 with ``status: computing`` until the map is ready."""
    run, files, state = _state(request, run_id, level, sample)
    if state.status == "failed" and state.error is not None:
        raise state.error
    if state.status == "computing":
        return JSONResponse(
            {"run_id": run.run_id, "status": "computing", "n_sample": state.key.sample},
            status_code=202,
        )
    return JSONResponse(
        {"run_id": run.run_id, "status": "ready", **map_points(state.file, level, files.labels())}
    )
