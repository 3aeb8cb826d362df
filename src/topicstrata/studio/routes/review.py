"""The mapping editor, the rule tester, Resume, and what a run page polls while it goes on.

Saving a waiting run's mapping resumes it the way ``strata pipeline resume RUN --mapping
FILE`` does (``studio/jobs.py`` starts exactly that command); Resume on a failed,
interrupted or waiting run is ``strata pipeline resume RUN``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from topicstrata.mapping import ACTIONS, Mapping, is_outlier, path_level
from topicstrata.pipeline.store import RunStore
from topicstrata.studio.editor import (
    Edited,
    EditTarget,
    apply_form,
    edit_target,
    rule_texts,
    save_version,
    try_rule,
)
from topicstrata.studio.errors import StudioError
from topicstrata.studio.jobs import JobRunner
from topicstrata.studio.pages import render
from topicstrata.studio.runinfo import get_run, status_word
from topicstrata.studio.security import read_form

router = APIRouter()

#: Editor forms carry every topic of a mapping: larger than the other forms.
EDITOR_FORM_BYTES = 2_000_000
#: Statuses Resume accepts (a waiting run's review is approved with its newest draft).
RESUMABLE = ("failed", "interrupted", "stopped", "waiting")


def _root(request: Request) -> Path:
    root: Path = request.app.state.settings.root
    return root


def _jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs


def _targets(mapping: Mapping) -> dict[int, list[str]]:
    """Merge targets per level: every topic of that level but the outliers."""
    by_level: dict[int, list[str]] = {}
    for entry in mapping.topics:
        if not is_outlier(entry.path):
            by_level.setdefault(path_level(entry.path), []).append(entry.path)
    return by_level


def _editor(
    request: Request,
    target: EditTarget,
    mapping: Mapping,
    digest: str,
    edited: Edited | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "editor.html",
        status_code=status_code,
        target=target,
        mapping=mapping,
        digest=digest,
        edited=edited,
        values=edited.values if edited else {},
        actions=ACTIONS,
        targets=_targets(mapping),
        paths=[e.path for e in mapping.topics if not is_outlier(e.path)],
    )


@router.get("/runs/{run_id}/mapping")
def editor_page(request: Request, run_id: str, file: str | None = None) -> Response:
    run = get_run(_root(request), run_id)
    target = edit_target(_root(request), run, file)
    mapping, digest = target.read()
    return _editor(request, target, mapping, digest)


@router.post("/runs/{run_id}/mapping")
async def save_mapping(request: Request, run_id: str) -> Response:
    fields = await read_form(request, max_bytes=EDITOR_FORM_BYTES)
    root = _root(request)
    run = get_run(root, run_id)
    target = edit_target(root, run, fields.get("base") or None)
    base, digest = target.read()
    if fields.get("digest") != digest:
        raise StudioError(
            409,
            f"{target.file.name} changed since the editor opened it",
            "someone saved another version meanwhile; reload the editor and make your "
            "changes again. Nothing was written.",
        )
    edited = apply_form(base, fields, source=f"{target.file.name} as edited")
    if edited.mapping is None:
        return _editor(request, target, base, digest, edited, status_code=422)
    saved = save_version(target, edited.mapping)
    if target.resumes:
        _jobs(request).resume(run_id, saved)
        return RedirectResponse(f"/runs/{run_id}?resumed={saved.name}", status_code=303)
    return RedirectResponse(f"/runs/{run_id}/mapping?file={saved.name}&saved=1", status_code=303)


@router.get("/runs/{run_id}/mapping/try-rule")
def try_rule_json(
    request: Request,
    run_id: str,
    pattern: str = Query("", max_length=2_000),
    regex: bool = False,
) -> Response:
    root = _root(request)
    trial = try_rule(rule_texts(root, get_run(root, run_id)), pattern, regex)
    return JSONResponse(asdict(trial))


@router.post("/runs/{run_id}/resume")
async def resume(request: Request, run_id: str) -> Response:
    await read_form(request)
    run = get_run(_root(request), run_id)
    if run.status not in RESUMABLE:
        raise StudioError(
            409,
            f"run {run_id} is {status_word(run.status)}",
            f"Resume continues a run that is {', '.join(RESUMABLE)}; this one is not.",
        )
    # A review is approved by passing the draft (its newest version) as the reviewed mapping.
    approved = edit_target(_root(request), run, None).file if run.status == "waiting" else None
    _jobs(request).resume(run_id, approved)
    return RedirectResponse(f"/runs/{run_id}?resumed=1", status_code=303)


@router.get("/runs/{run_id}/live.json")
def live(request: Request, run_id: str) -> Response:
    """The run's status, its steps' statuses and the tail of the studio's job log."""
    root = _root(request)
    run = get_run(root, run_id)
    job = _jobs(request).latest(run_id)
    body: dict[str, Any] = {
        "status": run.status,
        "status_word": status_word(run.status),
        "steps": {s.step: s.status for s in RunStore(root).get_steps(run_id)},
        "job": None
        if job is None
        else {"alive": job.alive, "returncode": job.returncode, "log": job.tail()},
    }
    return JSONResponse(body)
