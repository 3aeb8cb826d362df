"""``strata studio``: the web UI over a root's runs, run directories and registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from topicstrata.cli._ui import console, friendly_errors, setup_logging
from topicstrata.errors import ConfigError

__all__ = ["check_studio_host", "studio_command"]

ENV_TOKEN = "STRATA_STUDIO_TOKEN"


def check_studio_host(host: str, token: str | None) -> None:
    """Without a token the studio listens on loopback only; a token must be a real secret."""
    from topicstrata.serve.settings import ApiKeys, is_loopback

    if token:
        ApiKeys(keys=(token,))  # the same rules as the service's keys: long, no spaces
        return
    if not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the studio on {host} without an access token: anyone who "
            "can reach it could read your records and approve models. Pass --token TOKEN "
            f"(or set {ENV_TOKEN}; make one with `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`), or listen on 127.0.0.1."
        )


@friendly_errors
def studio_command(
    root: Annotated[
        Path, typer.Option("--root", help="Folder holding .strata/ (runs, registry).")
    ] = Path("."),
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8501,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar=ENV_TOKEN,
            help="Access token; required off loopback.",
            show_default=False,
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            envvar="TOPICSTRATA_TRACKING_URI",
            help="MLflow tracking URI (default: sqlite under ROOT/.strata).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    """Browse runs, the topic tree, analytics and the registry in a web browser."""
    setup_logging(verbose)
    check_studio_host(host, token)
    if not root.is_dir():
        raise ConfigError(
            f"--root {root}: no such folder; point it at the folder holding .strata/."
        )
    from topicstrata.studio.server import run_studio

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    suffix = "/?token=TOKEN" if token else "/"
    console.print(
        f"studio on http://{shown}:{port}{suffix} (root {root.resolve()}); Ctrl+C stops it"
    )
    run_studio(
        root,
        host=host,
        port=port,
        token=token,
        tracking_uri=tracking_uri,
        log_level="info" if verbose else "warning",
    )
