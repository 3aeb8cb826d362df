"""Run one step of a pipeline from directories: the container entry point of an export.

``strata pipeline step NAME --input DIR... --output DIR`` is what each exported SageMaker
processing step runs; ``python -m topicstrata.pipeline.stepdirs`` is what a training job
runs (the image's ``train`` command: step, pipeline and parameters come as
hyperparameters, each input channel is an earlier step's output). A step's output
directory holds ``step.json`` (the step and its output artefacts' hashes) and the
artefacts under ``.strata/artifacts``; a later step names those directories with
``--input``. A training job's directory holding ``model.tar.gz`` is unpacked first.
``NAME=DIR`` names a directory without ``step.json``: the output of step NAME (a review's
edited mapping, the one file there), or parameter NAME mounted from S3 (the one file
there, or the directory when it holds several: a Salesforce export). A ``Path`` output
travels inside the output directory, so a later job reads the file, not a path of a
container that is gone. An evaluate step also writes ``evaluation.json``, the property
file the quality gate reads. A tuning step run as a training job is one trial of
SageMaker's search: it prints ``tuning-loss: X``, the metric the tuner reads.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from topicstrata.errors import InputError, PipelineError
from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.context import StepContext
from topicstrata.pipeline.definition import Pipeline
from topicstrata.pipeline.executor import StepTask, _split_outputs
from topicstrata.pipeline.params import Parameter
from topicstrata.pipeline.steps import CallbackStep, ConditionStep, FailStep, OutputRef, Step

if TYPE_CHECKING:
    from topicstrata.config import StrataConfig
    from topicstrata.tune.space import Choice, Range, SearchSpace

__all__ = [
    "OPT_ML_ENV",
    "TUNING_METRIC",
    "TrialResult",
    "hyperparameter_text",
    "run_step_from_dirs",
    "run_tuning_trial",
    "search_dimensions",
    "training_job_main",
    "tuning_space",
]

#: What a trial prints; the exported tuner's metric definition reads the number after it.
TUNING_METRIC = "tuning-loss"
#: The root SageMaker mounts (``/opt/ml``); tests point it elsewhere.
OPT_ML_ENV = "STRATA_OPT_ML"
#: Hyperparameters a training job gets that are not search dimensions.
_NOT_DIMENSIONS = ("strata_", "param.", "_", "sagemaker_")


def _unpack(directory: Path, scratch: Path) -> Path:
    for archive in ("model.tar.gz", "output.tar.gz"):
        if (directory / archive).is_file() and not (directory / "step.json").exists():
            target = scratch / f"unpacked-{len(list(scratch.iterdir()))}"
            with tarfile.open(directory / archive) as tar:
                tar.extractall(target, filter="data")
            return target
    return directory


def _read_inputs(
    specs: Sequence[str], scratch: Path
) -> tuple[dict[str, tuple[Path, dict[str, Any]]], dict[str, Path]]:
    stepdirs: dict[str, tuple[Path, dict[str, Any]]] = {}
    named: dict[str, Path] = {}
    for spec in specs:
        name, sep, where = spec.partition("=")
        path = Path(where if sep else spec)
        if not path.is_dir():
            raise InputError(f"--input {spec}: {path} is not a directory")
        path = _unpack(path, scratch)
        marker = path / "step.json"
        if marker.is_file():
            info = json.loads(marker.read_text(encoding="utf-8"))
            stepdirs[info["step"]] = (path, info)
        elif sep:
            files = sorted(p for p in path.rglob("*") if p.is_file())
            if not files:
                raise InputError(f"--input {spec}: {path} is empty")
            named[name] = files[0] if len(files) == 1 else path
        else:
            raise InputError(
                f"--input {spec}: no step.json there; give NAME=DIR for a step's output "
                "that is a plain file (a review's mapping) or a parameter mounted from S3"
            )
    return stepdirs, named


def _value(
    ref: OutputRef,
    step: str,
    stepdirs: Mapping[str, tuple[Path, dict[str, Any]]],
    named: Mapping[str, Path],
) -> Any:
    if ref.step in named:
        if named[ref.step].is_dir():
            raise InputError(
                f"step {step!r} reads the output of step {ref.step!r}: expected one file in "
                f"{named[ref.step]}, found several"
            )
        return named[ref.step]
    if ref.step not in stepdirs:
        raise InputError(
            f"step {step!r} reads {ref}; pass the output directory of step {ref.step!r} "
            "with --input"
        )
    root, info = stepdirs[ref.step]
    paths = info.get("paths", {})
    if ref.name in paths:
        return root / paths[ref.name]
    if ref.name not in info["outputs"]:
        raise InputError(f"{root}: step {ref.step!r} has no output {ref.name!r}")
    return ArtifactStore(root).get(info["outputs"][ref.name])


def _arguments(
    step: Step,
    inputs: Sequence[str],
    resolved: Mapping[str, Any],
    scratch: Path,
) -> dict[str, Any]:
    """The step function's keyword arguments, read from the input directories."""
    stepdirs, named = _read_inputs(inputs, scratch)
    kwargs: dict[str, Any] = {}
    for arg, ref in step.inputs.items():
        if isinstance(ref, OutputRef):
            kwargs[arg] = _value(ref, step.name, stepdirs, named)
        elif isinstance(ref, Parameter):
            kwargs[arg] = str(named[ref.name]) if ref.name in named else resolved[ref.name]
        else:
            kwargs[arg] = ref
    return kwargs


