"""``create_app``: the FastAPI application serving one model source."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from topicstrata._version import __version__
from topicstrata.serve import routes
from topicstrata.serve.holder import ModelHolder
from topicstrata.serve.limits import BodyLimitMiddleware
from topicstrata.serve.metrics import Metrics, MetricsMiddleware
from topicstrata.serve.problems import install_handlers
from topicstrata.serve.settings import ServeSettings
from topicstrata.serve.source import ModelSource, load_source, parse_source

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(source: str | Path | ModelSource, settings: ServeSettings | None = None) -> FastAPI:
    """Load ``source`` (a run or model directory, or NAME[@ALIAS|/VERSION]) and build the app.

    The model is loaded here, so a missing or unapproved model fails before anything
    listens. The warm-up prediction runs in the background at startup; ``/readyz``
    answers 503 until it is done.
    """
    settings = settings or ServeSettings()
    parsed = source if isinstance(source, ModelSource) else parse_source(source)
    load = partial(
        load_source,
        parsed,
        allow_unapproved=settings.allow_unapproved,
        tracking_uri=settings.tracking_uri,
    )
    metrics = Metrics()
    holder = ModelHolder(load(), load, on_swap=metrics.set_model)
    metrics.set_model(holder.current)
    if not settings.keys.configured:
        logger.warning("no API keys configured: every caller is let in; listen on loopback only")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder.start_warm_up()
        hup = settings.reload_on_sighup and threading.current_thread() is threading.main_thread()
        if hup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, _on_hup, holder)
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            holder.close()

    app = FastAPI(
        title="topicstrata",
        version=__version__,
        summary="Assign CRM records to a hierarchy of use-case topics.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = holder
    app.state.metrics = metrics
    install_handlers(app)
    for router in (routes.predict, routes.topics, routes.admin, routes.ops):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.limits.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _on_hup(holder: ModelHolder) -> None:
    logger.info("SIGHUP: reloading the model in the background")
    holder.reload()
