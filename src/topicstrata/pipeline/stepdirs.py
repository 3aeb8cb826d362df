"""Run one step of a pipeline from directories: the container entry point of an export.

``strata pipeline step NAME --input DIR... --output DIR`` is what each exported SageMaker
step runs. A step's output directory holds ``step.json`` (the step and its output
artefacts' hashes) and the artefacts under ``.strata/artifacts``; a later step names
those directories with ``--input``. A training job's directory holding ``model.tar.gz``
is unpacked first; ``NAME=DIR`` names a directory holding one file (a review's edited
mapping) as the output of step NAME. An evaluate step also writes ``evaluation.json``,
the property file the quality gate reads.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from topicstrata.errors import InputError, PipelineError
from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.context import StepContext
from topicstrata.pipeline.definition import Pipeline
from topicstrata.pipeline.executor import StepTask, _split_outputs
from topicstrata.pipeline.params import Parameter
from topicstrata.pipeline.steps import CallbackStep, ConditionStep, FailStep, OutputRef

__all__ = ["run_step_from_dirs"]


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
) -> tuple[dict[str, tuple[Path, dict[str, str]]], dict[str, Path]]:
    stepdirs: dict[str, tuple[Path, dict[str, str]]] = {}
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
            stepdirs[info["step"]] = (path, info["outputs"])
        elif sep:
            files = sorted(p for p in path.rglob("*") if p.is_file())
            if len(files) != 1:
                raise InputError(
                    f"--input {spec}: expected one file (the output of step {name!r}), "
                    f"found {len(files)}"
                )
            named[name] = files[0]
        else:
            raise InputError(
                f"--input {spec}: no step.json there; give NAME=DIR for a step's output "
                "that is a plain file (a review's mapping)"
            )
    return stepdirs, named


def _value(
    ref: OutputRef,
    step: str,
    stepdirs: Mapping[str, tuple[Path, dict[str, str]]],
    named: Mapping[str, Path],
) -> Any:
    if ref.step in named:
        return named[ref.step]
    if ref.step not in stepdirs:
        raise InputError(
            f"step {step!r} reads {ref}; pass the output directory of step {ref.step!r} "
            "with --input"
        )
    root, outputs = stepdirs[ref.step]
    if ref.name not in outputs:
        raise InputError(f"{root}: step {ref.step!r} has no output {ref.name!r}")
    return ArtifactStore(root).get(outputs[ref.name])


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
        stepdirs, named = _read_inputs(inputs, scratch)
        kwargs: dict[str, Any] = {}
        for arg, ref in step.inputs.items():
            if isinstance(ref, OutputRef):
                kwargs[arg] = _value(ref, name, stepdirs, named)
            elif isinstance(ref, Parameter):
                kwargs[arg] = resolved[ref.name]
            else:
                kwargs[arg] = ref
        if isinstance(step, CallbackStep):
            # Approving as is: the output is what was reviewed (as the local auto-approve).
            value: Any = next(iter(kwargs.values())) if len(kwargs) == 1 else kwargs
        else:
            assert step.func is not None
            if step.wants_context():
                work = scratch / "work"
                kwargs["ctx"] = StepContext(name, "sagemaker", work, step.resources)
            value = step.func(**kwargs)
        task = StepTask("sagemaker", name, step.kind, lambda: None, {}, step.output_names, "")
        values = _split_outputs(task, value)
    store = ArtifactStore(out)
    hashes = {key: store.put(item).sha256 for key, item in values.items()}
    (out / "step.json").write_text(
        json.dumps({"step": name, "kind": step.kind, "outputs": hashes}, indent=2),
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
    return hashes


def training_job_main(config: Path = Path("/opt/ml/input/config/hyperparameters.json")) -> None:
    """A SageMaker training job (the image run with ``train``): the step, pipeline and
    parameters come as hyperparameters, each input channel is an earlier step's output."""
    from topicstrata.pipeline.runner import import_pipeline

    hyper = json.loads(config.read_text(encoding="utf-8"))
    pipeline = import_pipeline(
        hyper.get("strata_pipeline", "topicstrata.pipeline.topic:build_pipeline")
    )
    cli = {k[len("param.") :]: str(v) for k, v in hyper.items() if k.startswith("param.")}
    channels = Path("/opt/ml/input/data")
    inputs = sorted(str(p) for p in channels.iterdir()) if channels.is_dir() else []
    params = pipeline.resolve_params(None, cli)
    run_step_from_dirs(pipeline, hyper["strata_step"], inputs, "/opt/ml/model", params)


if __name__ == "__main__":
    training_job_main()
