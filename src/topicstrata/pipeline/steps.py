"""Step declarations: which function runs, on which inputs, under which policies.

A step wraps a plain, typed, top-level function (so it pickles by reference
and runs unchanged in a thread, a child process or on Ray). Its ``inputs``
map the function's argument names to other steps' outputs
(``ingest.outputs.table``), to parameters, or to literal constants; the DAG
is derived from those references. A step never reads files itself: the
runner loads inputs from, and saves outputs to, the artifact store.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from topicstrata.errors import ConfigError, PipelineError
from topicstrata.pipeline.params import Parameter, ParameterBoolean

__all__ = [
    "CachePolicy",
    "CallbackStep",
    "ConditionStep",
    "EvaluateStep",
    "FailStep",
    "OutputRef",
    "ProcessingStep",
    "RegisterModelStep",
    "Resources",
    "RetryPolicy",
    "Step",
    "TrainingStep",
    "TuningStep",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)\s*$", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_memory(text: str | int | None) -> int | None:
    """Bytes from ``"512MB"``, ``"2GB"``, ``"1.5GiB"`` or an int; ``None`` stays ``None``."""
    if text is None or isinstance(text, int):
        return text
    match = _MEMORY.match(text)
    if not match:
        raise ConfigError(f"memory {text!r} is not a size like '512MB' or '2GB'")
    number, unit = float(match.group(1)), match.group(2).upper().rstrip("B").rstrip("I")
    scale = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[unit]
    return int(number * scale)


def parse_duration(text: str | float | int | None) -> float | None:
    """Seconds from ``"7d"``, ``"12h30m"``, ``"90s"`` or a number; ``None`` means never."""
    if text is None or isinstance(text, int | float):
        return None if text is None else float(text)
    cleaned = text.strip().lower().replace("t", "").replace("p", "")
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise ConfigError(f"duration {text!r} is not like '7d', '12h', '30m' or '1d6h'")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


@dataclass(frozen=True)
class Resources:
    """What one execution of the step needs; the executor limits parallelism with it.

    ``cpus`` also sets how many processes ``ctx.map`` uses by default.
    ``memory`` is a size like ``"4GB"``.
    """

    cpus: float = 1.0
    memory: str | int | None = None
    gpus: float = 0.0

    @property
    def memory_bytes(self) -> int | None:
        return parse_memory(self.memory)

    def describe(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory": self.memory, "gpus": self.gpus}


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failing step: ``attempts`` in all, waiting ``backoff * multiplier**(n-1)`` s."""

    attempts: int = 1
    backoff: float = 1.0
    multiplier: float = 2.0
    exceptions: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(self.backoff * self.multiplier ** (attempt - 1))

    def exception_names(self) -> list[str]:
        return [f"{e.__module__}.{e.__qualname__}" for e in self.exceptions]

    def retries(self, error_mro: Sequence[str]) -> bool:
        """Whether an error whose class hierarchy is ``error_mro`` is retryable."""
        return any(name in error_mro for name in self.exception_names())


@dataclass(frozen=True)
class CachePolicy:
    """Whether a step's result may be reused, and for how long (``"7d"``, ``"12h"``)."""

    enabled: bool = True
    expire_after: str | float | None = None

    @property
    def expire_seconds(self) -> float | None:
        return parse_duration(self.expire_after)

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "expire_after": self.expire_after}


@dataclass(frozen=True)
class OutputRef:
    """A reference to one output of a step, by step name."""

    step: str
    name: str = "output"

    def __str__(self) -> str:
        return f"{self.step}.{self.name}"


class _Outputs:
    def __init__(self, step: Step) -> None:
        self._step = step

    def __getattr__(self, name: str) -> OutputRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._step.output(name)

    def __getitem__(self, name: str) -> OutputRef:
        return self._step.output(name)


InputValue = OutputRef | Parameter | Any


