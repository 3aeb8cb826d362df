"""``strata pipeline``: run, resume, inspect and draw pipelines (rich output)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import TaskID
from rich.table import Table

from topicstrata.cli._ui import (
    Address,
    ExecutorKind,
    console,
    friendly_errors,
    new_progress,
    out,
    setup_logging,
)
from topicstrata.errors import ConfigError
from topicstrata.pipeline import (
    PipelineHooks,
    RunFailedError,
    RunResult,
    describe_run,
    import_pipeline,
    list_runs,
    load_config_file,
    make_executor,
    parse_param_overrides,
    resume_run,
    run_pipeline,
    run_status,
)
from topicstrata.pipeline.store import RunStore, summarize_steps

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

DEFAULT_FACTORY = "topicstrata.pipeline.topic:build_pipeline"
Root = Annotated[Path, typer.Option("--root", help="Folder holding .strata/ (cache and runs).")]
Params = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Override a parameter: key=value.")
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show step logs as they come.")]
Workers = Annotated[
    int | None, typer.Option("--max-workers", min=1, help="Steps run at once (default: CPUs).")
]

_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "waiting": "yellow",
    "skipped": "dim",
    "running": "cyan",
    "stopped": "magenta",
    "interrupted": "red",
    "pending": "dim",
}


def _status(text: str) -> str:
    return f"[{_STYLE.get(text, 'white')}]{text}[/]"


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


class RichHooks(PipelineHooks):
    """Draws one line per finished step and a bar per ``ctx.progress`` task."""

    def __init__(self) -> None:
        self.progress = new_progress(label_width=24, transient=True, remaining=True)
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def on_run_start(self, run_id: str, pipeline: str, parameters: dict[str, Any]) -> None:
        console.print(f"[bold]{escape(pipeline)}[/] run [cyan]{run_id}[/]")
        self.progress.start()

    def on_step_start(self, run_id: str, step: str, kind: str) -> None:
        self.progress.console.print(f"  [cyan]>[/] {escape(step)} [dim]({kind})[/]")

    def on_progress(self, run_id: str, step: str, task: str, done: int, total: int | None) -> None:
        key = (step, task)
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(f"{step}: {task}", total=total)
        self.progress.update(self.tasks[key], completed=done, total=total)

    def on_retry(self, run_id: str, step: str, attempt: int, delay: float, error: str) -> None:
        self.progress.console.print(
            f"  [yellow]![/] {escape(step)} attempt {attempt} failed: {escape(error)}; "
            f"retrying in {delay:.1f}s"
        )

    def on_step_end(
        self,
        run_id: str,
        step: str,
        status: str,
        duration_s: float,
        cache_hit: bool,
        error: str | None,
    ) -> None:
        mark = {"succeeded": "✓", "failed": "✗", "skipped": "-", "waiting": "…"}.get(status, "?")
        note = " [dim](cached)[/]" if cache_hit else ""
        timing = f" {duration_s:.2f}s" if status in ("succeeded", "failed") else ""
        self.progress.console.print(
            f"  [{_STYLE.get(status, 'white')}]{mark}[/] {escape(step)} {_status(status)}"
            f"{timing}{note}"
        )

    def on_run_end(self, run_id: str, status: str) -> None:
        self.progress.stop()


def _print_result(result: RunResult) -> None:
    counts = summarize_steps(list(result.steps.values()))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    console.print(f"run [cyan]{result.run_id}[/] {_status(result.status)} ({summary})")
    if result.status == "waiting" and result.waiting:
        w = result.waiting
        console.print(f"[yellow]waiting at step {escape(w['step'])!s}:[/] {escape(w['message'])}")
        for name, where in w.get("review", {}).items():
            console.print(f"  review {escape(name)}: {escape(where)}")
        console.print(f"  then: [bold]{escape(w['resume'])}[/]")


def _run_with_hooks(call: Any) -> RunResult:
    try:
        result: RunResult = call([RichHooks()])
    except RunFailedError as exc:
        _print_result(exc.result)
        raise
    _print_result(result)
    return result


@app.command("run")
@friendly_errors
def run_cmd(
    factory: Annotated[str, typer.Argument(help="module:function that builds the Pipeline.")],
    param: Params = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML file of parameter values.")
    ] = None,
    root: Root = Path("."),
    max_workers: Workers = None,
    executor_kind: ExecutorKind = "local",
    address: Address = None,
    verbose: Verbose = False,
) -> None:
    """Run a pipeline built by FACTORY (``package.module:function``)."""
    setup_logging(verbose)
    pipeline = import_pipeline(factory)
    values = load_config_file(config) if config else None
    params = pipeline.resolve_params(values, parse_param_overrides(param or []))
    executor = make_executor(executor_kind, address=address, max_workers=max_workers)
    _run_with_hooks(
        lambda hooks: run_pipeline(pipeline, params, root=root, executor=executor, hooks=hooks)
    )


@app.command("resume")
@friendly_errors
def resume_cmd(
    run: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="File passed as the output of the waiting callback step."),
    ] = None,
    param: Params = None,
    root: Root = Path("."),
    max_workers: Workers = None,
    executor_kind: ExecutorKind = "local",
    address: Address = None,
    verbose: Verbose = False,
) -> None:
    """Continue a waiting, failed or interrupted run from its last completed step."""
    setup_logging(verbose)
    if mapping is not None and not mapping.exists():
        raise ConfigError(f"--mapping {mapping}: file not found")
    callback = mapping.resolve() if mapping is not None else None
    cli = parse_param_overrides(param or [])
    executor = make_executor(executor_kind, address=address, max_workers=max_workers)
    _run_with_hooks(
        lambda hooks: resume_run(
            root, run, callback, cli_params=cli, executor=executor, hooks=hooks
        )
    )


@app.command("list")
@friendly_errors
def list_cmd(
    root: Root = Path("."),
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Only this pipeline.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
) -> None:
    """Recent runs, newest first."""
    table = Table(title="pipeline runs")
    table.add_column("run", no_wrap=True)
    table.add_column("pipeline")
    table.add_column("status", no_wrap=True, min_width=9)
    for col in ("started", "duration", "steps"):
        table.add_column(col)
    store = RunStore(root)
    for rec in list_runs(root, pipeline, limit):
        counts = summarize_steps(store.get_steps(rec.run_id))
        steps = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        table.add_row(
            rec.run_id,
            escape(rec.pipeline),
            _status(rec.status),
            _when(rec.started_at),
            _secs(rec.duration_s),
            steps,
        )
    out.print(table)


def _steps_table(result: RunResult) -> Table:
    table = Table(title=f"run {result.run_id} ({result.pipeline}): {result.status}")
    table.add_column("step", no_wrap=True)
    table.add_column("kind")
    table.add_column("status", no_wrap=True, min_width=9)
    for col in ("duration", "attempts", "cache"):
        table.add_column(col)
    for rec in result.steps.values():
        table.add_row(
            escape(rec.step),
            rec.kind,
            _status(rec.status),
            _secs(rec.duration_s),
            str(rec.attempts or ""),
            "hit" if rec.cache_hit else "",
        )
    return table


@app.command("status")
@friendly_errors
def status_cmd(
    run: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    root: Root = Path("."),
) -> None:
    """A run's status and its steps."""
    result = run_status(root, run)
    out.print(_steps_table(result))
    if result.error:
        out.print(f"[red]error:[/] {escape(result.error)}")
    if result.waiting:
        out.print(f"[yellow]waiting:[/] {escape(result.waiting['message'])}")
        out.print(f"  then: {escape(result.waiting['resume'])}")


