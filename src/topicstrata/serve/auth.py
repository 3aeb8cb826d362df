"""``Authorization: Bearer KEY`` on the API routes; admin routes need an admin key.

With no key configured every caller is let in: the server then listens on
loopback only (``settings.check_bind_host``). Keys are never logged, nor echoed
in an error.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from topicstrata.serve.problems import ProblemError
from topicstrata.serve.settings import ENV_ADMIN_KEYS, ApiKeys, Role

__all__ = ["require_admin", "require_key"]

_bearer = HTTPBearer(auto_error=False, description="An API key from STRATA_API_KEYS.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.settings.keys
    return keys


def require_key(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Role:
    keys = _keys(request)
    if not keys.configured:
        return "admin"
    if credentials is None or not credentials.credentials:
        raise ProblemError(
            401,
            "unauthenticated",
            "this route needs an API key: send the header `Authorization: Bearer KEY`.",
            headers=_CHALLENGE,
        )
    role = keys.role_of(credentials.credentials)
    if role is None:
        raise ProblemError(
            401,
            "unauthenticated",
            "the API key is not valid; check the key the server was started with.",
            headers=_CHALLENGE,
        )
    return role


def require_admin(role: Role = Depends(require_key)) -> Role:
    if role != "admin":
        raise ProblemError(
            403,
            "forbidden",
            f"this route needs an admin key (from {ENV_ADMIN_KEYS}); the key sent is a user key.",
        )
    return role
