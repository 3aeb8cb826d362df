"""Executors run step tasks; the runner decides what runs when.

A :class:`StepTask` is everything one step execution needs, all picklable:
the function (by reference), its inputs as artefact hashes or plain values,
the store root and the policies. :func:`run_attempt` is the body that runs
anywhere (thread, child process, Ray worker): it loads inputs from the
artifact store, calls the function, stores the outputs and returns their
hashes, never the values themselves. :func:`run_with_retries` applies the
retry policy around attempts. An :class:`Executor` only has to run that on
some worker and say when it has room (``has_capacity``), so a Ray executor
can be added without touching pipelines.

:class:`LocalExecutor` runs steps on a thread pool. Timeouts: a Python
thread cannot be killed, so with ``isolation="auto"`` (the default) a step
with a ``timeout`` runs in a spawned child process watched by its thread;
when the deadline passes the child is terminated and the attempt fails with
:class:`StepTimeoutError`. So does a step whose artefact inputs add up to
``process_above_bytes`` or more (large inputs: what it allocates goes back to
the OS when it ends, instead of staying in this process' allocator under every
later step). Other steps run in the thread itself (numpy and friends release
the GIL; CPU-bound Python fans out with ``ctx.map``).
``isolation="process"`` runs every step in a child process;
``isolation="thread"`` never does (a timed-out thread is abandoned, not
killed).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from topicstrata.errors import ConfigError, PipelineError
from topicstrata.fanout import check_executor
from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.context import Emit, StepContext, StepLog
from topicstrata.pipeline.steps import Resources, RetryPolicy

logger = logging.getLogger(__name__)

__all__ = [
    "AttemptResult",
    "Executor",
    "LocalExecutor",
    "StepOutcome",
    "StepTask",
    "StepTimeoutError",
    "make_executor",
    "run_attempt",
    "run_with_retries",
]


class StepTimeoutError(PipelineError, TimeoutError):
    """A step attempt ran past its timeout."""


@dataclass
class StepTask:
    """One step execution, self-contained and picklable.

    ``inputs`` maps argument names to ``("artifact", sha256)`` or
    ``("value", value)``. ``code_key`` is the step's code fingerprint, which
    ``ctx.map`` adds to every item's cache key. ``fanout`` is where ``ctx.map``
    runs its items: ``"local"`` (loky processes) or ``"ray"`` (Ray tasks).
    """

    run_id: str
    step: str
    kind: str
    func: Callable[..., Any]
    inputs: dict[str, tuple[str, Any]]
    output_names: tuple[str, ...]
    root: str
    wants_context: bool = False
    resources: Resources = field(default_factory=Resources)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    cache_enabled: bool = True
    cache_expire: float | None = None
    mmap: bool = True
    code_key: str = ""
    fanout: str = "local"


@dataclass
class AttemptResult:
    """What one attempt produced: output hashes, or an error described in text."""

    ok: bool
    outputs: dict[str, str] = field(default_factory=dict)
    writes: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    error_mro: list[str] = field(default_factory=list)
    traceback: str | None = None
    log: str = ""


@dataclass
class StepOutcome:
    """The result of a step after retries."""

    ok: bool
    attempts: int
    outputs: dict[str, str] = field(default_factory=dict)
    writes: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    log: str = ""
    started_at: float = 0.0
    ended_at: float = 0.0


def _mro_names(exc: BaseException) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__]


def _split_outputs(task: StepTask, value: Any) -> dict[str, Any]:
    names = task.output_names
    if len(names) == 1:
        return {names[0]: value}
    if isinstance(value, Mapping):
        missing = [n for n in names if n not in value]
        if missing:
            raise PipelineError(
                f"step {task.step!r} returned a mapping without output(s) {', '.join(missing)}; "
                f"declared outputs: {', '.join(names)}"
            )
        return {n: value[n] for n in names}
    if isinstance(value, tuple) and len(value) == len(names):
        return dict(zip(names, value, strict=True))
    raise PipelineError(
        f"step {task.step!r} declares outputs {', '.join(names)} and must return a mapping "
        f"or a tuple of {len(names)}; it returned {type(value).__name__}"
    )


def run_attempt(task: StepTask, emit: Emit) -> AttemptResult:
    """Run one attempt of ``task`` where this is called; never raises for step errors."""
    store = ArtifactStore(task.root, mmap=task.mmap)
    ctx: StepContext | None = None
    log = StepLog(task.step, emit)
    try:
        kwargs: dict[str, Any] = {}
        for name, (how, value) in task.inputs.items():
            kwargs[name] = store.get(value) if how == "artifact" else value
        if task.wants_context:
            ctx = StepContext(
                task.step,
                task.run_id,
                task.root,
                task.resources,
                task.cache_enabled,
                task.cache_expire,
                emit,
                task.mmap,
                task.code_key,
                task.fanout,
            )
            log = ctx.log
            kwargs["ctx"] = ctx
        value = task.func(**kwargs)
        outputs = {
            name: store.put(item).sha256 for name, item in _split_outputs(task, value).items()
        }
        return AttemptResult(
            ok=True, outputs=outputs, writes=dict(ctx.writes) if ctx else {}, log=log.excerpt()
        )
    except Exception as exc:
        return AttemptResult(
            ok=False,
            error=f"{type(exc).__name__}: {exc}",
            error_mro=_mro_names(exc),
            traceback=traceback.format_exc(),
            log=log.excerpt(),
        )


def run_with_retries(
    task: StepTask, emit: Emit, attempt_fn: Callable[[StepTask, Emit], AttemptResult]
) -> StepOutcome:
    """Call ``attempt_fn`` until it succeeds or the retry policy gives up."""
    started = time.time()
    policy = task.retry
    result = AttemptResult(ok=False, error="not run")
    attempt = 0
    logs: list[str] = []
    for attempt in range(1, policy.attempts + 1):
        result = attempt_fn(task, emit)
        if result.log:
            prefix = "" if policy.attempts == 1 else f"[attempt {attempt}]\n"
            logs.append(prefix + result.log)
        if result.ok:
            break
        if attempt < policy.attempts and policy.retries(result.error_mro):
            delay = policy.delay(attempt)
            emit(("retry", task.step, attempt, delay, result.error))
            time.sleep(delay)
            continue
        break
    return StepOutcome(
        ok=result.ok,
        attempts=attempt,
        outputs=result.outputs,
        writes=result.writes,
        error=result.error,
        traceback=result.traceback,
        log="\n".join(logs)[-20000:],
        started_at=started,
        ended_at=time.time(),
    )


def _timeout_result(task: StepTask, how: str) -> AttemptResult:
    exc = StepTimeoutError(
        f"step {task.step!r} timed out after {task.timeout:g} s ({how}); "
        "raise its timeout or make it faster"
    )
    return AttemptResult(
        ok=False, error=f"StepTimeoutError: {exc}", error_mro=_mro_names(exc), traceback=None
    )


def _shutdown_loky() -> None:
    """Stop ``ctx.map``'s worker pool: a child process waits for its children at exit,
    and idle loky workers would otherwise keep it alive for minutes."""
    import sys

    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)


class _ForwardLogs(logging.Handler):
    """Sends the library's log records in a step's child process to the parent, as step
    log events, so ``-v`` shows what a step run in a child does (e.g. the embed step's
    cache hits) as it does for a step run in this process."""

    def __init__(self, step: str, put: Emit) -> None:
        super().__init__(logging.INFO)
        self._step = step
        self._put = put

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._put(("log", self._step, record.levelno, record.getMessage()))
        except Exception:
            self.handleError(record)


def _child_main(task: StepTask, events: Any) -> None:
    """Entry point of the child process: run one attempt and send the result back."""
    library = logging.getLogger("topicstrata")
    library.setLevel(logging.INFO)
    library.addHandler(_ForwardLogs(task.step, events.put))
    try:
        result = run_attempt(task, events.put)
    finally:
        _shutdown_loky()
    events.put(("done", result))


def run_attempt_in_process(task: StepTask, emit: Emit) -> AttemptResult:
    """Run one attempt in a spawned child process, killing it at the timeout."""
    mp = multiprocessing.get_context("spawn")
    events = mp.Queue()
    try:
        pickle.dumps(task)
    except Exception as exc:
        return AttemptResult(
            ok=False,
            error=(
                f"PipelineError: step {task.step!r} cannot be sent to a child process ({exc}); "
                "define its function at the top level of an importable module, or use "
                "LocalExecutor(isolation='thread')"
            ),
            error_mro=_mro_names(PipelineError()),
        )
    proc = mp.Process(target=_child_main, args=(task, events), name=f"strata-{task.step}")
    proc.start()
    deadline = None if task.timeout is None else time.monotonic() + task.timeout
    result: AttemptResult | None = None
    try:
        while result is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return _timeout_result(task, "child process terminated")
            try:
                event = events.get(timeout=0.05 if remaining is None else min(0.05, remaining))
            except queue.Empty:
                if not proc.is_alive() and events.empty():
                    return AttemptResult(
                        ok=False,
                        error=(
                            f"PipelineError: the process running step {task.step!r} died "
                            f"(exit code {proc.exitcode})"
                        ),
                        error_mro=_mro_names(PipelineError()),
                    )
                continue
            if event[0] == "done":
                result = event[1]
            else:
                emit(event)
        return result
    finally:
        if result is not None:
            # Let the child exit on its own so its worker pools clean up after themselves.
            proc.join(30)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        proc.join(5)
        events.close()
        events.join_thread()


def input_bytes(task: StepTask) -> int:
    """Bytes of the artefacts ``task`` reads, as loaded (``ArtifactStore.loaded_size``;
    0 for one that is missing)."""
    store = ArtifactStore(task.root, mmap=task.mmap)
    total = 0
    for how, value in task.inputs.values():
        if how == "artifact":
            try:
                total += store.loaded_size(value)
            except PipelineError:  # the attempt itself reports a missing input
                continue
    return total


def run_attempt_in_thread(task: StepTask, emit: Emit) -> AttemptResult:
    """Run one attempt in the calling thread, or in a watched thread when it has a timeout."""
    if task.timeout is None:
        return run_attempt(task, emit)
    box: list[AttemptResult] = []
    worker = threading.Thread(
        target=lambda: box.append(run_attempt(task, emit)), name=f"strata-{task.step}", daemon=True
    )
    worker.start()
    worker.join(task.timeout)
    if worker.is_alive() or not box:
        logger.warning("step %r timed out; its thread cannot be killed and is abandoned", task.step)
        return _timeout_result(task, "thread abandoned")
    return box[0]


class Executor(ABC):
    """Runs step tasks somewhere. The runner schedules; the executor executes.

    ``submit`` must return a Future of :class:`StepOutcome` and may call
    ``emit`` from any thread (the runner queues events and calls hooks from
    its own thread). ``has_capacity`` lets the executor hold back ready steps
    (e.g. when their CPUs are not free).
    """

    name: str = "executor"

    def has_capacity(self, resources: Resources) -> bool:
        """Whether a step needing ``resources`` may start now."""
        return True

    @abstractmethod
    def submit(self, task: StepTask, emit: Emit) -> Future[StepOutcome]:
        """Start ``task`` (retries included) and return a future of its outcome."""

    def shutdown(self) -> None:  # noqa: B027 - optional for executors without workers
        """Release workers; the runner calls this at the end of a run it created."""


Isolation = Literal["auto", "thread", "process"]

#: ``isolation="auto"`` runs a step in a child process from this much artefact input on,
#: as loaded (``input_bytes``). A million records: the data file (480 MiB uncompressed,
#: ~2 GB once ingested), the table, the views and the embeddings are each over it; at
#: 100,000 records no step is, so small runs do not pay a child's start-up.
PROCESS_ABOVE_BYTES = 256 * 2**20


class LocalExecutor(Executor):
    """Run independent steps concurrently on this machine.

    At most ``max_workers`` steps run at once, and the CPUs (``cpus``, default
    the machine's count) and ``memory`` (bytes or "8GB"; default unlimited)
    they declare in ``Resources`` must fit; a step asking for more than the
    whole budget still runs, alone. See the module docstring for
    ``isolation`` and timeouts.
    """

    name = "local"

    def __init__(
        self,
        max_workers: int | None = None,
        cpus: float | None = None,
        memory: str | int | None = None,
        isolation: Isolation = "auto",
        process_above_bytes: int = PROCESS_ABOVE_BYTES,
    ) -> None:
        from topicstrata.pipeline.steps import parse_memory

        if isolation not in ("auto", "thread", "process"):
            raise ConfigError(f"isolation must be auto, thread or process; got {isolation!r}")
        self.max_workers = max_workers or os.cpu_count() or 1
        if self.max_workers < 1:
            raise ConfigError(f"max_workers must be >= 1, got {max_workers}")
        self.cpus = float(cpus if cpus is not None else (os.cpu_count() or 1))
        self.memory = parse_memory(memory)
        self.isolation: Isolation = isolation
        self.process_above_bytes = process_above_bytes
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._running = 0
        self._cpus_used = 0.0
        self._memory_used = 0

    def has_capacity(self, resources: Resources) -> bool:
        with self._lock:
            if self._running == 0:
                return True
            if self._running >= self.max_workers:
                return False
            if self._cpus_used + resources.cpus > self.cpus:
                return False
            need = resources.memory_bytes or 0
            return not (self.memory is not None and self._memory_used + need > self.memory)

    def _attempt_fn(self, task: StepTask) -> Callable[[StepTask, Emit], AttemptResult]:
        if self.isolation == "process" or (
            self.isolation == "auto"
            and (task.timeout is not None or input_bytes(task) >= self.process_above_bytes)
        ):
            return run_attempt_in_process
        return run_attempt_in_thread

    def submit(self, task: StepTask, emit: Emit) -> Future[StepOutcome]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="strata-step")
        need_mem = task.resources.memory_bytes or 0
        with self._lock:
            self._running += 1
            self._cpus_used += task.resources.cpus
            self._memory_used += need_mem
        future = self._pool.submit(run_with_retries, task, emit, self._attempt_fn(task))

        def release(_: Future[StepOutcome]) -> None:
            with self._lock:
                self._running -= 1
                self._cpus_used -= task.resources.cpus
                self._memory_used -= need_mem

        future.add_done_callback(release)
        return future

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def make_executor(
    kind: str = "local", *, address: str | None = None, max_workers: int | None = None
) -> Executor:
    """The executor ``--executor KIND [--address ADDR]`` asks for: ``local`` (this machine,
    the default) or ``ray`` (a Ray cluster at ``address``, else a local Ray)."""
    check_executor(kind, address)
    if kind == "ray":
        from topicstrata.pipeline.ray_executor import RayExecutor

        return RayExecutor(address=address, max_workers=max_workers)
    return LocalExecutor(max_workers=max_workers)
