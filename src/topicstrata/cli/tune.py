"""``strata tune``: search configs on a sample of the data, write OUT_DIR/best.yaml."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from topicstrata.cli._ui import (
    Address,
    ExecutorKind,
    console,
    friendly_errors,
    progress_bars,
    setup_logging,
)

if TYPE_CHECKING:
    from topicstrata.tune import TuneRun

__all__ = ["tune_command"]

_SAMPLERS = ("tpe", "gp", "random")


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@friendly_errors
def tune_command(
    data: Annotated[
        Path, typer.Argument(help="Records: CSV, Parquet, JSONL or a Salesforce export.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for best.yaml & report.")],
    trials: Annotated[
        int | None, typer.Option("--trials", min=1, help="New trials to run (default 30).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1, help="Stop starting trials after S seconds.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Base config YAML; its tune: section sets the study."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="Label columns, coarsest first: adds NMI to the loss."),
    ] = None,
    sampler: Annotated[
        str | None, typer.Option("--sampler", help="tpe (default), gp or random.")
    ] = None,
    folds: Annotated[
        int | None, typer.Option("--folds", min=2, help="CV folds (default 3).")
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=0, help="Records to tune on (default 10,000; 0: all)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Sampler, sample and fold seed.")
    ] = None,
    embedders: Annotated[
        str | None,
        typer.Option("--embedders", help="Backends to rank, e.g. minilm-onnx,static,tfidf-svd."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna storage URL (default sqlite:///.strata/optuna.db)."),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: derived from the setup).")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", min=1, help="Trials at once, in worker processes.")
    ] = None,
    cache_dir: Annotated[
        Path, typer.Option("--cache-dir", help="Preprocessing and embedding caches.")
    ] = Path(".strata/cache"),
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow tracking URI.")
    ] = None,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Do not log to MLflow.")] = False,
    executor_kind: ExecutorKind = "local",
    address: Address = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every trial.")] = False,
) -> None:
    """Tune the ensemble (and pick the embedder) by cross-validated loss; write best.yaml."""
    setup_logging(verbose)
    import optuna

    from topicstrata.errors import ConfigError
    from topicstrata.tune import TuneSettings, load_tune_config, run_tune

    # Optuna installs its own stderr handler; route its records through ours instead.
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    logging.getLogger("optuna").setLevel(logging.INFO if verbose else logging.WARNING)

    if sampler is not None and sampler not in _SAMPLERS:
        raise ConfigError(f"--sampler {sampler!r}: use one of {', '.join(_SAMPLERS)}.")
    base, settings = load_tune_config(config)
    overrides: dict[str, Any] = {
        "trials": trials,
        "timeout": timeout,
        "sampler": sampler,
        "folds": folds,
        "seed": seed,
        "storage": storage,
        "study_name": study,
        "n_jobs": jobs,
    }
    update = {k: v for k, v in overrides.items() if v is not None}
    if sample is not None:
        update["sample"] = sample or None
    if embedders:
        from topicstrata.tune import default_space

        space = settings.space or default_space(base)
        update["space"] = space.model_copy(update={"embedders": _csv(embedders)})
    settings = TuneSettings.from_dict(
        {**settings.model_dump(), **update}, source="strata tune options"
    )
    from topicstrata.fanout import check_executor, make_fanout

    check_executor(executor_kind, address)
    # On Ray the trial workers are Ray tasks (-1: as many at once as the cluster has CPUs).
    workers = make_fanout("ray", n_jobs=-1, address=address) if executor_kind == "ray" else None
    with progress_bars() as progress:
        run = run_tune(
            data,
            output,
            base,
            settings,
            label_cols=_csv(labels),
            cache_dir=cache_dir,
            tracking_uri=tracking_uri,
            log_mlflow=not no_mlflow,
            progress=progress,
            map_workers=workers,
        )
    _print_summary(run, output)


def _print_summary(run: TuneRun, output: Path) -> None:
    from rich.table import Table

    result = run.result
    console.print(
        f"study [bold]{result.study.study_name}[/]: {result.n_new_trials} new trial(s), "
        f"{result.n_trials} in total, {result.wall_s:.0f}s"
    )
    console.print(
        f"best loss [bold]{result.best_loss:.4f}[/] (trial {result.study.best_trial.number})"
    )
    table = Table(title="embedders (cv loss, lower is better)", show_edge=False)
    table.add_column("rank", justify="right")
    table.add_column("backend")
    table.add_column("loss", justify="right")
    for row in result.ranking:
        loss = row.get("loss")
        shown = f"{loss:.4f}" if isinstance(loss, float) and loss == loss else "-"
        table.add_row(str(row.get("rank", "")), str(row["backend"]), shown)
    console.print(table)
    console.print(f"winner: [bold]{result.winner}[/]")
    if run.mlflow_run_id:
        console.print(f"mlflow run: {run.mlflow_run_id}")
    console.print(f"best config: [bold]{output / 'best.yaml'}[/] (use: strata fit --config)")
