"""``strata serve``: the prediction service over HTTP (see docs/serving.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from topicstrata.cli._ui import friendly_errors, setup_logging

__all__ = ["serve_command"]


@friendly_errors
def serve_command(
    source: Annotated[
        str,
        typer.Argument(
            help="Run directory, model directory, or registered model: NAME, NAME@ALIAS, "
            "NAME/VERSION."
        ),
    ],
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (each loads the model).")
    ] = 1,
    allow_unapproved: Annotated[
        bool,
        typer.Option(
            "--allow-unapproved", help="Serve a registered version that is not approved (trials)."
        ),
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Allow a non-loopback --host without API keys."),
    ] = False,
    keys_file: Annotated[
        Path | None,
        typer.Option("--keys-file", envvar="STRATA_API_KEYS_FILE", help="API keys, one per line."),
    ] = None,
    admin_keys_file: Annotated[
        Path | None,
        typer.Option(
            "--admin-keys-file", envvar="STRATA_ADMIN_KEYS_FILE", help="Admin keys, one per line."
        ),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Largest request body.")
    ] = 1_048_576,
    max_records: Annotated[
        int, typer.Option("--max-records", min=1, help="Most records per request.")
    ] = 256,
    max_field_chars: Annotated[
        int, typer.Option("--max-field-chars", min=1, help="Longest text field.")
    ] = 10_000,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            envvar="TOPICSTRATA_TRACKING_URI",
            help="MLflow tracking URI for registry sources.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    """Serve predictions over HTTP: POST /v1/predict, GET /v1/topics, /healthz, /metrics."""
    import os

    setup_logging(verbose)
    from topicstrata.serve import ApiKeys, Limits, ServeSettings
    from topicstrata.serve.server import run_server

    # Worker processes read key files from the environment too.
    for name, path in (
        ("STRATA_API_KEYS_FILE", keys_file),
        ("STRATA_ADMIN_KEYS_FILE", admin_keys_file),
    ):
        if path is not None:
            os.environ[name] = str(path)
    settings = ServeSettings(
        limits=Limits(
            max_body_bytes=max_body_bytes,
            max_records=max_records,
            max_field_chars=max_field_chars,
        ),
        keys=ApiKeys.from_env(),
        allow_unapproved=allow_unapproved,
        tracking_uri=tracking_uri,
    )
    run_server(
        source,
        settings,
        host=host,
        port=port,
        workers=workers,
        insecure=insecure,
        log_level="info" if verbose else "warning",
    )
