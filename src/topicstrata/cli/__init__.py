"""The ``strata`` command line: the only place that prints or draws progress bars."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from topicstrata.cli._ui import (
    Address,
    ExecutorKind,
    console,
    friendly_errors,
    out,
    progress_bars,
    setup_logging,
)
from topicstrata.errors import InputError

if TYPE_CHECKING:  # heavy imports stay out of `strata --help`
    from topicstrata.config import StrataConfig
    from topicstrata.pipeline import Executor

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    name="strata",
    help="Discover a hierarchy of use cases in CRM text (sequential ensemble of topic models).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log what each step does.")]
CacheDir = Annotated[
    Path,
    typer.Option("--cache-dir", help="Preprocessing and embedding caches (reused across runs)."),
]
DEFAULT_CACHE = Path(".strata/cache")
Root = Annotated[
    Path, typer.Option("--root", help="Where .strata/ (artefacts, run records) lives.")
]


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
@friendly_errors
def synth(
    rows: Annotated[int, typer.Option("--rows", min=1, help="Number of records.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="FILE.parquet|.csv|.jsonl")] = Path(
        "opportunities.parquet"
    ),
) -> None:
    """Synthetic CRM opportunities with a known 3-level use-case truth."""
    from topicstrata.synth import write_opportunities

    started = time.perf_counter()
    with progress_bars() as progress:
        n = write_opportunities(output, rows, seed=seed, progress=progress)
    console.print(f"wrote {n:,} records to {output} in {time.perf_counter() - started:.1f}s")


@app.command()
@friendly_errors
def fit(
    data: Annotated[
        Path, typer.Argument(help="Records: CSV, Parquet, JSONL or a Salesforce export.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Run directory to write.")],
    config: Annotated[Path | None, typer.Option("--config", help="YAML config (see docs).")] = None,
    text_cols: Annotated[
        str | None, typer.Option("--text-cols", help="Comma-separated text columns.")
    ] = None,
    id_col: Annotated[str | None, typer.Option("--id-col", help="Column with record ids.")] = None,
    layers: Annotated[int | None, typer.Option("--layers", min=1, help="Number of layers.")] = None,
    embedder: Annotated[
        str | None, typer.Option("--embedder", help="minilm-onnx, minilm, static, tfidf-svd.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Edited mapping file to apply.")
    ] = None,
    labels: Annotated[
        str | None, typer.Option("--labels", help="Label columns to score against, coarsest first.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Force the input format.")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Input text encoding.")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Fast preprocessing (no NER).")] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", min=1, help="Worker processes for preprocessing and per-topic fits."
        ),
    ] = None,
    review: Annotated[
        bool, typer.Option("--review", help="Pause after each layer for a mapping review.")
    ] = False,
    model_name: Annotated[
        str | None, typer.Option("--register", help="Register the model under this name.")
    ] = None,
    min_npmi: Annotated[
        float, typer.Option("--min-npmi", help="Quality gate for registering.")
    ] = -1.0,
    cache_dir: CacheDir = DEFAULT_CACHE,
    root: Root = Path("."),
    executor_kind: ExecutorKind = "local",
    address: Address = None,
    verbose: Verbose = False,
) -> None:
    """Fit the topic hierarchy (the default pipeline, cached) and write a run directory."""
    setup_logging(verbose)
    if not data.exists():
        raise InputError(f"{data}: no such file or folder; check the data path.")
    cfg = _load_config(config, text_cols, id_col, layers, embedder, fmt, encoding, fast, jobs)
    params = {
        "data": str(data),
        "output": str(output),
        "config": cfg.model_dump(mode="json"),
        "mapping": str(mapping or ""),
        "labels": labels or "",
        "cache_dir": str(cache_dir),
        "auto_approve": not review,
        "min_npmi": min_npmi,
        "model_name": model_name or "",
    }
    from topicstrata.pipeline import make_executor

    executor = make_executor(executor_kind, address=address)
    if _run_topic_pipeline(params, len(cfg.ensemble.layers), root, executor):
        _print_run_summary(output)


def _run_topic_pipeline(
    params: dict[str, object], n_layers: int, root: Path, executor: Executor | None = None
) -> bool:
    """Run the default pipeline with progress; False when it paused for a review."""
    from topicstrata.cli.pipeline import RichHooks, _print_result
    from topicstrata.pipeline import run_pipeline
    from topicstrata.pipeline.topic import build_pipeline

    result = run_pipeline(
        build_pipeline(n_layers), params, root=root, executor=executor, hooks=[RichHooks()]
    )
    if result.status == "waiting":
        _print_result(result)
        return False
    return True


def _load_config(
    config: Path | None,
    text_cols: str | None,
    id_col: str | None,
    layers: int | None,
    embedder: str | None,
    fmt: str | None,
    encoding: str | None,
    fast: bool,
    jobs: int | None = None,
) -> StrataConfig:
    from topicstrata.config import StrataConfig

    cfg = StrataConfig.from_yaml(config) if config else StrataConfig()
    ingest = dict(cfg.ingest)
    if text_cols:
        ingest["text_cols"] = tuple(_csv(text_cols) or ())
    for key, value in (("id_col", id_col), ("format", fmt), ("encoding", encoding)):
        if value:
            ingest[key] = value
    update: dict[str, object] = {"ingest": ingest}
    if fast:
        update["preprocess"] = {**cfg.preprocess, "mode": "fast"}
    if embedder:
        update["embed"] = cfg.embed.model_copy(update={"backend": embedder})
    if layers:
        update["ensemble"] = cfg.ensemble.with_layers(layers)
    if jobs:
        # The results do not depend on it (tests/faults/test_determinism.py).
        ensemble = update.get("ensemble", cfg.ensemble)
        update["ensemble"] = ensemble.model_copy(update={"n_jobs": jobs})  # type: ignore[attr-defined]
        update["preprocess"] = {**update.get("preprocess", cfg.preprocess), "n_process": jobs}  # type: ignore[dict-item]
    return StrataConfig.from_dict({**cfg.model_dump(), **{k: _dump(v) for k, v in update.items()}})


def _dump(value: object) -> object:
    return value.model_dump() if hasattr(value, "model_dump") else value


def _print_run_summary(run_dir: Path) -> None:
    """Rows accounted for, topics and NMI per level, and quality of a run directory."""
    import pandas as pd
    from rich.table import Table

    rows = json.loads((run_dir / "row_report.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assignments = pd.read_parquet(run_dir / "assignments.parquet")
    console.print(
        f"[bold]{rows['rows_in']:,}[/] rows in: {rows['ok']:,} fitted, "
        f"{rows['rejected']:,} rejected (empty {rows.get('empty_text', 0)}, invalid "
        f"{rows.get('invalid', 0)}, duplicate id {rows.get('duplicate_id', 0)}; "
        "see row_report.json)"
    )
    table = Table(title="topics per level", show_edge=False)
    table.add_column("level")
    table.add_column("topics", justify="right")
    table.add_column("NMI vs labels", justify="right")
    levels = {lv["level"]: lv for lv in metrics.get("levels", [])}
    depth = sum(1 for c in assignments.columns if c.startswith("path_l"))
    for level in range(1, depth + 1):
        lv = levels.get(level)
        nmi = f"{lv['nmi']:.3f} ({lv['label_col']})" if lv else "-"
        table.add_row(str(level), str(assignments[f"path_l{level}"].nunique()), nmi)
    console.print(table)
    if metrics.get("npmi") is not None:
        console.print(f"NPMI {metrics['npmi']:.3f} · diversity {metrics.get('diversity', 0):.3f}")
    console.print(f"run directory: [bold]{run_dir}[/] · report: {run_dir / 'report.html'}")


@app.command()
@friendly_errors
def predict(
    run: Annotated[Path, typer.Argument(help="Run directory (or its model/ folder).")],
    data: Annotated[Path, typer.Argument(help="Records to assign.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Output file (.parquet/.csv/.jsonl).")
    ],
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Records per batch.")
    ] = 10_000,
    verbose: Verbose = False,
) -> None:
    """Assign new records to the fitted topics (path, label, keywords, confidence)."""
    setup_logging(verbose)
    from topicstrata.run.predict import predict_file

    with progress_bars() as progress:
        summary = predict_file(run, data, output, chunk_rows=chunk_rows, progress=progress)
    console.print(
        f"assigned {summary['assigned']:,} of {summary['rows_in']:,} records "
        f"({summary['rejected']:,} rejected, see {summary['row_report']}) -> {output}"
    )


@app.command()
@friendly_errors
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    data: Annotated[Path | None, typer.Option("--data", help="Records with label columns.")] = None,
    labels: Annotated[
        str | None, typer.Option("--labels", help="Label columns, coarsest first.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score a run: per-level NMI/ARI against labels, NPMI coherence, diversity."""
    from topicstrata.run.evaluate import evaluate_run

    result = evaluate_run(run, data=data, label_cols=_csv(labels))
    if as_json:
        out.print_json(json.dumps(result))
        return
    for lv in result["levels"]:
        out.print(
            f"level {lv['level']} vs {lv['label_col']}: NMI {lv['nmi']:.3f}  ARI {lv['ari']:.3f}  "
            f"topics {lv['n_topics']}"
        )
    for kw in result["keyword_levels"]:
        out.print(
            f"level {kw['level']} keywords: NPMI {_score(kw['npmi'])} "
            f"(over {kw['n_npmi']} topics with 2+ words)  "
            f"diversity {_score(kw['diversity'])}  topics {kw['n_topics']}"
        )
    out.print(
        f"leaf topics: NPMI {_score(result['npmi'])}  diversity {_score(result['diversity'])}  "
        f"docs {result['n_docs']}"
    )


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@app.command()
@friendly_errors
def demo(
    rows: Annotated[int, typer.Option("--rows", min=100, help="Synthetic records.")] = 20_000,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write.")] = Path(
        "demo-output"
    ),
    cache_dir: CacheDir = DEFAULT_CACHE,
    root: Root = Path("."),
    verbose: Verbose = False,
) -> None:
    """The whole pipeline on built-in synthetic opportunities."""
    setup_logging(verbose)
    from importlib.resources import files

    from topicstrata.config import StrataConfig
    from topicstrata.synth import write_opportunities

    output.mkdir(parents=True, exist_ok=True)
    data = output / "opportunities.parquet"
    cfg_path = Path(str(files("topicstrata.run") / "configs" / "demo.yaml"))
    cfg = StrataConfig.from_yaml(cfg_path)
    console.rule("[bold]topicstrata demo")
    with progress_bars() as progress:
        n = write_opportunities(data, rows, seed=0, progress=progress)
    console.print(f"generated {n:,} synthetic opportunities -> {data}")
    params = {
        "data": str(data),
        "output": str(output / "run"),
        "config": cfg.model_dump(mode="json"),
        "cache_dir": str(cache_dir),
        "auto_approve": True,
    }
    if _run_topic_pipeline(params, len(cfg.ensemble.layers), root):
        _print_run_summary(output / "run")
        studio = "strata studio" + ("" if root == Path(".") else f" --root {root}")
        console.print(f"browse the run, its topic tree and analytics: [bold]{escape(studio)}[/]")


def _register_commands() -> None:
    """Commands that live in their own modules (their imports stay lazy)."""
    from topicstrata.cli.serve import serve_command
    from topicstrata.cli.studio import studio_command
    from topicstrata.cli.tune import tune_command

    app.command("tune")(tune_command)
    app.command("serve")(serve_command)
    app.command("studio")(studio_command)


_register_commands()


def _mount_subapps() -> None:
    """Sub-command groups live in their own modules (pipeline, registry, ...)."""
    import importlib

    for name, help_text in (
        ("pipeline", "Run, inspect, resume and export pipelines."),
        ("registry", "Registered models and their approval status."),
    ):
        try:
            module = importlib.import_module(f"topicstrata.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"topicstrata.cli.{name}":
                raise
            continue
        app.add_typer(module.app, name=name, help=help_text)


_mount_subapps()


def main() -> None:
    app()
