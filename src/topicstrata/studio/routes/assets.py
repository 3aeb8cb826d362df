"""Static assets: Plotly's JavaScript from the installed ``plotly`` package (no CDN)."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter
from starlette.responses import Response

router = APIRouter()

PLOTLY_JS = "/static/plotly.min.js"


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


@router.get(PLOTLY_JS, include_in_schema=False)
def plotly_js() -> Response:
    return Response(
        _plotly_js(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
