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
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from topicstrata._version import __version__
from topicstrata.serve import routes
from topicstrata.serve.holder import ModelHolder
from topicstrata.serve.limits import BodyLimitMiddleware
from topicstrata.serve.metrics import Metrics, MetricsMiddleware
from topicstrata.serve.problems import PROBLEM_MEDIA_TYPE, install_handlers
from topicstrata.serve.settings import Limits, ServeSettings
from topicstrata.serve.source import ModelSource, ServedModel, load_source, parse_source

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

    def swapped(model: ServedModel) -> None:
        metrics.set_model(model)
        app.openapi_schema = None  # the text fields may differ: rebuild the schema

    holder = ModelHolder(load(), load, on_swap=swapped)
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
    # One prediction at a time: each already uses every core (onnxruntime's intra-op
    # threads), so parallel ones only fight over the cores and multiply working memory.
    app.state.predict_lock = threading.Lock()
    install_handlers(app)
    for router in (routes.predict, routes.topics, routes.info, routes.admin, routes.ops):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.limits.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _document_records(schema, holder.current.text_fields, settings.limits)
            _problem_only(schema)
            if not settings.keys.configured:
                _drop_security(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problem_only(schema: dict[str, Any]) -> None:
    """Error responses are documented once, as ``application/problem+json``."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in "45" and PROBLEM_MEDIA_TYPE in content:
                    content.pop("application/json", None)


def _drop_security(schema: dict[str, Any]) -> None:
    """Without keys the routes are open (loopback only): the schema must not ask for one."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.pop("security", None)
            operation.get("responses", {}).pop("401", None)
    schema.get("components", {}).pop("securitySchemes", None)


def _document_records(schema: dict[str, Any], text_fields: list[str], limits: Limits) -> None:
    """Name the served model's text fields and the limits in the request schema, so a
    generated client (and a schema-driven test) knows what a record must hold."""
    request = schema["components"]["schemas"]["PredictRequest"]["properties"]["records"]
    value = {
        "anyOf": [
            {"type": "string", "maxLength": limits.max_field_chars},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    }
    request["maxItems"] = limits.max_records
    request["items"] = {
        "type": "object",
        "required": list(text_fields),
        "properties": {
            "id": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
            **{name: value for name in text_fields},
        },
        "additionalProperties": request["items"].get("additionalProperties", True),
    }


def _on_hup(holder: ModelHolder) -> None:
    logger.info("SIGHUP: reloading the model in the background")
    holder.reload()
