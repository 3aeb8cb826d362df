"""Serve the studio with uvicorn (one process: the pages only read, writes are few)."""

from __future__ import annotations

from pathlib import Path

from topicstrata.studio.app import create_app

__all__ = ["run_studio"]


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
    uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=log_level, server_header=False)
    ).run()
