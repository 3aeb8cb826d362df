"""Every error the service returns is an RFC 9457 problem-details JSON body.

``ProblemError`` carries its HTTP status and a short ``slug`` that names the
problem type (``urn:topicstrata:problem:<slug>``, listed in docs/serving.md);
the handlers here turn it, FastAPI's validation errors, Starlette's HTTP
errors, the library's ``TopicStrataError`` and anything unexpected into the
same JSON shape, so a client never sees an HTML page or a traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from topicstrata.errors import ConfigError, InputError, MappingError, TopicStrataError

__all__ = ["PROBLEM_MEDIA_TYPE", "ProblemError", "install_handlers", "problem_response"]

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:topicstrata:problem:"


class ProblemError(TopicStrataError):
    """An error with the HTTP status and problem type the service answers it with."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}{slug}" if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.detail,
        slug=exc.slug,
        title=exc.title,
        headers=exc.headers,
        **exc.extra,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}; see /docs for the API."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
        for e in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return problem_response(
        422,
        f"the request does not match the API schema: {where}{more}.",
        slug="invalid-request",
        title="Invalid request",
        errors=errors,
    )


async def _library(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TopicStrataError)
    if isinstance(exc, InputError | ConfigError | MappingError):
        return problem_response(422, str(exc), slug="invalid-input", title="Invalid input")
    logger.error("%s %s failed: %s", request.method, request.url.path, exc)
    return problem_response(500, str(exc), slug="model-error", title="Model error")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("%s %s failed unexpectedly", request.method, request.url.path)
    return problem_response(
        500,
        "the server failed to handle this request; the error is in the server's log.",
        slug="internal-error",
    )


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(TopicStrataError, _library)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
