"""The Registry page: models, versions, metrics, approval status; approve and reject forms.

Decisions go through the registry package's own ``approve`` and ``reject``, so
the studio and ``strata registry approve`` leave the same tags.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from topicstrata.errors import ModelError
from topicstrata.registry import approve, list_models, reject
from topicstrata.registry.tracking import sqlite_path
from topicstrata.studio.errors import StudioError, bad_param
from topicstrata.studio.pages import render
from topicstrata.studio.security import read_form

router = APIRouter()

#: Metrics shown as columns (others are in the version's details).
SHOWN_METRICS = ("l1_nmi", "l2_nmi", "npmi", "diversity")


def _uri(request: Request) -> str:
    uri: str = request.app.state.settings.resolved_tracking_uri
    return uri


def registered_versions(uri: str) -> list[Any]:
    """Every registered version in the registry at ``uri``; none where its SQLite store does
    not exist yet (opening it would create MLflow's schema just by looking)."""
    db = sqlite_path(uri)
    return [] if db is not None and not db.is_file() else list_models(tracking_uri=uri)


@router.get("/registry")
def registry_page(request: Request, changed: str | None = None) -> Response:
    uri = _uri(request)
    versions = registered_versions(uri)
    return render(
        request,
        "registry.html",
        versions=versions,
        tracking_uri=uri,
        metrics=SHOWN_METRICS,
        changed=changed,
    )


def _target(fields: dict[str, str]) -> tuple[str, int]:
    name = fields.get("name", "").strip()
    if not name:
        raise bad_param("name", name, "the form names no registered model; reload the page.")
    raw = fields.get("version", "").strip()
    if not raw.isdigit():
        raise bad_param("version", raw, "a version is a whole number, as listed on the page.")
    return name, int(raw)


def _decided(name: str, version: int) -> Response:
    return RedirectResponse(f"/registry?changed={name}%20v{version}", status_code=303)


@router.post("/registry/approve")
async def approve_version(request: Request) -> Response:
    fields = await read_form(request)
    name, version = _target(fields)
    alias = fields.get("alias", "").strip() or None
    try:
        approve(name, version, alias=alias, tracking_uri=_uri(request))
    except ModelError as exc:
        raise StudioError(404, f"cannot approve {name} version {version}", str(exc)) from None
    return _decided(name, version)


@router.post("/registry/reject")
async def reject_version(request: Request) -> Response:
    fields = await read_form(request)
    name, version = _target(fields)
    reason = fields.get("reason", "").strip() or None
    try:
        reject(name, version, reason, tracking_uri=_uri(request))
    except ModelError as exc:
        raise StudioError(404, f"cannot reject {name} version {version}", str(exc)) from None
    return _decided(name, version)
