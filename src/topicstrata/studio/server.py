"""Serve the studio with uvicorn (one process: the pages only read, writes are few)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import FastAPI

from topicstrata.studio.app import create_app

__all__ = ["run_studio"]

logger = logging.getLogger(__name__)


def run_studio(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8501,
    token: str | None = None,
    tracking_uri: str | None = None,
    log_level: str = "warning",
) -> None:
    """Serve until interrupted. The caller checks the host (``strata studio`` refuses a
    non-loopback host without a token)."""
    import uvicorn

    app = create_app(root, token, tracking_uri=tracking_uri)
    threading.Thread(target=_warm_registry, args=(app,), name="warm-registry", daemon=True).start()
    uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=log_level, server_header=False)
    ).run()


def _warm_registry(app: FastAPI) -> None:
    """Import MLflow and open the registry while nobody waits: the first Registry page
    otherwise pays both (1.5-2 s, bench/studio.py). Failures are left to the page."""
    from topicstrata.studio.routes.registry import registered_versions

    uri = app.state.settings.resolved_tracking_uri
    try:
        registered_versions(uri)
    except Exception as exc:  # the Registry page reports it when someone opens it
        logger.debug("warming the registry at %s failed: %s", uri, exc)
