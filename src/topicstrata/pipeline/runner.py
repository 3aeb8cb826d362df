"""Run and resume pipelines: scheduling, caching, callbacks, conditions, metadata.

The runner walks the DAG in its own thread. For each ready step it computes
the cache key (step name, code hash, the code fingerprint of the modules and
libraries the step covers, code version, output names, and the fingerprints
of its inputs: artefact hashes of upstream outputs, values of parameters and
constants), reuses the outputs when the key is in the cache
(or was completed earlier in the same run, on resume) and the artefacts
verify, and otherwise hands a :class:`StepTask` to the executor. Each
completion is committed to the run store at once, so a killed run resumes
from its last completed step.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import socket
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topicstrata._faults import fault_point
from topicstrata.errors import PipelineError
from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.codebase import code_fingerprint
from topicstrata.pipeline.definition import Pipeline
from topicstrata.pipeline.executor import Executor, LocalExecutor, StepOutcome, StepTask
from topicstrata.pipeline.hashing import hash_source_code, hash_value, stable_hash
from topicstrata.pipeline.hooks import PipelineHooks
from topicstrata.pipeline.params import Parameter, resolve_parameters
from topicstrata.pipeline.preflight import check_code_deps, check_requirements
from topicstrata.pipeline.steps import CallbackStep, ConditionStep, FailStep, OutputRef, Step
from topicstrata.pipeline.store import RunRecord, RunStore, StepRecord, pid_alive

logger = logging.getLogger(__name__)

__all__ = [
    "RunFailedError",
    "RunResult",
    "describe_run",
    "import_pipeline",
    "list_runs",
    "resume_run",
    "run_pipeline",
    "run_status",
]


@dataclass
class RunResult:
    """What a run (or resume) ended with."""

    run_id: str
    pipeline: str
    status: str
    root: Path
    steps: dict[str, StepRecord] = field(default_factory=dict)
    waiting: dict[str, Any] | None = None
    error: str | None = None

    def output(self, step: str, name: str | None = None) -> Any:
        """Load the value of ``step``'s output ``name`` (the only one when omitted)."""
        record = self.steps.get(step)
        if record is None or not record.outputs:
            raise PipelineError(f"run {self.run_id}: step {step!r} has no stored outputs")
        if name is None:
            if len(record.outputs) != 1:
                names = ", ".join(record.outputs)
                raise PipelineError(f"step {step!r} has outputs {names}; name one")
            name = next(iter(record.outputs))
        if name not in record.outputs:
            raise PipelineError(f"step {step!r} has no output {name!r}")
        return ArtifactStore(self.root).get(record.outputs[name])

    @property
    def cache_hits(self) -> list[str]:
        return [n for n, r in self.steps.items() if r.cache_hit]

    @property
    def executed(self) -> list[str]:
        """Steps whose function actually ran in this (last) invocation."""
        return [n for n, r in self.steps.items() if r.status == "succeeded" and not r.cache_hit]


class RunFailedError(PipelineError):
    """A run ended failed; ``run_id`` and ``result`` say which and how."""

    def __init__(self, message: str, result: RunResult) -> None:
        super().__init__(message)
        self.run_id = result.run_id
        self.result = result


