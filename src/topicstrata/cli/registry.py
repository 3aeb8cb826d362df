"""``strata registry``: registered models, their versions and approval status."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from topicstrata.cli._ui import console, friendly_errors, out

if TYPE_CHECKING:
    from topicstrata.registry import ModelVersionInfo

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        envvar="TOPICSTRATA_TRACKING_URI",
        help="MLflow tracking URI (default: sqlite:///.strata/mlflow.db in this directory).",
    ),
]
_STATUS_STYLE = {"approved": "green", "rejected": "red", "pending": "yellow"}
_SHOWN_METRICS = ("l1_nmi", "npmi")


def _versions_table(infos: list[ModelVersionInfo], title: str | None = None) -> None:
    from rich.table import Table

    table = Table(title=title, show_edge=False)
    table.add_column("name", overflow="fold", min_width=8)
    table.add_column("version", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("aliases", overflow="fold", min_width=7)
    table.add_column("created", no_wrap=True)
    for key in _SHOWN_METRICS:
        table.add_column(key, justify="right", no_wrap=True)
    for info in infos:
        style = _STATUS_STYLE.get(info.approval_status, "")
        created = info.created_at.strftime("%Y-%m-%d %H:%M") if info.created_at else "-"
        metrics = [f"{info.metrics[k]:.3g}" if k in info.metrics else "-" for k in _SHOWN_METRICS]
        table.add_row(
            info.name,
            str(info.version),
            f"[{style}]{info.approval_status}[/]" if style else info.approval_status,
            "\n".join(info.aliases) or "-",
            created,
            *metrics,
        )
    out.print(table)


@app.command("list")
@friendly_errors
def list_(
    name: Annotated[str | None, typer.Option("--name", help="Only this registered model.")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Every registered version: status, aliases, creation time, headline metrics."""
    from topicstrata.registry import list_models

    infos = list_models(name, tracking_uri=tracking_uri)
    if not infos:
        console.print(
            "no registered models; add one with `strata registry register RUN --name NAME`."
        )
        return
    _versions_table(infos)


@app.command()
@friendly_errors
def register(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (or its model/ folder).")],
    name: Annotated[str, typer.Option("--name", help="Registered model name.")],
    alias: Annotated[str | None, typer.Option("--alias", help="Alias, e.g. candidate.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="Version description.")
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Log a run and register its model as a new version (status pending)."""
    from topicstrata.registry import register_model

    info = register_model(
        run_dir, name, alias=alias, description=description, tracking_uri=tracking_uri
    )
    _versions_table([info], title="registered")
    console.print(
        f"approve it for serving with `strata registry approve {info.name} {info.version}`."
    )


@app.command()
@friendly_errors
def approve(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Argument(min=1, help="Version number.")],
    alias: Annotated[
        str | None, typer.Option("--alias", help="Also point this alias (e.g. champion) here.")
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Approve a version for serving."""
    from topicstrata.registry import approve as approve_version

    info = approve_version(name, version, alias=alias, tracking_uri=tracking_uri)
    _versions_table([info], title="approved")


@app.command()
@friendly_errors
def reject(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Argument(min=1, help="Version number.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept as a tag).")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Reject a version; serving refuses it."""
    from topicstrata.registry import reject as reject_version

    info = reject_version(name, version, reason, tracking_uri=tracking_uri)
    _versions_table([info], title="rejected")