def _carry_path(value: Path, out: Path, key: str) -> str:
    """Where a Path output lies inside ``out``, copied there when it lies elsewhere."""
    source = value.resolve()
    try:
        return source.relative_to(out.resolve()).as_posix() or "."
    except ValueError:
        pass
    if not source.exists():
        raise PipelineError(f"output {key!r} is the path {value}, which does not exist")
    target = out / "paths" / key / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
    return target.relative_to(out).as_posix()


def _write_outputs(step: Step, value: Any, out: Path) -> dict[str, str]:
    task = StepTask("sagemaker", step.name, step.kind, lambda: None, {}, step.output_names, "")
    values = _split_outputs(task, value)
    paths = {k: _carry_path(v, out, k) for k, v in values.items() if isinstance(v, Path)}
    store = ArtifactStore(out)
    hashes = {k: store.put(v).sha256 for k, v in values.items() if k not in paths}
    (out / "step.json").write_text(
        json.dumps(
            {"step": step.name, "kind": step.kind, "outputs": hashes, "paths": paths}, indent=2
        ),
        encoding="utf-8",
    )
    if step.kind == "evaluate" and len(values) == 1:
        metrics = next(iter(values.values()))
        if isinstance(metrics, dict):
            npmi = metrics.get("npmi")
            gate = {
                **metrics,
                "npmi": 1.0 if npmi is None else npmi,
                "npmi_computed": npmi is not None,
            }
            (out / "evaluation.json").write_text(
                json.dumps(gate, default=str, indent=2), encoding="utf-8"
            )
    return {**hashes, **{k: f"path {p}" for k, p in paths.items()}}


