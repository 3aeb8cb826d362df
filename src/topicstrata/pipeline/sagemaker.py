"""Export a pipeline as an Amazon SageMaker Pipelines definition, built with the official SDK.

The ``sagemaker`` SDK (3.x, the ``topicstrata[sagemaker]`` extra) writes the JSON through
``Pipeline(...).definition()``; this module only maps step kinds, parameters and policies
onto its classes. The export never calls AWS: the region is set, every S3 location is an
explicit ``s3://`` URI under ``--bucket`` (the session's ``default_bucket()`` would call S3),
role validation is off (``ModelTrainer`` would call IAM), ``ModelBuilder`` gets
``dependencies=None`` (the default uploads code) and telemetry is opted out through a user
config file. What has no SageMaker equivalent is returned in ``Export.notes`` and written
into the affected step's ``Description``, never dropped. See ``docs/sagemaker.md``.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topicstrata.errors import ConfigError, DependencyError, PipelineError
from topicstrata.pipeline.definition import Pipeline
from topicstrata.pipeline.params import (
    Parameter,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from topicstrata.pipeline.steps import (
    CallbackStep,
    ConditionStep,
    FailStep,
    OutputRef,
    Step,
)

__all__ = ["Export", "SageMakerTarget", "export_sagemaker", "register_condition"]

_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_PROC_IN = "/opt/ml/processing/input"
_PROC_OUT = "/opt/ml/processing/output"
#: What the default pipeline's path parameters become in a container (docs/sagemaker.md).
PATH_PARAMETERS = {"data": "input", "output": "output", "cache_dir": "none", "mapping": "none"}
_TELEMETRY_OPT_OUT = (
    "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
)


@dataclass(frozen=True)
class SageMakerTarget:
    """Where the exported pipeline runs: role, S3 prefix, image, region, instance type."""

    role: str
    bucket: str
    image: str
    region: str = "us-east-1"
    instance_type: str = "ml.m5.xlarge"
    model_package_group: str = "topicstrata"
    review_queue_url: str = "https://sqs.us-east-1.amazonaws.com/123456789012/strata-review"
    tuning_jobs: int = 8

    def validate(self) -> None:
        if not self.role:
            raise ConfigError("--role is required: the IAM role ARN SageMaker runs the steps as")
        if not _ROLE.match(self.role):
            raise ConfigError(
                f"--role {self.role!r} is not an IAM role ARN like "
                "'arn:aws:iam::123456789012:role/SageMakerExecution'"
            )
        if not self.bucket:
            raise ConfigError("--bucket is required: s3://BUCKET/PREFIX for inputs and outputs")
        if not self.bucket.startswith("s3://") or len(self.bucket.rstrip("/")) <= len("s3://"):
            raise ConfigError(f"--bucket {self.bucket!r} must look like s3://BUCKET/PREFIX")
        if not self.image:
            raise ConfigError("--image is required: the ECR URI of the image (see Dockerfile)")
        if not self.region:
            raise ConfigError("--region must not be empty")
        if self.tuning_jobs < 1:
            raise ConfigError(f"tuning_jobs must be >= 1, got {self.tuning_jobs}")

    @property
    def prefix(self) -> str:
        return self.bucket.rstrip("/")


@dataclass
class Export:
    """The definition JSON, notes on what did not map, and files to upload next to it."""

    definition: str
    notes: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


# A condition's SageMaker form: (context, condition step) -> list of SDK conditions.
ConditionForm = Callable[["_Context", ConditionStep], list[Any]]
_CONDITIONS: dict[Callable[..., Any], ConditionForm] = {}


def register_condition(predicate: Callable[..., Any], form: ConditionForm) -> None:
    """Declare the SageMaker conditions equivalent to a ConditionStep's Python ``predicate``."""
    _CONDITIONS[predicate] = form


