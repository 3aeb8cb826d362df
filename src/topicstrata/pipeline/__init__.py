"""A small pipeline SDK: typed parameters, steps over pure functions, a cached DAG runner.

Define steps around plain top-level functions, wire them by referencing
each other's outputs, and run::

    from topicstrata.pipeline import Pipeline, ParameterInteger, ProcessingStep, run_pipeline

    n = ParameterInteger("n", default=10)
    make = ProcessingStep("make", make_numbers, inputs={"n": n})
    total = ProcessingStep("total", add_up, inputs={"numbers": make.output()})
    result = run_pipeline(Pipeline("demo", [n], [make, total]), root="work")
    result.output("total")

Results are cached by content (step code, parameters, input artefacts) under
``<root>/.strata``; runs, steps and lineage are recorded in SQLite there.
See ``docs/pipeline.md``.
"""

from __future__ import annotations

from topicstrata.pipeline.artifacts import ArtifactInfo, ArtifactStore, CorruptArtifactError
from topicstrata.pipeline.context import StepContext
from topicstrata.pipeline.dag import DAG, Edge
from topicstrata.pipeline.definition import Pipeline
from topicstrata.pipeline.executor import (
    Executor,
    LocalExecutor,
    StepOutcome,
    StepTask,
    StepTimeoutError,
    make_executor,
)
from topicstrata.pipeline.hashing import hash_source_code, hash_value
from topicstrata.pipeline.hooks import PipelineHooks
from topicstrata.pipeline.params import (
    Parameter,
    ParameterBoolean,
    ParameterDict,
    ParameterFloat,
    ParameterInteger,
    ParameterList,
    ParameterString,
    load_config_file,
    parse_param_overrides,
)
from topicstrata.pipeline.runner import (
    RunFailedError,
    RunResult,
    describe_run,
    import_pipeline,
    list_runs,
    resume_run,
    run_pipeline,
    run_status,
)
from topicstrata.pipeline.steps import (
    CachePolicy,
    CallbackStep,
    ConditionStep,
    EvaluateStep,
    FailStep,
    OutputRef,
    ProcessingStep,
    RegisterModelStep,
    Resources,
    RetryPolicy,
    Step,
    TrainingStep,
    TuningStep,
)
from topicstrata.pipeline.store import RunRecord, RunStore, StepRecord

__all__ = [
    "DAG",
    "ArtifactInfo",
    "ArtifactStore",
    "CachePolicy",
    "CallbackStep",
    "ConditionStep",
    "CorruptArtifactError",
    "Edge",
    "EvaluateStep",
    "Executor",
    "FailStep",
    "LocalExecutor",
    "OutputRef",
    "Parameter",
    "ParameterBoolean",
    "ParameterDict",
    "ParameterFloat",
    "ParameterInteger",
    "ParameterList",
    "ParameterString",
    "Pipeline",
    "PipelineHooks",
    "ProcessingStep",
    "RegisterModelStep",
    "Resources",
    "RetryPolicy",
    "RunFailedError",
    "RunRecord",
    "RunResult",
    "RunStore",
    "Step",
    "StepContext",
    "StepOutcome",
    "StepRecord",
    "StepTask",
    "StepTimeoutError",
    "TrainingStep",
    "TuningStep",
    "describe_run",
    "hash_source_code",
    "hash_value",
    "import_pipeline",
    "list_runs",
    "load_config_file",
    "make_executor",
    "parse_param_overrides",
    "resume_run",
    "run_pipeline",
    "run_status",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
