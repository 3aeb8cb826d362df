"""Run the app with uvicorn: one process (SIGHUP reloads in place) or N workers.

With ``workers > 1`` uvicorn's supervisor owns the processes; each worker builds
its app from ``STRATA_SERVE_SPEC`` (the source and settings as JSON; keys stay
in the environment or key files), and SIGHUP makes the supervisor replace the
workers one at a time, each new one loading what the source points at now and
taking over only once it is up.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI

from topicstrata.errors import ConfigError
from topicstrata.serve.app import create_app
from topicstrata.serve.settings import ApiKeys, Limits, ServeSettings, check_bind_host
from topicstrata.serve.source import parse_source, resolve_source

__all__ = ["app_from_environment", "run_server"]

logger = logging.getLogger(__name__)

ENV_SPEC: Final = "STRATA_SERVE_SPEC"
#: Seconds a stopping server waits for requests in flight.
GRACEFUL_SHUTDOWN_S: Final = 30


def run_server(
    source: str | Path,
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    insecure: bool = False,
    log_level: str = "info",
) -> None:
    """Serve until interrupted; refuses a non-loopback host without keys unless ``insecure``."""
    import uvicorn

    check_bind_host(host, settings.keys, insecure)
    if workers < 1:
        raise ConfigError(f"--workers {workers} must be at least 1.")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    if workers == 1:
        app = create_app(source, dataclasses.replace(settings, reload_on_sighup=True))
        uvicorn.Server(uvicorn.Config(app, **common)).run()
        return
    # Refuse a missing or unapproved model here, before any worker starts.
    resolve_source(
        parse_source(source),
        allow_unapproved=settings.allow_unapproved,
        tracking_uri=settings.tracking_uri,
    )
    os.environ[ENV_SPEC] = json.dumps(
        {
            "source": str(source),
            "limits": dataclasses.asdict(settings.limits),
            "allow_unapproved": settings.allow_unapproved,
            "tracking_uri": settings.tracking_uri,
        }
    )
    uvicorn.run(
        "topicstrata.serve.server:app_from_environment", factory=True, workers=workers, **common
    )


def app_from_environment() -> FastAPI:
    """The app of one worker process, from ``STRATA_SERVE_SPEC`` and the key variables."""
    raw = os.environ.get(ENV_SPEC)
    if not raw:
        raise ConfigError(f"{ENV_SPEC} is not set; start the service with `strata serve`.")
    spec = json.loads(raw)
    settings = ServeSettings(
        limits=Limits(**spec["limits"]),
        keys=ApiKeys.from_env(),
        allow_unapproved=bool(spec["allow_unapproved"]),
        tracking_uri=spec["tracking_uri"],
    )
    return create_app(spec["source"], settings)