@contextmanager
def _offline_environment(region: str) -> Iterator[None]:
    """The settings under which the SDK builds a definition without calling AWS."""
    with tempfile.TemporaryDirectory(prefix="strata-sm-") as tmp:
        config = Path(tmp) / "sagemaker-config.yaml"
        config.write_text(_TELEMETRY_OPT_OUT, encoding="utf-8")
        wanted = {
            "AWS_DEFAULT_REGION": region,
            "SAGEMAKER_VALIDATE_ROLE": "false",
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        saved = {k: os.environ.get(k) for k in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _import_sdk() -> Any:
    try:
        import sagemaker.mlops.workflow as workflow
    except ImportError as exc:
        raise DependencyError(
            "exporting to SageMaker needs the official sagemaker SDK 3.x: "
            "pip install 'topicstrata[sagemaker]'"
        ) from exc
    return workflow


def _iso_duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return f"P{days}D" + (f"T{time}" if time else "") if days else f"PT{time or '0S'}"


class _Context:
    """Builds SDK objects for one export; holds the session, parameters and notes."""

    def __init__(
        self, pipeline: Pipeline, target: SageMakerTarget, defaults: dict[str, Any]
    ) -> None:
        from sagemaker.core.workflow.pipeline_context import PipelineSession

        self.pipeline = pipeline
        self.target = target
        self.defaults = defaults
        self.session = PipelineSession()
        self.notes: dict[str, list[str]] = {}
        self.files: dict[str, str] = {}
        self.sm_params: dict[str, Any] = {}
        self.sm_steps: dict[str, Any] = {}
        self.property_files: dict[str, Any] = {}
        self.factory = pipeline.factory or ""
        self._parameters()

    def note(self, where: str, text: str) -> None:
        self.notes.setdefault(where, []).append(text)

    # parameters ---------------------------------------------------------------

    def _parameters(self) -> None:
        from sagemaker.core.workflow import parameters as smp

        for p in self.pipeline.parameters:
            role = PATH_PARAMETERS.get(p.name)
            value = self.defaults[p.name]
            if role == "input":
                default = f"{self.target.prefix}/input/{p.name}"
                self.sm_params[p.name] = smp.ParameterString(p.name, default_value=default)
                self.note(
                    f"parameter {p.name}",
                    f"a local path locally; here the S3 URI of the input (default {default})",
                )
            elif isinstance(p, ParameterBoolean):
                self.sm_params[p.name] = smp.ParameterBoolean(p.name, default_value=value)
            elif isinstance(p, ParameterInteger):
                self.sm_params[p.name] = smp.ParameterInteger(p.name, default_value=value)
            elif isinstance(p, ParameterFloat):
                self.sm_params[p.name] = smp.ParameterFloat(p.name, default_value=value)
            elif isinstance(p, ParameterString):
                self.sm_params[p.name] = smp.ParameterString(p.name, default_value=value)
            else:
                import json

                uri = f"{self.target.prefix}/parameters/{p.name}.json"
                self.sm_params[p.name] = smp.ParameterString(p.name, default_value=uri)
                self.files[f"{p.name}.json"] = json.dumps(value, indent=2, sort_keys=True)
                self.note(
                    f"parameter {p.name}",
                    f"SageMaker has no {p.type_name} parameter: a String holding the S3 URI "
                    f"of a JSON file (upload {p.name}.json, written next to the definition, "
                    f"to {uri})",
                )

    def _param_uses(self, step: Step) -> list[Parameter]:
        return [v for v in step.inputs.values() if isinstance(v, Parameter)]

    # upstream references ------------------------------------------------------

    def upstream(self, step: Step) -> list[str]:
        return sorted({v.step for v in step.inputs.values() if isinstance(v, OutputRef)})

    def output_uri(self, name: str, for_step: str) -> Any:
        local = self.pipeline.steps[name]
        sm = self.sm_steps[name]
        kind = local.kind
        if kind == "training":
            return sm.properties.ModelArtifacts.S3ModelArtifacts
        if kind == "tuning":
            bucket, _, prefix = self.target.prefix[len("s3://") :].partition("/")
            return sm.get_top_model_s3_uri(0, bucket, f"{prefix}/steps/{name}".strip("/"))
        if kind == "callback":
            return sm.properties.Outputs["output_uri"]
        if kind in ("condition", "fail", "register"):
            raise PipelineError(
                f"step {for_step!r} reads an output of {kind} step {name!r}, which has no "
                "outputs in SageMaker; read the step before it instead"
            )
        return sm.properties.ProcessingOutputConfig.Outputs["output"].S3Output.S3Uri

    # policies -----------------------------------------------------------------

    def cache(self, step: Step) -> Any:
        from sagemaker.mlops.workflow import CacheConfig

        expire = step.cache.expire_seconds
        return CacheConfig(
            enable_caching=step.cache.enabled,
            expire_after=None if expire is None else _iso_duration(expire),
        )

    def retry(self, step: Step) -> list[Any]:
        from sagemaker.mlops.workflow import (
            SageMakerJobExceptionTypeEnum,
            SageMakerJobStepRetryPolicy,
        )

        policy = step.retry
        if policy.attempts <= 1:
            return []
        names = ", ".join(e.__qualname__ for e in policy.exceptions)
        self.note(
            step.name,
            f"retry on {names} becomes retry on SageMaker job failures (internal, capacity, "
            "resource limit): SageMaker does not see Python exception types",
        )
        return [
            SageMakerJobStepRetryPolicy(
                exception_types=list(SageMakerJobExceptionTypeEnum),
                max_attempts=policy.attempts - 1,
                interval_seconds=max(1, int(policy.backoff)),
                backoff_rate=float(policy.multiplier),
            )
        ]

    def resources(self, step: Step) -> None:
        r = step.resources
        if r.gpus:
            self.note(step.name, f"asks for {r.gpus:g} GPU(s); the image is CPU-only")
        if r.memory is not None:
            self.note(
                step.name,
                f"declares memory {r.memory}: one instance type for every step "
                f"({self.target.instance_type}, --instance-type)",
            )

    def container_args(self, step: Step, output: str) -> list[Any]:
        from sagemaker.core.workflow.functions import Join

        args: list[Any] = ["--output", output]
        if self.factory:
            args += ["--pipeline", self.factory]
        for p in self._param_uses(step):
            role = PATH_PARAMETERS.get(p.name)
            if role == "input":
                # The S3 prefix is mounted as a directory: the step reads the one file in
                # it (or the directory, when it holds several: a Salesforce export).
                args += ["--input", f"{p.name}={_PROC_IN}/param-{p.name}"]
            elif role == "output":
                args += ["--param", f"{p.name}={output}"]
            elif role == "none":
                args += ["--param", f"{p.name}="]
                self.note(step.name, f"parameter {p.name} is empty in the container")
            elif p.name in self.files or f"{p.name}.json" in self.files:
                args += ["--param-file", f"{p.name}={_PROC_IN}/param-{p.name}/{p.name}.json"]
            else:
                args += ["--param", Join(on="=", values=[p.name, self.sm_params[p.name]])]
        return args

    # step builders ------------------------------------------------------------

    def description(self, step: Step) -> str:
        notes = list(self.notes.get(step.name, []))
        for p in self._param_uses(step):
            notes += [f"{p.name}: {n}" for n in self.notes.get(f"parameter {p.name}", [])]
        text = step.description or step.kind
        if notes:
            text += " | not carried over: " + "; ".join(notes)
        return text[:3000]

    def processing(self, step: Step) -> Any:
        from sagemaker.core.processing import Processor
        from sagemaker.core.shapes import (
            ProcessingInput,
            ProcessingOutput,
            ProcessingS3Input,
            ProcessingS3Output,
        )
        from sagemaker.core.workflow.properties import PropertyFile
        from sagemaker.mlops.workflow import ProcessingStep

        inputs = []
        for up in self.upstream(step):
            inputs.append(self._proc_input(up, self.output_uri(up, step.name), ProcessingInput))
        for p in self._param_uses(step):
            if PATH_PARAMETERS.get(p.name) == "input" or f"{p.name}.json" in self.files:
                inputs.append(
                    ProcessingInput(
                        input_name=f"param-{p.name}",
                        s3_input=ProcessingS3Input(
                            s3_uri=self.sm_params[p.name],
                            local_path=f"{_PROC_IN}/param-{p.name}",
                            s3_data_type="S3Prefix",
                            s3_input_mode="File",
                        ),
                    )
                )
        args = self.container_args(step, _PROC_OUT)
        for up in self.upstream(step):
            args += ["--input", f"{_PROC_IN}/{up}"]
        self.resources(step)
        processor = Processor(
            role=self.target.role,
            image_uri=self.target.image,
            instance_count=1,
            instance_type=self.target.instance_type,
            entrypoint=["strata", "pipeline", "step", step.name],
            max_runtime_in_seconds=None if step.timeout is None else int(step.timeout),
            base_job_name=f"strata-{step.name}"[:32],
            sagemaker_session=self.session,
        )
        step_args = processor.run(
            inputs=inputs,
            outputs=[
                ProcessingOutput(
                    output_name="output",
                    s3_output=ProcessingS3Output(
                        s3_uri=f"{self.target.prefix}/steps/{step.name}",
                        local_path=_PROC_OUT,
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=args,
            logs=False,
            wait=False,
        )
        property_files = []
        if step.kind == "evaluate":
            pf = PropertyFile(name="evaluation", output_name="output", path="evaluation.json")
            self.property_files[step.name] = pf
            property_files.append(pf)
        if step.kind in ("evaluate", "register"):
            self.note(step.name, f"a {step.kind} step runs as a SageMaker ProcessingStep")
        retry = self.retry(step)
        return ProcessingStep(
            step.name,
            step_args=step_args,
            description=self.description(step),
            property_files=property_files or None,
            cache_config=self.cache(step),
            depends_on=list(step.depends_on) or None,
            retry_policies=retry or None,
        )

    def _proc_input(self, name: str, uri: Any, cls: Any) -> Any:
        from sagemaker.core.shapes import ProcessingS3Input

        return cls(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri,
                local_path=f"{_PROC_IN}/{name}",
                s3_data_type="S3Prefix",
                s3_input_mode="File",
            ),
        )

    def _trainer(self, step: Step) -> Any:
        from sagemaker.train import ModelTrainer
        from sagemaker.train.configs import Compute, OutputDataConfig, StoppingCondition

        hyper: dict[str, Any] = {"strata_step": step.name}
        if self.factory:
            hyper["strata_pipeline"] = self.factory
        for p in self._param_uses(step):
            role = PATH_PARAMETERS.get(p.name)
            hyper[f"param.{p.name}"] = "" if role in ("none", "output") else self.sm_params[p.name]
            if role == "none":
                self.note(step.name, f"parameter {p.name} is empty in the container")
        self.resources(step)
        return ModelTrainer(
            training_image=self.target.image,
            role=self.target.role,
            sagemaker_session=self.session,
            base_job_name=f"strata-{step.name}"[:32].replace("_", "-"),
            compute=Compute(instance_type=self.target.instance_type, instance_count=1),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=int(step.timeout or 86400)),
            output_data_config=OutputDataConfig(
                s3_output_path=f"{self.target.prefix}/steps/{step.name}"
            ),
            hyperparameters=hyper,
        )

    def _channels(self, step: Step) -> list[Any]:
        from sagemaker.train.configs import InputData

        return [
            InputData(channel_name=up, data_source=self.output_uri(up, step.name))
            for up in self.upstream(step)
        ]

    def training(self, step: Step) -> Any:
        from sagemaker.mlops.workflow import TrainingStep

        step_args = self._trainer(step).train(input_data_config=self._channels(step))
        retry = self.retry(step)
        return TrainingStep(
            step.name,
            step_args=step_args,
            description=self.description(step),
            cache_config=self.cache(step),
            depends_on=list(step.depends_on) or None,
            retry_policies=retry or None,
        )

    def tuning(self, step: Step) -> Any:
        from sagemaker.mlops.workflow import TuningStep
        from sagemaker.train.tuner import HyperparameterTuner

        from topicstrata.pipeline.stepdirs import TUNING_METRIC

        ranges = self._search_ranges()
        self.note(
            step.name,
            f"SageMaker always runs {self.target.tuning_jobs} trial training jobs (max_jobs), "
            "whatever tune_trials says; with tune_trials=0 (tuning off) every trial scores "
            "and passes on the configured settings unchanged",
        )
        tuner = HyperparameterTuner(
            model_trainer=self._trainer(step),
            objective_metric_name=TUNING_METRIC,
            objective_type="Minimize",
            hyperparameter_ranges=ranges,
            metric_definitions=[
                {"Name": TUNING_METRIC, "Regex": TUNING_METRIC + r": ([-0-9.eE+]+)"}
            ],
            max_jobs=self.target.tuning_jobs,
            max_parallel_jobs=min(2, self.target.tuning_jobs),
            strategy="Bayesian",
        )
        step_args = tuner.tune(inputs=self._channels(step))
        retry = self.retry(step)
        return TuningStep(
            step.name,
            step_args=step_args,
            description=self.description(step),
            cache_config=self.cache(step),
            depends_on=list(step.depends_on) or None,
            retry_policies=retry or None,
        )

    def _search_ranges(self) -> dict[str, Any]:
        """The space the tuning step searches (``stepdirs.tuning_space``) for the ``config``
        default, flattened; a trial decodes the values with ``stepdirs.search_dimensions``."""
        from sagemaker.core.parameter import (
            CategoricalParameter,
            ContinuousParameter,
            IntegerParameter,
        )

        from topicstrata.config import StrataConfig
        from topicstrata.pipeline.stepdirs import (
            hyperparameter_text,
            search_dimensions,
            tuning_space,
        )
        from topicstrata.tune.space import Choice

        base = StrataConfig.from_dict(self.defaults.get("config") or {})
        dims, fixed = search_dimensions(tuning_space(base, base.tune))
        for name in fixed:
            self.note("tune", f"search dimension {name} is not a range; fixed")
        ranges: dict[str, Any] = {}
        for name, dim in dims.items():
            if isinstance(dim, Choice):
                ranges[name] = CategoricalParameter([hyperparameter_text(v) for v in dim.choices])
            elif dim.integer:
                ranges[name] = IntegerParameter(int(dim.low), int(dim.high))
            else:
                scaling = "Logarithmic" if dim.log else "Auto"
                ranges[name] = ContinuousParameter(dim.low, dim.high, scaling_type=scaling)
        return ranges

    def callback(self, step: CallbackStep) -> Any:
        from sagemaker.mlops.workflow import CallbackOutput
        from sagemaker.mlops.workflow import CallbackStep as SMCallback
        from sagemaker.mlops.workflow.callback_step import CallbackOutputTypeEnum

        queue = self.sm_params.get("review_queue_url")
        if queue is None:
            from sagemaker.core.workflow.parameters import ParameterString as SMString

            queue = SMString("review_queue_url", default_value=self.target.review_queue_url)
            self.sm_params["review_queue_url"] = queue
        inputs: dict[str, Any] = {"step": step.name, "message": step.message[:1000]}
        for up in self.upstream(step):
            inputs[f"{up}_uri"] = self.output_uri(up, step.name)
        if step.auto_approve is not False:
            self.note(
                step.name,
                "auto_approve has no SageMaker form: the step always waits for its message "
                "(an automated answerer can approve at once)",
            )
        return SMCallback(
            step.name,
            sqs_queue_url=queue,
            inputs=inputs,
            outputs=[
                CallbackOutput(output_name="output_uri", output_type=CallbackOutputTypeEnum.String)
            ],
            description=self.description(step),
            depends_on=list(step.depends_on) or None,
        )

    def fail(self, step: FailStep) -> Any:
        from sagemaker.core.workflow.functions import Join
        from sagemaker.mlops.workflow import FailStep as SMFail

        values: list[Any] = []
        for part in re.split(r"(\{\w+\})", step.message):
            name = part[1:-1] if part.startswith("{") else ""
            source = step.inputs.get(name) if name else None
            values.append(self.sm_params[source.name] if isinstance(source, Parameter) else part)
        message = Join(on="", values=[v for v in values if v != ""])
        return SMFail(step.name, error_message=message, description=self.description(step))

    def register(self, step: Step) -> Any:
        from sagemaker.mlops.workflow import ModelStep
        from sagemaker.serve.model_builder import ModelBuilder

        ups = self.upstream(step)
        if not ups:
            raise PipelineError(f"register step {step.name!r} reads no step's output: no model")
        self.note(
            step.name,
            f"its function ({step.func.__qualname__ if step.func else '?'}) does not run: "
            f"SageMaker registers {ups[0]}'s output in model package group "
            f"{self.target.model_package_group!r} instead",
        )
        builder = ModelBuilder(
            s3_model_data_url=self.output_uri(ups[0], step.name),
            image_uri=self.target.image,
            role_arn=self.target.role,
            sagemaker_session=self.session,
            dependencies=None,
            instance_type=self.target.instance_type,
        )
        step_args = builder.register(
            model_package_group_name=self.target.model_package_group,
            approval_status="PendingManualApproval",
            content_types=["application/json"],
            response_types=["application/json"],
            inference_instances=[self.target.instance_type],
            description=self.description(step)[:1000],
        )
        return ModelStep(
            step.name,
            step_args=step_args,
            depends_on=ups[1:] + list(step.depends_on) or None,
            description=self.description(step),
        )

    def condition(self, step: ConditionStep) -> Any:
        from sagemaker.mlops.workflow import ConditionStep as SMCondition

        form = _CONDITIONS.get(step.func) if step.func is not None else None
        if form is None:
            name = getattr(step.func, "__qualname__", repr(step.func))
            raise PipelineError(
                f"condition {step.name!r}: its predicate {name} has no SageMaker form; "
                "declare one with topicstrata.pipeline.sagemaker.register_condition"
            )
        return SMCondition(
            step.name,
            conditions=form(self, step),
            if_steps=[self.sm_steps[s.name] for s in step.if_steps],
            else_steps=[self.sm_steps[s.name] for s in step.else_steps],
            description=self.description(step),
        )

    def build(self, step: Step) -> Any:
        if isinstance(step, CallbackStep):
            return self.callback(step)
        if isinstance(step, FailStep):
            return self.fail(step)
        if isinstance(step, ConditionStep):
            return self.condition(step)
        if step.kind == "training":
            return self.training(step)
        if step.kind == "tuning":
            return self.tuning(step)
        if step.kind == "register":
            return self.register(step)
        if step.kind not in ("processing", "evaluate"):
            self.note(step.name, f"kind {step.kind!r} has no SageMaker step; runs as processing")
        return self.processing(step)


def _quality_gate(ctx: _Context, step: ConditionStep) -> list[Any]:
    """``quality_ok``: NPMI from the evaluation property file >= the ``min_npmi`` parameter."""
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.functions import JsonGet

    metrics, threshold = step.inputs.get("metrics"), step.inputs.get("min_npmi")
    if not isinstance(metrics, OutputRef) or metrics.step not in ctx.property_files:
        raise PipelineError(f"condition {step.name!r}: 'metrics' must come from an evaluate step")
    right = ctx.sm_params[threshold.name] if isinstance(threshold, Parameter) else threshold
    ctx.note(
        step.name,
        "a run whose NPMI cannot be computed passes locally; evaluation.json records 1.0 "
        "for it so it passes here too",
    )
    return [
        ConditionGreaterThanOrEqualTo(
            left=JsonGet(
                step_name=metrics.step,
                property_file=ctx.property_files[metrics.step],
                json_path="npmi",
            ),
            right=right,
        )
    ]


def _register_defaults() -> None:
    from topicstrata.pipeline.topic import quality_ok

    register_condition(quality_ok, _quality_gate)


def export_sagemaker(
    pipeline: Pipeline, target: SageMakerTarget, defaults: Mapping[str, Any] | None = None
) -> Export:
    """Build ``pipeline``'s SageMaker definition offline; see the module docstring.

    ``defaults`` replaces parameter defaults (typed as ``Pipeline.resolve_params`` does):
    the pipeline parameters' default values, and the ``config`` the tuning ranges are
    drawn around."""
    target.validate()
    resolved = pipeline.resolve_params(defaults)
    _register_defaults()
    # Some SDK modules create boto3 clients at import: the region must be set first.
    with _offline_environment(target.region), warnings.catch_warnings():
        # The SDK warns on every job built in a PipelineSession: that is the point here.
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")
        workflow = _import_sdk()
        ctx = _Context(pipeline, target, resolved)
        branch = set(pipeline.dag.branch_of)
        # Notes are gathered while building, so build twice: the second pass writes them
        # into each step's Description (building has no side effect outside ctx).
        for _ in range(2):
            ctx.sm_steps = {}
            ctx.property_files = {}
            # A condition's branch steps come after it in the order; build them first.
            conditions = [n for n in pipeline.dag.order if pipeline.steps[n].kind == "condition"]
            for name in pipeline.dag.order:
                if name not in conditions:
                    ctx.sm_steps[name] = ctx.build(pipeline.steps[name])
            for name in reversed(conditions):
                ctx.sm_steps[name] = ctx.build(pipeline.steps[name])
            if _ == 0:
                first_notes = {k: list(dict.fromkeys(v)) for k, v in ctx.notes.items()}
                ctx.notes = first_notes
        ctx.notes = {k: list(dict.fromkeys(v)) for k, v in ctx.notes.items()}
        sm_pipeline = workflow.Pipeline(
            name=pipeline.name,
            parameters=list(ctx.sm_params.values()),
            steps=[ctx.sm_steps[n] for n in pipeline.dag.order if n not in branch],
            sagemaker_session=ctx.session,
        )
        definition = sm_pipeline.definition()
    return Export(definition, ctx.notes, ctx.files)