def run_step_from_dirs(
    pipeline: Pipeline,
    name: str,
    inputs: Sequence[str],
    output: str | Path,
    params: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Run step ``name`` on the given input directories; write its outputs to ``output``."""
    step = pipeline.step(name)
    if isinstance(step, ConditionStep | FailStep):
        raise PipelineError(
            f"step {name!r} is a {step.kind} step: SageMaker evaluates it, no container runs it"
        )
    resolved = pipeline.resolve_params(params)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="strata-step-") as tmp:
        scratch = Path(tmp)
        kwargs = _arguments(step, inputs, resolved, scratch)
        if isinstance(step, CallbackStep):
            # Approving as is: the output is what was reviewed (as the local auto-approve).
            value: Any = next(iter(kwargs.values())) if len(kwargs) == 1 else kwargs
        else:
            assert step.func is not None
            if step.wants_context():
                kwargs["ctx"] = StepContext(name, "sagemaker", scratch / "work", step.resources)
            value = step.func(**kwargs)
        return _write_outputs(step, value, out)


# ------------------------------------------------------------------ tuning trials
def tuning_space(base: StrataConfig, tune: Mapping[str, Any] | None) -> SearchSpace:
    """The space the default pipeline's tuning step searches: ``tune.space`` or the default
    space around ``base``, the embedding backend fixed to the base one."""
    from topicstrata.tune import TuneSettings, default_space

    space = TuneSettings.from_dict(dict(tune or {})).space or default_space(base)
    return space.model_copy(update={"embedders": [base.embed.backend]})


def search_dimensions(space: SearchSpace) -> tuple[dict[str, Range | Choice], list[str]]:
    """The space's dimensions by trial parameter name, and the names left fixed (a BIRCH
    threshold's auto-or-range has no single SageMaker range)."""
    from topicstrata.tune.space import Choice, Range, RepresentationSpace

    dims: dict[str, Range | Choice] = {}
    fixed: list[str] = []
    for i, layer in enumerate(space.layers):
        for name in type(layer).model_fields:
            dim = getattr(layer, name)
            if isinstance(dim, Range | Choice):
                dims[f"l{i + 1}.{name}"] = dim
            elif dim is not None:
                fixed.append(f"l{i + 1}.{name}")
    for name in RepresentationSpace.model_fields:
        dim = getattr(space.representation, name)
        if isinstance(dim, Range | Choice):
            dims[f"repr.{name}"] = dim
    if space.split_mode is not None:
        dims["split.mode"] = space.split_mode
    return dims, fixed


def hyperparameter_text(choice: Any) -> str:
    """A categorical value as SageMaker passes it (a list such as an n-gram range: ``1-2``)."""
    return "-".join(map(str, choice)) if isinstance(choice, list | tuple) else str(choice)


def _decode(dims: Mapping[str, Range | Choice], values: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperparameter strings as the trial parameters ``suggest_config`` reads."""
    from topicstrata.tune.space import Choice, _encode

    params: dict[str, Any] = {}
    unknown = sorted(set(values) - set(dims))
    if unknown:
        raise InputError(
            f"hyperparameters {', '.join(unknown)} are not dimensions of this run's search "
            f"space ({', '.join(dims) or 'none'}); export the pipeline with the config it runs"
        )
    for name, text in values.items():
        dim = dims[name]
        if isinstance(dim, Choice):
            by_text = {hyperparameter_text(c): _encode(c) for c in dim.choices}
            if str(text) not in by_text:
                raise InputError(f"hyperparameter {name}={text!r}: not one of {list(by_text)}")
            params[name] = by_text[str(text)]
        elif dim.integer:
            params[name] = round(float(text))
        else:
            params[name] = float(text)
    return params


class TrialResult:
    """One trial's loss and the ensemble settings it scored (the step's output)."""

    def __init__(self, loss: float, ensemble: dict[str, Any], scores: dict[str, float]) -> None:
        self.loss = loss
        self.ensemble = ensemble
        self.scores = scores


def _trial(kwargs: Mapping[str, Any], values: Mapping[str, Any]) -> TrialResult:
    """Score the settings ``values`` pick (the configured ones when ``trials`` is 0)."""
    import optuna

    from topicstrata.config import StrataConfig
    from topicstrata.run import steps
    from topicstrata.tune import TuneSettings
    from topicstrata.tune.cv import cross_validate, make_folds
    from topicstrata.tune.data import sample_rows, tune_data_from_views
    from topicstrata.tune.space import base_params, suggest_config

    ensemble, table, views = kwargs["ensemble"], kwargs["table"], kwargs["views"]
    base = StrataConfig.from_dict({"ensemble": ensemble, "embed": kwargs["embed"]})
    settings = TuneSettings.from_dict(kwargs["tune"])
    space = tuning_space(base, kwargs["tune"])
    dims, _ = search_dimensions(space)
    params = _decode(dims, values)
    if int(kwargs["trials"]) > 0:
        point = {**base_params(space, base), **params}
        try:
            config = suggest_config(
                optuna.trial.FixedTrial(point), space, base, embedder=base.embed.backend
            )
        except ValueError as exc:  # FixedTrial: a dimension neither given nor in the base
            raise InputError(f"tuning trial: {exc}") from None
        chosen = config.ensemble.model_dump(mode="json")
    else:
        # Tuning is off (tune_trials=0): every trial scores the configured settings and
        # passes them on unchanged, as the local tuning step does.
        config, chosen = base, ensemble
    labels = [c for c in str(kwargs["labels"]).split(",") if c.strip()]
    label_cols = steps.label_columns(table, labels)
    rows = sample_rows(len(table), settings.sample, settings.seed)
    data = tune_data_from_views(table, views, rows, label_cols, kwargs["embeddings"], base.embed)
    folds = make_folds(len(data), settings.folds, settings.seed, settings.probe_share)
    cv = cross_validate(
        data.embedding(base.embed.backend), data.keyword_texts, data.ids, config.ensemble,
        folds, settings.weights, data.labels or None,
    )  # fmt: skip
    return TrialResult(float(cv.loss), chosen, cv.summary())


def run_tuning_trial(
    pipeline: Pipeline,
    name: str,
    inputs: Sequence[str],
    output: str | Path,
    params: Mapping[str, Any] | None,
    values: Mapping[str, Any],
) -> TrialResult:
    """One trial of SageMaker's search for the tuning step ``name``: score the settings the
    hyperparameters ``values`` pick and write them as the step's output (the tuner keeps
    the best trial's output)."""
    from topicstrata.pipeline.topic import tune_ensemble

    step = pipeline.step(name)
    if step.kind != "tuning" or step.func is not tune_ensemble:
        raise PipelineError(
            f"step {name!r} is not the default pipeline's tuning step (topic.tune_ensemble): "
            "it has no trial form; run it as a training job without search hyperparameters"
        )
    resolved = pipeline.resolve_params(params)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="strata-trial-") as tmp:
        kwargs = _arguments(step, inputs, resolved, Path(tmp))
        result = _trial(kwargs, values)
    _write_outputs(step, result.ensemble, out)
    return result


