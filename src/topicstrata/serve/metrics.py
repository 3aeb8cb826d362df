"""Prometheus metrics of one app: requests by route and status, latency, records, model.

Each app has its own ``CollectorRegistry`` (two apps in one process, as in the
tests, never share counters). Routes are labelled by their template
(``/v1/topics/{path}``), never the raw URL, so label values stay few. With
``--workers N`` each worker process reports its own counters.
"""

from __future__ import annotations

import time
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from topicstrata.serve.source import ServedModel

__all__ = ["Metrics", "MetricsMiddleware"]

#: Latency buckets in seconds: one record is ~ms, a full batch of MiniLM ~s.
BUCKETS: Final = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
UNMATCHED: Final = "unmatched"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "strata_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "strata_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.records = Counter(
            "strata_records_predicted",
            "Records assigned a topic, by model version.",
            ["model", "version"],
            registry=self.registry,
        )
        self.model = Gauge(
            "strata_model_info",
            "The model being served (value 1), by name, version and mapping version.",
            ["model", "version", "mapping_version"],
            registry=self.registry,
        )

    def set_model(self, model: ServedModel) -> None:
        self.model.clear()
        self.model.labels(*model_labels(model), str(model.mapping_version)).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def model_labels(model: ServedModel) -> tuple[str, str]:
    return model.name, "" if model.version is None else str(model.version)


class MetricsMiddleware:
    """Counts and times every HTTP request, including those answered by an error."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(template, method, str(status)).inc()
            self.metrics.latency.labels(template, method).observe(time.perf_counter() - started)