def import_pipeline(factory: str) -> Pipeline:
    """Import ``"module:function"`` and call it to build a Pipeline."""
    module_name, sep, attr = factory.partition(":")
    if not sep:
        raise PipelineError(f"factory {factory!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import {module_name!r} for factory {factory!r}: {exc}"
        raise PipelineError(msg) from exc
    try:
        func = getattr(module, attr)
    except AttributeError:
        msg = f"module {module_name!r} has no {attr!r} (factory {factory!r})"
        raise PipelineError(msg) from None
    pipeline = func() if callable(func) else func
    if not isinstance(pipeline, Pipeline):
        kind = type(pipeline).__name__
        raise PipelineError(f"factory {factory!r} returned {kind}, not a Pipeline")
    if pipeline.factory is None:
        pipeline.factory = factory
    return pipeline


def _format_message(template: str, values: Mapping[str, Any]) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


class _Runner:
    def __init__(
        self,
        pipeline: Pipeline,
        params: dict[str, Any],
        root: Path,
        run_id: str,
        executor: Executor,
        hooks: Sequence[PipelineHooks],
        callback_outputs: Mapping[str, Any],
        previous: Mapping[str, StepRecord],
        cache: bool = True,
    ) -> None:
        self.pipeline = pipeline
        self.dag = pipeline.dag
        self.params = params
        self.root = root
        self.run_id = run_id
        self.executor = executor
        self.hooks = list(hooks)
        self.callback_outputs = dict(callback_outputs)
        self.previous = dict(previous)
        self.use_cache = cache
        self.store = RunStore(root)
        self.artifacts = ArtifactStore(root)
        self.status: dict[str, str] = {name: "pending" for name in self.dag.order}
        self.outputs: dict[str, dict[str, str]] = {}
        self.outcomes: dict[str, bool] = {}
        self.keys: dict[str, str] = {}
        self.reads: dict[str, dict[str, str]] = {}
        self.running: dict[Future[StepOutcome], str] = {}
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.failures: list[tuple[str, str]] = []
        self.waiting: dict[str, Any] | None = None

    # hooks and events -----------------------------------------------------

    def _hook(self, method: str, *args: Any) -> None:
        for hook in self.hooks:
            try:
                getattr(hook, method)(self.run_id, *args)
            except Exception:
                logger.exception("pipeline hook %s.%s failed; ignored", type(hook).__name__, method)

    def _drain_events(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            kind = event[0]
            if kind == "progress":
                self._hook("on_progress", *event[1:])
            elif kind == "retry":
                _, step, attempt, delay, error = event
                logger.warning(
                    "step %r attempt %d failed (%s); retrying in %.1f s",
                    step,
                    attempt,
                    error,
                    delay,
                )
                self._hook("on_retry", step, attempt, delay, error)
            elif kind == "log":
                _, step, level, text = event
                logging.getLogger(f"topicstrata.pipeline.step.{step}").log(level, "%s", text)

    # keys and inputs --------------------------------------------------------

    def _inputs(self, step: Step) -> dict[str, tuple[str, Any]]:
        resolved: dict[str, tuple[str, Any]] = {}
        for arg, value in step.inputs.items():
            if isinstance(value, OutputRef):
                resolved[arg] = ("artifact", self.outputs[value.step][value.name])
            elif isinstance(value, Parameter):
                resolved[arg] = ("value", self.params[value.name])
            else:
                resolved[arg] = ("value", value)
        return resolved

    def _code_key(self, step: Step) -> str:
        """The fingerprint of the code and libraries under the step (``codebase``)."""
        if step.func is None:
            return ""
        return code_fingerprint(step.func, step.code_deps).key

    def _key(self, step: Step, inputs: Mapping[str, tuple[str, Any]]) -> str:
        code = hash_source_code(step.func) if step.func is not None else ""
        fingerprint = {
            arg: [how, value if how == "artifact" else hash_value(value)]
            for arg, (how, value) in sorted(inputs.items())
        }
        return stable_hash(
            {
                "step": step.name,
                "kind": step.kind,
                "code": code,
                "deps": self._code_key(step),
                "version": step.code_version,
                "outputs": list(step.output_names),
                "inputs": fingerprint,
            }
        )

    def _load_inputs(self, inputs: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
        return {
            arg: self.artifacts.get(value) if how == "artifact" else value
            for arg, (how, value) in inputs.items()
        }

    def _usable(self, outputs: Mapping[str, str] | None, names: Sequence[str]) -> bool:
        if not outputs or set(outputs) != set(names):
            return False
        return all(self.artifacts.is_usable(sha) for sha in outputs.values())

    # recording --------------------------------------------------------------

    def _record(self, step: Step, status: str, **fields: Any) -> None:
        self.status[step.name] = status
        record = StepRecord(self.run_id, step.name, step.kind, status, **fields)
        self.store.upsert_step(record)

    def _finish(
        self,
        step: Step,
        outputs: dict[str, str],
        cache_hit: bool,
        started: float,
        attempts: int = 0,
        log: str = "",
        writes: Mapping[str, str] | None = None,
    ) -> None:
        ended = time.time()
        self.outputs[step.name] = outputs
        self.store.add_lineage(self.run_id, step.name, "read", self.reads.get(step.name, {}))
        self.store.add_lineage(self.run_id, step.name, "write", {**outputs, **(writes or {})})
        self._record(
            step,
            "succeeded",
            started_at=started,
            ended_at=ended,
            duration_s=ended - started,
            attempts=attempts,
            cache_hit=cache_hit,
            cache_key=self.keys.get(step.name),
            outputs=outputs,
            log=log or None,
        )
        if isinstance(step, ConditionStep):
            self.outcomes[step.name] = bool(self.artifacts.get(outputs["outcome"]))
            logger.info("condition %r is %s", step.name, self.outcomes[step.name])
        if cache_hit:
            self._hook("on_cache_hit", step.name)
        self._hook("on_step_end", step.name, "succeeded", ended - started, cache_hit, None)

    def _fail(self, step: Step, error: str, started: float, **fields: Any) -> None:
        ended = time.time()
        self.failures.append((step.name, error))
        self._record(
            step,
            "failed",
            started_at=started,
            ended_at=ended,
            duration_s=ended - started,
            cache_key=self.keys.get(step.name),
            error=error,
            **fields,
        )
        # INFO, not ERROR: the failure reaches the caller as RunFailedError (and the hooks).
        logger.info("step %r failed: %s", step.name, error)
        self._hook("on_step_end", step.name, "failed", ended - started, False, error)

    def _skip(self, step: Step, reason: str) -> None:
        self._record(step, "skipped", error=reason)
        logger.info("step %r skipped: %s", step.name, reason)
        self._hook("on_step_end", step.name, "skipped", 0.0, False, None)

    # scheduling -------------------------------------------------------------

    def _ready(self, name: str) -> str:
        """'wait', 'skip:<reason>' or 'go'."""
        for dep in self.dag.upstream[name]:
            state = self.status[dep]
            if state == "skipped":
                return f"skip:upstream step {dep!r} was skipped"
            if state != "succeeded":
                return "wait"
        for cond, flag in self.dag.branch_of.get(name, []):
            if self.outcomes.get(cond) is not flag:
                branch = "else" if flag is False else "if"
                return f"skip:condition {cond!r} did not select its {branch} branch"
        return "go"

    def _schedule(self) -> None:
        for name in self.dag.order:
            if self.status[name] != "pending":
                continue
            verdict = self._ready(name)
            step = self.dag.steps[name]
            if verdict.startswith("skip:"):
                self._skip(step, verdict[5:])
                continue
            if verdict == "wait" or self.failures:
                continue
            self._start(step)

    def _start(self, step: Step) -> None:
        started = time.time()
        inputs = self._inputs(step)
        key = self._key(step, inputs)
        self.keys[step.name] = key
        self.reads[step.name] = {a: v for a, (how, v) in inputs.items() if how == "artifact"}
        if isinstance(step, FailStep):
            message = _format_message(step.message, self._load_inputs(inputs))
            self._fail(step, f"FailStep: {message}", started)
            return
        prev = self.previous.get(step.name)
        if (
            prev is not None
            and prev.status == "succeeded"
            and prev.cache_key == key
            and step.name not in self.callback_outputs
            and self._usable(prev.outputs, step.output_names)
        ):
            self._finish(step, dict(prev.outputs), True, started, prev.attempts)
            return
        if isinstance(step, CallbackStep):
            self._start_callback(step, inputs, started)
            return
        if self.use_cache and step.cache.enabled:
            hit = self.store.cache_get(key, step.cache.expire_seconds)
            if hit is not None:
                if self._usable(hit, step.output_names):
                    self._finish(step, hit, True, started)
                    return
                self.store.cache_delete(key)
        if not self.executor.has_capacity(step.resources):
            return
        assert step.func is not None
        task = StepTask(
            run_id=self.run_id,
            step=step.name,
            kind=step.kind,
            func=step.func,
            inputs=inputs,
            output_names=step.output_names,
            root=str(self.root),
            wants_context=step.wants_context(),
            resources=step.resources,
            retry=step.retry,
            timeout=step.timeout,
            cache_enabled=self.use_cache and step.cache.enabled,
            cache_expire=step.cache.expire_seconds,
            mmap=self.artifacts.mmap,
            code_key=self._code_key(step),
        )
        self._record(step, "running", started_at=started, cache_key=key)
        self._hook("on_step_start", step.name, step.kind)
        fault_point("step-start")
        future = self.executor.submit(task, self.events.put)
        self.running[future] = step.name

    def _start_callback(
        self, step: CallbackStep, inputs: Mapping[str, tuple[str, Any]], started: float
    ) -> None:
        auto = step.auto_approve
        approve = bool(self.params[auto.name]) if isinstance(auto, Parameter) else bool(auto)
        if step.name in self.callback_outputs:
            sha = self.artifacts.put(self.callback_outputs.pop(step.name)).sha256
            logger.info("callback %r received its output; continuing", step.name)
            self._finish(step, {"output": sha}, False, started)
        elif approve:
            if len(inputs) == 1:
                how, value = next(iter(inputs.values()))
                sha = value if how == "artifact" else self.artifacts.put(value).sha256
            else:
                sha = self.artifacts.put(self._load_inputs(inputs)).sha256
            logger.info("callback %r auto-approved", step.name)
            self._finish(step, {"output": sha}, False, started, log="auto-approved")
        else:
            review = {
                arg: (str(self.artifacts.info(v).path) if how == "artifact" else repr(v))
                for arg, (how, v) in inputs.items()
            }
            self.waiting = {
                "step": step.name,
                "message": step.message,
                "review": review,
                "resume": f"strata pipeline resume {self.run_id} --mapping FILE",
            }
            self._record(step, "waiting", started_at=started, cache_key=self.keys[step.name])
            logger.info("run %s waits for step %r: %s", self.run_id, step.name, step.message)
            self._hook("on_step_end", step.name, "waiting", 0.0, False, None)

    def _complete(self, future: Future[StepOutcome]) -> None:
        name = self.running.pop(future)
        step = self.dag.steps[name]
        try:
            outcome = future.result()
        except Exception as exc:  # an executor bug, not a step error
            self._fail(step, f"executor error: {type(exc).__name__}: {exc}", time.time())
            return
        if outcome.ok:
            fault_point("step-end")
            if self.use_cache and step.cache.enabled:
                self.store.cache_put(self.keys[name], name, outcome.outputs)
            self._finish(
                step,
                outcome.outputs,
                False,
                outcome.started_at,
                outcome.attempts,
                outcome.log,
                outcome.writes,
            )
        else:
            self._fail(
                step,
                outcome.error or "unknown error",
                outcome.started_at,
                attempts=outcome.attempts,
                traceback=outcome.traceback,
                log=outcome.log or None,
            )

    def run(self) -> str:
        """Drive the run to an end; return the run status."""
        try:
            while True:
                self._drain_events()
                self._schedule()
                if not self.running:
                    self._drain_events()
                    if not any(
                        s == "pending" and self._ready(n) == "go" and not self.failures
                        for n, s in self.status.items()
                    ):
                        break
                    continue
                done, _ = wait(list(self.running), timeout=0.05, return_when=FIRST_COMPLETED)
                for future in done:
                    self._complete(future)
        except BaseException:
            for future, name in list(self.running.items()):
                future.cancel()
                self._record(self.dag.steps[name], "failed", error="run interrupted")
            raise
        if self.failures:
            return "failed"
        if self.waiting is not None or "waiting" in self.status.values():
            return "waiting"
        if "pending" in self.status.values():
            return "failed"
        return "succeeded"


def _execute(
    pipeline: Pipeline,
    params: dict[str, Any],
    root: Path,
    run_id: str,
    executor: Executor | None,
    hooks: Sequence[PipelineHooks] | None,
    callback_outputs: Mapping[str, Any],
    previous: Mapping[str, StepRecord],
    raise_on_failure: bool,
    cache: bool = True,
) -> RunResult:
    store = RunStore(root)
    own_executor = executor is None
    runner = _Runner(
        pipeline,
        params,
        root,
        run_id,
        executor or LocalExecutor(),
        hooks or [],
        callback_outputs,
        previous,
        cache,
    )
    runner._hook("on_run_start", pipeline.name, params)
    logger.info("run %s of pipeline %r started", run_id, pipeline.name)
    try:
        status = runner.run()
    except BaseException as exc:
        store.update_run(
            run_id, status="stopped", ended_at=time.time(), error=f"{type(exc).__name__}: {exc}"
        )
        runner._hook("on_run_end", "stopped")
        raise
    finally:
        if own_executor:
            runner.executor.shutdown()
    error = None
    if runner.failures:
        step, msg = runner.failures[0]
        error = f"step {step!r} failed: {msg}"
    elif status == "failed":
        error = "some steps could not run"
    store.update_run(
        run_id,
        status=status,
        ended_at=None if status == "waiting" else time.time(),
        error=error,
        waiting=runner.waiting if status == "waiting" else None,
    )
    runner._hook("on_run_end", status)
    logger.info("run %s ended: %s", run_id, status)
    result = _result(store, root, run_id)
    if status == "failed" and raise_on_failure:
        raise RunFailedError(
            f"run {run_id} failed: {error}\n"
            f"see `strata pipeline describe {run_id}`; after fixing, "
            f"`strata pipeline resume {run_id}` reuses the completed steps",
            result,
        )
    return result


def _result(store: RunStore, root: Path, run_id: str) -> RunResult:
    run = store.get_run(run_id)
    steps = {s.step: s for s in store.get_steps(run_id)}
    return RunResult(
        run_id=run.run_id,
        pipeline=run.pipeline,
        status=run.status,
        root=root,
        steps=steps,
        waiting=run.waiting,
        error=run.error,
    )


def run_pipeline(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    root: str | Path = ".",
    executor: Executor | None = None,
    hooks: Sequence[PipelineHooks] | None = None,
    *,
    callback_outputs: Mapping[str, Any] | None = None,
    raise_on_failure: bool = True,
    cache: bool = True,
) -> RunResult:
    """Run ``pipeline`` as a new run under ``root`` and return how it ended.

    ``params`` override parameter defaults (typed values, validated).
    ``callback_outputs`` pre-supplies outputs of callback steps by name (no
    pause). A failed run raises :class:`RunFailedError` (after recording
    everything) unless ``raise_on_failure`` is false; a run paused at a
    callback returns with status ``waiting``. With ``cache=False`` no step
    (and no ``ctx.map`` item) reads or writes the cache: everything runs, as
    a baseline or to rule the cache out; artefacts still carry values between
    steps and the run is recorded as usual.
    """
    root_path = Path(root)
    resolved = pipeline.resolve_params(params)
    check_requirements(list(pipeline.steps.values()))
    check_code_deps(list(pipeline.steps.values()))
    unknown = set(callback_outputs or {}) - set(pipeline.steps)
    if unknown:
        raise PipelineError(f"callback_outputs names unknown step(s): {', '.join(sorted(unknown))}")
    store = RunStore(root_path)
    store.mark_interrupted()
    ArtifactStore(root_path).remove_stale_temporaries()
    run_id = store.create_run(pipeline.name, resolved, pipeline.factory)
    return _execute(
        pipeline,
        resolved,
        root_path,
        run_id,
        executor,
        hooks,
        callback_outputs or {},
        {},
        raise_on_failure,
        cache,
    )


def resume_run(
    root: str | Path,
    run_id: str,
    callback_output: Any = None,
    *,
    pipeline: Pipeline | None = None,
    params: Mapping[str, Any] | None = None,
    cli_params: Mapping[str, str] | None = None,
    executor: Executor | None = None,
    hooks: Sequence[PipelineHooks] | None = None,
    raise_on_failure: bool = True,
    cache: bool = True,
) -> RunResult:
    """Continue run ``run_id``: completed steps are reused, the rest run.

    The pipeline is rebuilt from the factory recorded with the run unless
    ``pipeline`` is given. ``callback_output`` becomes the output of the step
    the run is waiting on. ``params``/``cli_params`` change parameters
    (steps they feed rerun; the others are reused). ``cache=False`` as in
    :func:`run_pipeline` (steps completed earlier in this run are still reused).
    """
    root_path = Path(root)
    store = RunStore(root_path)
    store.mark_interrupted()
    ArtifactStore(root_path).remove_stale_temporaries()
    run: RunRecord = store.get_run(run_id)
    if (
        run.status == "running"
        and run.pid is not None
        and run.pid != os.getpid()
        and run.host == socket.gethostname()
        and pid_alive(run.pid)
    ):
        raise PipelineError(
            f"run {run.run_id} is still running (process {run.pid}); wait for it or stop it first"
        )
    if pipeline is None:
        if not run.factory:
            raise PipelineError(
                f"run {run.run_id} has no recorded factory, so its pipeline cannot be rebuilt; "
                "pass pipeline=..., or give Pipeline(..., factory='module:function')"
            )
        pipeline = import_pipeline(run.factory)
    if pipeline.name != run.pipeline:
        raise PipelineError(
            f"run {run.run_id} belongs to pipeline {run.pipeline!r}, not {pipeline.name!r}"
        )
    declared = {p.name for p in pipeline.parameters}
    recorded = {k: v for k, v in run.parameters.items() if k in declared}
    resolved = resolve_parameters(pipeline.parameters, {**recorded, **(params or {})}, cli_params)
    check_requirements(list(pipeline.steps.values()))
    check_code_deps(list(pipeline.steps.values()))
    previous = {s.step: s for s in store.get_steps(run.run_id)}
    callbacks: dict[str, Any] = {}
    if callback_output is not None:
        waiting = [name for name, rec in previous.items() if rec.status == "waiting"]
        if not waiting:
            raise PipelineError(
                f"run {run.run_id} has no step waiting for a callback (status {run.status}); "
                "resume it without a callback output"
            )
        callbacks[waiting[0]] = callback_output
    store.update_run(
        run.run_id,
        status="running",
        ended_at=None,
        error=None,
        waiting=None,
        parameters=resolved,
    )
    store.update_run(run.run_id, pid=os.getpid(), host=socket.gethostname())
    store.add_event(
        run.run_id, "resumed", f"from {run.status}, process {os.getpid()} on {socket.gethostname()}"
    )
    logger.info("resuming run %s (was %s)", run.run_id, run.status)
    return _execute(
        pipeline,
        resolved,
        root_path,
        run.run_id,
        executor,
        hooks,
        callbacks,
        previous,
        raise_on_failure,
        cache,
    )


def list_runs(
    root: str | Path = ".", pipeline: str | None = None, limit: int = 50
) -> list[RunRecord]:
    """Runs under ``root``, most recent first."""
    return RunStore(root).list_runs(pipeline, limit)


def run_status(root: str | Path, run_id: str) -> RunResult:
    """The stored state of run ``run_id`` (a unique prefix is enough)."""
    store = RunStore(root)
    store.mark_interrupted()
    return _result(store, Path(root), store.get_run(run_id).run_id)


def describe_run(root: str | Path, run_id: str) -> dict[str, Any]:
    """A JSON-able account of a run: parameters, steps (with errors and logs), lineage."""
    store = RunStore(root)
    store.mark_interrupted()
    run = store.get_run(run_id)
    return {
        **run.to_dict(),
        "history": store.events(run.run_id),
        "steps": [s.to_dict() for s in store.get_steps(run.run_id)],
        "lineage": store.lineage(run.run_id),
    }