# ------------------------------------------------------------------ training jobs
def training_job_main(root: Path | None = None) -> int:
    """A SageMaker training job (the image run with ``train``), under ``root`` (default
    ``$STRATA_OPT_ML`` or ``/opt/ml``): hyperparameters from ``input/config``, one input
    channel per earlier step (named after it), outputs to ``model/``. A failure's message
    goes to ``output/failure``, where SageMaker shows it as the job's failure reason."""
    from topicstrata.pipeline.runner import import_pipeline

    base = Path(root or os.environ.get(OPT_ML_ENV) or "/opt/ml")
    try:
        hyper = json.loads((base / "input/config/hyperparameters.json").read_text("utf-8"))
        pipeline = import_pipeline(
            hyper.get("strata_pipeline", "topicstrata.pipeline.topic:build_pipeline")
        )
        cli = {k[len("param.") :]: str(v) for k, v in hyper.items() if k.startswith("param.")}
        channels = base / "input/data"
        inputs = (
            [f"{p.name}={p}" for p in sorted(channels.iterdir()) if p.is_dir()]
            if channels.is_dir()
            else []
        )
        params = pipeline.resolve_params(None, cli)
        name = hyper["strata_step"]
        if pipeline.step(name).kind == "tuning":
            values = {k: v for k, v in hyper.items() if not k.startswith(_NOT_DIMENSIONS)}
            result = run_tuning_trial(pipeline, name, inputs, base / "model", params, values)
            for key, score in sorted(result.scores.items()):
                sys.stdout.write(f"{key}: {score:.6g}\n")
            sys.stdout.write(f"{TUNING_METRIC}: {result.loss:.6g}\n")
        else:
            run_step_from_dirs(pipeline, name, inputs, base / "model", params)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        failure = base / "output" / "failure"
        try:
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(message[:1024], encoding="utf-8")
        except OSError:
            pass
        traceback.print_exc()
        return 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(training_job_main())
