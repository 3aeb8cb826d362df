"""Who may open the studio (an optional access token) and which POSTs are genuine (CSRF).

Without a token the studio listens on loopback only (the CLI refuses any other
host). With one, a browser opens ``/?token=T`` once and then carries it in an
HttpOnly, SameSite=Strict cookie; scripts send ``Authorization: Bearer T``.
Every write is a form POST carrying the app's CSRF token in a hidden field: a
page from another origin cannot read it, so it cannot forge the POST.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response

from topicstrata.studio.errors import StudioError

__all__ = ["TOKEN_COOKIE", "AccessTokenMiddleware", "read_form"]

TOKEN_COOKIE = "strata_studio_token"
CSRF_FIELD = "csrf_token"
#: Largest form body accepted: the studio's forms hold a few short fields.
MAX_FORM_BYTES = 65_536


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _presented(request: Request) -> tuple[str | None, bool]:
    """The token the request carries and whether it came in the query string."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(TOKEN_COOKIE)
    if cookie:
        return cookie, False
    query = request.query_params.get("token")
    return (query, True) if query else (None, False)


class AccessTokenMiddleware(BaseHTTPMiddleware):
    """Refuse (401) every request without the studio's token; remember a valid one."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        token: str,
        render: Callable[[Request, StudioError], Response],
    ) -> None:
        super().__init__(app)
        self.token = token
        self.render = render

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given, from_query = _presented(request)
        if given is None or not _same(given, self.token):
            return self.render(
                request,
                StudioError(
                    401,
                    "access token needed",
                    "this studio was started with --token: open it as "
                    "http://HOST:PORT/?token=TOKEN (or send `Authorization: Bearer TOKEN`).",
                ),
            )
        response = await call_next(request)
        if from_query:
            response.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
        return response


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
    """An url-encoded form whose CSRF token is the app's; 403 or 415 otherwise.

    Parsed with the standard library, so no multipart dependency is needed.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise StudioError(
            415,
            "unsupported form encoding",
            f"expected application/x-www-form-urlencoded, got {kind or 'no content type'}; "
            "submit the form from the studio page.",
        )
    body = await request.body()
    if len(body) > max_bytes:
        raise StudioError(413, "form too large", f"this studio form is at most {max_bytes} bytes.")
    fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    expected: str = request.app.state.settings.csrf_token
    if not _same(fields.get(CSRF_FIELD, ""), expected):
        raise StudioError(
            403,
            "missing or wrong CSRF token",
            "this change was not submitted from a studio page (its hidden csrf_token field is "
            "missing or stale, e.g. after the studio restarted); reload the page and submit "
            "the form again. Nothing was changed.",
        )
    return fields
