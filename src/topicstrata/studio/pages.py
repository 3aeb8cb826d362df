"""Rendering a page: the template, the request, the CSRF token every form needs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from topicstrata.studio.errors import StudioError

__all__ = ["error_page", "render"]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    settings = request.app.state.settings
    return request.app.state.templates.TemplateResponse(
        request,
        name,
        {"csrf_token": settings.csrf_token, "root": settings.root, **context},
        status_code=status_code,
    )


def error_page(request: Request, error: StudioError) -> Response:
    return render(request, "error.html", status_code=error.status, error=error)
