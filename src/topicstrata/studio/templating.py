"""The Jinja2 environment of the pages (package templates, autoescaped) and its filters."""

from __future__ import annotations

import time
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["make_templates"]


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return ""
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _percent(value: Any) -> str:
    return "" if value is None else f"{float(value):.1%}"


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("topicstrata.studio", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.filters.update(when=_when, duration=_duration, number=_number, percent=_percent)
    env.globals["zip"] = zip
    return Jinja2Templates(env=env)