class Step:
    """Base of all steps: a name, a function, inputs, outputs and policies.

    ``outputs`` names what the function returns: with one name the return
    value is that output; with several, the function returns a mapping (or a
    tuple in the same order) holding each.

    The cache key sees the function's own source and the code fingerprint of
    the modules the step covers (``topicstrata.pipeline.codebase``):
    ``code_deps`` names the modules and packages whose code decides the
    output (``["topicstrata.layers", "topicstrata.ensemble"]``), taken as
    given; by default every first-party module reachable by imports from the
    function's module is covered. ``code_version`` is an extra string mixed
    into the key, for what no fingerprint sees (a model the function
    downloads, say).
    """

    kind: ClassVar[str] = "step"
    runs_function: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        func: Callable[..., Any] | None = None,
        inputs: Mapping[str, InputValue] | None = None,
        outputs: Sequence[str] = ("output",),
        *,
        resources: Resources | None = None,
        requirements: Iterable[str] = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        cache: CachePolicy | None = None,
        depends_on: Iterable[Step | str] = (),
        code_version: str = "",
        code_deps: Iterable[str] | None = None,
        description: str = "",
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise PipelineError(
                f"step name {name!r} is invalid; use letters, digits, '_' and '-', "
                "starting with a letter"
            )
        if self.runs_function and not callable(func):
            raise PipelineError(f"step {name!r} needs a callable func, got {func!r}")
        outs = tuple(outputs)
        if not outs or len(set(outs)) != len(outs):
            raise PipelineError(f"step {name!r}: outputs must be distinct names, got {outs!r}")
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"step {name!r}: timeout must be positive seconds, got {timeout}")
        self.name = name
        self.func = func
        self.inputs: dict[str, InputValue] = dict(inputs or {})
        self.output_names = outs
        self.resources = resources or Resources()
        self.requirements = tuple(requirements)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.cache = cache or CachePolicy()
        self.depends_on = tuple(d.name if isinstance(d, Step) else str(d) for d in depends_on)
        self.code_version = code_version
        if isinstance(code_deps, str):
            raise PipelineError(f"step {name!r}: code_deps must be a list of names, not a str")
        self.code_deps = None if code_deps is None else tuple(code_deps)
        doc = (inspect.getdoc(func) or "") if func is not None else ""
        self.description = description or doc.split("\n")[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def output(self, name: str | None = None) -> OutputRef:
        """A reference to output ``name`` (the only output when omitted)."""
        if name is None:
            if len(self.output_names) != 1:
                raise PipelineError(
                    f"step {self.name!r} has outputs {', '.join(self.output_names)}; name one"
                )
            name = self.output_names[0]
        if name not in self.output_names:
            raise PipelineError(
                f"step {self.name!r} has no output {name!r}; "
                f"its outputs are: {', '.join(self.output_names)}"
            )
        return OutputRef(self.name, name)

    @property
    def outputs(self) -> _Outputs:
        """Attribute access to output references: ``step.outputs.table``."""
        return _Outputs(self)

    @staticmethod
    def ref(step: str, output: str = "output") -> OutputRef:
        """A reference by name, for a step defined later (forward reference)."""
        return OutputRef(step, output)

    def wants_context(self) -> bool:
        """Whether the function declares a ``ctx`` argument to receive a StepContext."""
        if self.func is None:
            return False
        try:
            return "ctx" in inspect.signature(self.func).parameters
        except (TypeError, ValueError):
            return False

    def describe(self) -> dict[str, Any]:
        func = self.func
        return {
            "name": self.name,
            "kind": self.kind,
            "function": f"{func.__module__}:{func.__qualname__}" if func is not None else None,
            "inputs": {k: _describe_input(v) for k, v in self.inputs.items()},
            "outputs": list(self.output_names),
            "resources": self.resources.describe(),
            "requirements": list(self.requirements),
            "retry": {"attempts": self.retry.attempts, "backoff": self.retry.backoff},
            "timeout": self.timeout,
            "cache": self.cache.describe(),
            "code_deps": None if self.code_deps is None else list(self.code_deps),
        }


def _describe_input(value: Any) -> str:
    if isinstance(value, OutputRef):
        return str(value)
    if isinstance(value, Parameter):
        return f"param:{value.name}"
    return f"value:{value!r}"[:80]


class ProcessingStep(Step):
    """Transform data (ingest, preprocess, embed...)."""

    kind = "processing"


class TrainingStep(Step):
    """Fit a model."""

    kind = "training"


class TuningStep(Step):
    """Search hyper-parameters; runs its function like a training step for now."""

    kind = "tuning"


class EvaluateStep(Step):
    """Compute metrics about a model or data (usually feeds a ConditionStep)."""

    kind = "evaluate"


class RegisterModelStep(Step):
    """Register or publish a model; runs like a processing step, reported separately."""

    kind = "register"


class ConditionStep(Step):
    """A gate: ``predicate(**inputs) -> bool`` selects ``if_steps`` or ``else_steps``.

    Steps of the branch not taken are marked ``skipped``, as are steps that
    depend on a skipped step. Branch steps need not be listed in the pipeline's
    ``steps``; they are collected from here.
    """

    kind = "condition"

    def __init__(
        self,
        name: str,
        predicate: Callable[..., bool],
        inputs: Mapping[str, InputValue] | None = None,
        if_steps: Sequence[Step] = (),
        else_steps: Sequence[Step] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(name, predicate, inputs, ("outcome",), **kwargs)
        self.if_steps = list(if_steps)
        self.else_steps = list(else_steps)


class CallbackStep(Step):
    """Human review: the run pauses (status ``waiting``) until a callback output arrives.

    ``inputs`` are what to review; ``message`` says what to do. Resume with
    ``resume_run(root, run_id, callback_output=...)``; the callback output
    becomes this step's output. With ``auto_approve`` true (a bool or a
    ``ParameterBoolean``), the step passes its input through instead of
    waiting (the single input's value, or a dict of all inputs).
    """

    kind = "callback"
    runs_function = False

    def __init__(
        self,
        name: str,
        inputs: Mapping[str, InputValue] | None = None,
        message: str = "",
        auto_approve: bool | ParameterBoolean = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("cache", CachePolicy(enabled=False))
        super().__init__(name, None, inputs, ("output",), **kwargs)
        self.message = message or f"Review the inputs of step {name!r}, then resume the run."
        self.auto_approve = auto_approve


class FailStep(Step):
    """Stop the run as failed with ``message`` (``str.format``-ed with the inputs)."""

    kind = "fail"
    runs_function = False

    def __init__(
        self,
        name: str,
        message: str = "",
        inputs: Mapping[str, InputValue] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("cache", CachePolicy(enabled=False))
        super().__init__(name, None, inputs, ("output",), **kwargs)
        self.message = message or f"pipeline stopped by fail step {name!r}"
