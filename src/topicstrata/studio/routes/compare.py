"""Compare two runs at one level, or two mapping versions of one run (issue 17, page 6).

``/compare`` is the form; ``/compare?a=RUN&b=RUN&level=L`` compares two runs'
assignments; ``/runs/RUN/mappings/compare?a=FILE&b=FILE`` compares two mapping
files of one run's directory, which works for a run waiting for its review too
(it needs no assignments). ``&format=csv`` downloads every flow.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from topicstrata.pipeline import list_runs
from topicstrata.pipeline.store import RunRecord
from topicstrata.run.outputs import ASSIGNMENTS
from topicstrata.studio.compare import (
    SANKEY_LINKS,
    Comparison,
    compare_mappings,
    compare_runs,
    sankey_figure,
)
from topicstrata.studio.errors import StudioError, bad_param
from topicstrata.studio.pages import render
from topicstrata.studio.routes.common import run_files
from topicstrata.studio.rundir import (
    MAPPING_FILE,
    mapping_files,
    output_folder,
    read_run_mapping,
)
from topicstrata.studio.runinfo import get_run, has_store, status_word

router = APIRouter()

logger = logging.getLogger(__name__)

#: Newest runs the form offers.
FORM_RUNS = 200
FORMATS = ("html", "csv")


def _is_mapping_name(name: str) -> bool:
    return MAPPING_FILE.fullmatch(name) is not None and Path(name).name == name


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise bad_param("format", fmt, "use format=csv for the flows as CSV, or leave it out.")


def _choices(root: Path) -> list[dict[str, Any]]:
    """Runs for the form: whether each can be compared and which mapping files it has."""
    if not has_store(root):
        return []
    rows = []
    for run in list_runs(root, limit=FORM_RUNS):
        try:
            folder: Path | None = output_folder(root, run)
        except StudioError:
            folder = None
        rows.append(
            {
                "run_id": run.run_id,
                "status_word": status_word(run.status),
                "started_at": run.started_at,
                "assignments": folder is not None and (folder / ASSIGNMENTS).is_file(),
                "mappings": mapping_files(folder) if folder is not None else [],
            }
        )
    return rows


def _csv(comparison: Comparison, filename: str) -> Response:
    return Response(
        comparison.flows.to_csv(index=False),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _result(
    request: Request, comparison: Comparison, page: int, per_page: int, **context: Any
) -> Response:
    flows = comparison.flows
    pages = max(1, -(-len(flows) // per_page))
    if page > pages:
        raise bad_param("page", page, f"the flows table has {pages} page(s).")
    sankey = sankey_figure(flows).to_html(
        full_html=False, include_plotlyjs=False, div_id="compare-sankey"
    )
    return render(
        request,
        "compare.html",
        comparison=comparison,
        flows=flows.iloc[(page - 1) * per_page : page * per_page],
        page=page,
        pages=pages,
        per_page=per_page,
        sankey=sankey,
        sankey_links=SANKEY_LINKS,
        **context,
    )


@router.get("/compare")
def compare_page(
    request: Request,
    a: str | None = None,
    b: str | None = None,
    level: int = 1,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=1000),
    fmt: str = Query("html", alias="format"),
) -> Response:
    _check_format(fmt)
    root = request.app.state.settings.root
    if not a and not b:
        return render(request, "compare.html", mode="form", runs=_choices(root))
    if not a or not b:
        missing = "a" if not a else "b"
        raise bad_param(
            missing,
            "",
            "give both runs (/compare?a=RUN&b=RUN&level=L), or pick them in the form at /compare.",
        )
    run_a, files_a = run_files(request, a)
    run_b, files_b = run_files(request, b)
    depth = min(files_a.depth, files_b.depth)
    if not 1 <= level <= depth:
        raise bad_param(
            "level",
            level,
            f"run {run_a.run_id} has levels 1 to {files_a.depth} and run {run_b.run_id} 1 to "
            f"{files_b.depth}; pick a level both have (1 to {depth}).",
        )
    column = f"path_l{level}"
    frames = []
    for run, files in ((run_a, files_a), (run_b, files_b)):
        if "id" not in files.assignment_columns():
            raise StudioError(
                422,
                f"run {run.run_id} has no record ids",
                f"{files.path / ASSIGNMENTS} has no id column, so its records cannot be matched; "
                "refit the run with a current version to compare it.",
            )
        frames.append(files.assignments(["id", column]))
    comparison = compare_runs(
        frames[0],
        frames[1],
        column,
        files_a.labels(),
        files_b.labels(),
        names=(f"run {run_a.run_id}", f"run {run_b.run_id}"),
    )
    logger.debug(
        "compared runs %s and %s at level %d: %d flows",
        run_a.run_id,
        run_b.run_id,
        level,
        len(comparison.flows),
    )
    if fmt == "csv":
        return _csv(comparison, f"compare-{run_a.run_id}-{run_b.run_id}-level{level}.csv")
    return _result(
        request,
        comparison,
        page,
        per_page,
        mode="runs",
        run_a=run_a,
        run_b=run_b,
        name_a=run_a.run_id,
        name_b=run_b.run_id,
        level=level,
        depth=depth,
        query=urlencode({"a": run_a.run_id, "b": run_b.run_id, "level": level}),
    )


def _mapping_path(folder: Path, run: RunRecord, param: str, name: str) -> Path:
    files = mapping_files(folder)
    available = ", ".join(files) or "none"
    if not _is_mapping_name(name):
        raise bad_param(
            param,
            name,
            "give the plain name of a mapping file in the run's directory "
            f"(mapping.v<N>[...].yaml, no folders); this run has: {available}.",
        )
    path = folder / name
    if not path.is_file():
        raise StudioError(
            404,
            f"no mapping file {name} for run {run.run_id}",
            f"{folder} has no such file; its mapping files are: {available}.",
        )
    return path


@router.get("/runs/{run_id}/mappings/compare")
def mapping_compare_page(
    request: Request,
    run_id: str,
    a: str | None = None,
    b: str | None = None,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=1000),
    fmt: str = Query("html", alias="format"),
) -> Response:
    _check_format(fmt)
    root = request.app.state.settings.root
    run = get_run(root, run_id)
    folder = output_folder(root, run)
    files = mapping_files(folder)
    if not a and not b:
        return render(
            request, "compare.html", mode="mapping-form", run=run, folder=folder, files=files
        )
    if not a or not b:
        raise bad_param(
            "a" if not a else "b", "", "give both mapping files: ?a=FILE&b=FILE (or use the form)."
        )
    path_a, path_b = _mapping_path(folder, run, "a", a), _mapping_path(folder, run, "b", b)
    comparison = compare_mappings(
        read_run_mapping(path_a, run.run_id), read_run_mapping(path_b, run.run_id)
    )
    if fmt == "csv":
        return _csv(comparison, f"compare-{run.run_id}-{Path(a).stem}-{Path(b).stem}.csv")
    return _result(
        request,
        comparison,
        page,
        per_page,
        mode="mappings",
        run=run,
        folder=folder,
        files=files,
        name_a=a,
        name_b=b,
        query=urlencode({"a": a, "b": b}),
    )
