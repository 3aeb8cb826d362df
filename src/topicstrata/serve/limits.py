"""Refuse request bodies over the size limit before they are read into memory."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from topicstrata.serve.problems import ProblemError, problem_response

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """413 when ``Content-Length`` or the bytes actually sent exceed ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _error(self, size: str) -> ProblemError:
        return ProblemError(
            413,
            "body-too-large",
            f"the request body is {size}; the limit (max_body_bytes) is "
            f"{self.max_body_bytes:,} bytes. Send fewer or shorter records per request.",
            title="Request body too large",
            limit={"name": "max_body_bytes", "value": self.max_body_bytes},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            exc = self._error(f"{int(declared):,} bytes")
            response = problem_response(
                exc.status, exc.detail, slug=exc.slug, title=exc.title, **exc.extra
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Raised inside the app's body read, so its exception handler answers.
                    raise self._error(f"over {self.max_body_bytes:,} bytes")
            return message

        await self.app(scope, counted, send)