@app.command("describe")
@friendly_errors
def describe_cmd(
    run: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    root: Root = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Everything recorded about a run: parameters, steps, errors with logs, lineage."""
    info = describe_run(root, run)
    if as_json:
        out.print_json(json.dumps(info, default=str))
        return
    out.print(f"[bold]run {info['run_id']}[/] pipeline {escape(info['pipeline'])}")
    out.print(f"status {_status(info['status'])}, started {info['started']}, ended {info['ended']}")
    if info["factory"]:
        out.print(f"factory {escape(info['factory'])}")
    out.print("parameters: " + escape(json.dumps(info["parameters"])))
    for event in info["history"]:
        out.print(f"  {event['at']} {event['event']}: {escape(event['detail'] or '')}")
    out.print(_steps_table(run_status(root, info["run_id"])))
    for step in info["steps"]:
        if step["error"] and step["status"] != "skipped":
            out.rule(f"[red]{escape(step['step'])}: error")
            out.print(escape(step["error"]))
            if step["traceback"]:
                out.print(escape(step["traceback"]), style="dim")
        if step["log"]:
            out.rule(f"{escape(step['step'])}: log")
            out.print(escape(step["log"]))
    if info["lineage"]:
        table = Table(title="lineage")
        for col in ("step", "direction", "name", "artefact"):
            table.add_column(col)
        for row in info["lineage"]:
            table.add_row(row["step"], row["direction"], escape(row["name"]), row["sha256"][:12])
        out.print(table)


@app.command("graph")
@friendly_errors
def graph_cmd(
    run: Annotated[
        str | None, typer.Argument(help="Draw this run's pipeline, with step status.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="mermaid or dot.")] = "mermaid",
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="module:function building the Pipeline.")
    ] = None,
    root: Root = Path("."),
) -> None:
    """Print the pipeline's DAG as Mermaid or Graphviz dot."""
    status = None
    factory = pipeline
    if run is not None:
        result = run_status(root, run)
        status = {name: rec.status for name, rec in result.steps.items()}
        factory = factory or RunStore(root).get_run(result.run_id).factory
    built = import_pipeline(factory or DEFAULT_FACTORY)
    out.print(built.graph(format=fmt, status=status), markup=False, highlight=False, end="")


export_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(export_app, name="export", help="Export a pipeline to another orchestrator.")


@export_app.command("sagemaker")
@friendly_errors
def export_sagemaker_cmd(
    pipeline: Annotated[
        str, typer.Argument(help="module:function that builds the Pipeline.")
    ] = DEFAULT_FACTORY,
    role: Annotated[str, typer.Option("--role", help="IAM role ARN the steps run as.")] = "",
    bucket: Annotated[str, typer.Option("--bucket", help="s3://BUCKET/PREFIX for data.")] = "",
    image: Annotated[str, typer.Option("--image", help="ECR URI of the image.")] = "",
    region: Annotated[str, typer.Option("--region", help="AWS region.")] = "us-east-1",
    instance_type: Annotated[
        str, typer.Option("--instance-type", help="Instance type of every step.")
    ] = "ml.m5.xlarge",
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Definition JSON to write.")
    ] = Path("pipeline.json"),
) -> None:
    """Write the SageMaker Pipelines definition of a pipeline (offline; docs/sagemaker.md)."""
    from topicstrata.pipeline.sagemaker import SageMakerTarget, export_sagemaker

    target = SageMakerTarget(
        role=role, bucket=bucket, image=image, region=region, instance_type=instance_type
    )
    target.validate()
    result = export_sagemaker(import_pipeline(pipeline), target)
    output.write_text(result.definition, encoding="utf-8")
    for name, text in result.files.items():
        (output.parent / name).write_text(text, encoding="utf-8")
        console.print(f"wrote {output.parent / name}: upload it to {bucket}/parameters/{name}")
    for where, notes in result.notes.items():
        for note in notes:
            console.print(f"[yellow]not carried over[/] {escape(where)}: {escape(note)}")
    console.print(f"wrote {output} ({len(json.loads(result.definition)['Steps'])} top-level steps)")


@app.command("step")
@friendly_errors
def step_cmd(
    name: Annotated[str, typer.Argument(help="The step to run.")],
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", help="Output directory of an earlier step (or NAME=DIR)."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", help="Where this step writes.")] = Path(
        "/opt/ml/processing/output"
    ),
    pipeline: Annotated[
        str, typer.Option("--pipeline", help="module:function building the Pipeline.")
    ] = DEFAULT_FACTORY,
    param: Params = None,
    param_file: Annotated[
        list[str] | None, typer.Option("--param-file", help="name=FILE: a JSON parameter value.")
    ] = None,
) -> None:
    """Run one step from directories: the entry point of exported SageMaker steps."""
    from topicstrata.pipeline.stepdirs import run_step_from_dirs

    built = import_pipeline(pipeline)
    values: dict[str, Any] = {}
    for item in param_file or []:
        key, _, file = item.partition("=")
        values[key] = json.loads(Path(file).read_text(encoding="utf-8"))
    cli = parse_param_overrides(param or [])
    resolved = built.resolve_params(values, cli)
    hashes = run_step_from_dirs(built, name, inputs or [], output, resolved)
    console.print(f"step {escape(name)}: wrote {', '.join(hashes)} to {output}")
