"""``create_app``: the studio's FastAPI application over one root folder."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response

from topicstrata._version import __version__
from topicstrata.errors import TopicStrataError
from topicstrata.studio.errors import StudioError
from topicstrata.studio.jobs import JobRunner
from topicstrata.studio.pages import error_page
from topicstrata.studio.routes import (
    analytics,
    assets,
    compare,
    docmap,
    registry,
    review,
    runs,
    topics,
)
from topicstrata.studio.security import AccessTokenMiddleware
from topicstrata.studio.settings import StudioSettings
from topicstrata.studio.templating import make_templates

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    root: str | Path = ".", token: str | None = None, *, tracking_uri: str | None = None
) -> FastAPI:
    """The studio over ``root`` (the folder holding ``.strata/``); ``token`` guards every page.

    Nothing is read here: each page reads the run store, run directories and the
    registry when it is requested, so the studio shows runs that start later.
    """
    settings = StudioSettings(root=Path(root), token=token or None, tracking_uri=tracking_uri)
    app = FastAPI(
        title="topicstrata studio",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.templates = make_templates()
    app.state.jobs = JobRunner(settings.root)
    for module in (runs, review, topics, docmap, analytics, compare, registry, assets):
        app.include_router(module.router)
    _install_handlers(app)
    # The map's points (up to 20,000 with their texts) are megabytes of JSON: compressed
    # several-fold for the browser.
    app.add_middleware(GZipMiddleware, minimum_size=4096)
    if settings.token:
        app.add_middleware(AccessTokenMiddleware, token=settings.token, render=error_page)
    return app


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(StudioError)
    async def studio_error(request: Request, exc: StudioError) -> Response:
        return error_page(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            problems.append(f"{where}={err.get('input')!r}: {err.get('msg')}")
        return error_page(
            request,
            StudioError(
                422,
                "bad request parameter",
                "; ".join(problems) + ". Fix the parameter in the address and reload.",
            ),
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            error = StudioError(
                404, "page not found", f"{request.url.path} is not a studio page; start at /runs."
            )
        else:
            error = StudioError(exc.status_code, "request refused", str(exc.detail))
        return error_page(request, error)

    @app.exception_handler(TopicStrataError)
    async def library_error(request: Request, exc: TopicStrataError) -> Response:
        return error_page(request, StudioError(422, type(exc).__name__, str(exc)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("studio page %s failed", request.url.path)
        return error_page(
            request,
            StudioError(
                500,
                "internal error",
                f"{type(exc).__name__} while rendering {request.url.path}; the studio's log "
                "has the details. Please report it.",
            ),
        )
