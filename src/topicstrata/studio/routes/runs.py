"""The Runs page (filter by status, pages) and the Run page (steps, errors, lineage)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from topicstrata.pipeline.store import RUN_STATUSES
from topicstrata.studio.dagview import step_graph
from topicstrata.studio.pages import render
from topicstrata.studio.runinfo import list_page, run_detail

router = APIRouter()


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/runs", status_code=303)


@router.get("/runs")
def runs_page(
    request: Request,
    status: str | None = None,
    page: int = 1,
    per_page: int = Query(25, ge=1, le=500),
) -> Response:
    listing = list_page(request.app.state.settings.root, status or None, page, per_page)
    return render(
        request,
        "runs.html",
        listing=listing,
        status=status or "",
        statuses=RUN_STATUSES,
        per_page=per_page,
    )


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str) -> Response:
    info = run_detail(request.app.state.settings.root, run_id)
    graph = step_graph(info.get("factory"), info["steps"])
    dag = (
        None
        if graph is None
        else graph.to_html(full_html=False, include_plotlyjs=False, div_id="dag-chart")
    )
    job = request.app.state.jobs.latest(run_id)
    return render(request, "run.html", run=info, dag=dag, job=job)
