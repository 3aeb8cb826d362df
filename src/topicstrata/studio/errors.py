"""Errors shown as a page: a status, what is wrong and what to do, never a traceback."""

from __future__ import annotations

__all__ = ["StudioError"]


class StudioError(Exception):
    """A request the studio cannot answer: 404 (no such run/topic), 422 (bad parameter)..."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail


def not_found(what: str, detail: str) -> StudioError:
    return StudioError(404, f"{what} not found", detail)


def bad_param(name: str, value: object, detail: str) -> StudioError:
    return StudioError(422, f"bad parameter {name}={value!r}", detail)
