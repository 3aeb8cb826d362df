"""RayExecutor: each step attempt is a Ray task with the step's declared resources.

The runner, the run records (SQLite) and the cache decisions stay in the
driver, as with :class:`LocalExecutor`; only :func:`run_attempt` moves: a
Ray task runs it with ``num_cpus`` and ``memory`` from the step's
``Resources``, and the step's ``ctx.map`` items become Ray tasks too
(``StepTask.fanout = "ray"``), so the per-topic fits and the tuning workers
spread over the cluster. Step tasks run on the driver's node, where the
artefact store at the run's root is: the items' results come back through
Ray's object store and the step stores them, so the other nodes need not see
the root (no shared filesystem). Cache keys do not depend on the executor: a
run on Ray reuses what a local run stored, and the other way round.

A step asking for more CPUs or memory than the driver's node has is scaled
down to that node (logged), as the local executor runs an oversized step
alone, instead of waiting forever for a node that will never exist; and it
leaves half a CPU of the node free (``HEADROOM``): a step iterating over a Ray
Data pipeline (the embed step's actor pool) keeps its own CPUs while it
waits, so an actor needing them would never start. Step
timeouts cancel the task (its worker process is killed). Progress and the
library's log records reach the runner's hooks through a Ray queue.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from topicstrata.errors import PipelineError
from topicstrata.fanout import available_cpus
from topicstrata.pipeline.context import Emit
from topicstrata.pipeline.executor import (
    AttemptResult,
    Executor,
    StepOutcome,
    StepTask,
    _ForwardLogs,
    _mro_names,
    _shutdown_loky,
    _timeout_result,
    run_attempt,
    run_with_retries,
)
from topicstrata.pipeline.steps import Resources
from topicstrata.raycluster import connect

__all__ = ["RayExecutor"]

logger = logging.getLogger(__name__)

#: How often the driver collects a running step's events (seconds).
POLL = 0.2
#: CPUs of a node a step's task leaves free for the Ray Data actors it waits for.
HEADROOM = 0.5

_NOT_A_NODE = (
    "the Ray executor runs steps on the driver's node, next to the run's root, and a Ray "
    "Client driver (ray://) is not a node of the cluster. Run strata on a cluster node "
    "with --address HEAD:6379 (or auto); strata tune --executor ray takes ray:// too."
)


def _attempt_on_ray(task: StepTask, events: Any) -> AttemptResult:
    """Body of a step's Ray task: one attempt, the library's logs sent to the driver.

    Ray starts a worker with ``OMP_NUM_THREADS`` set to its first task's CPUs and
    keeps it for later tasks, so a step could find its BLAS pool at 1 thread where a
    local step has one per core: float sums then round differently, and the
    embeddings differ in their last bits from the local executor's. The step gets
    the node's CPUs for its thread pools, as it would locally.
    """
    from threadpoolctl import threadpool_limits

    library = logging.getLogger("topicstrata")
    library.setLevel(logging.INFO)
    handler = _ForwardLogs(task.step, events.put_nowait)
    library.addHandler(handler)
    try:
        with threadpool_limits(limits=available_cpus()):
            return run_attempt(task, events.put_nowait)
    finally:
        library.removeHandler(handler)
        _shutdown_loky()


class RayExecutor(Executor):
    """Run steps as Ray tasks on the cluster at ``address`` (default: a local Ray).

    ``max_workers`` bounds the steps submitted at once (default: the cluster's
    CPUs, at least 2); Ray itself holds a step back until its resources are free.
    """

    name = "ray"

    def __init__(self, address: str | None = None, max_workers: int | None = None) -> None:
        if (address or os.environ.get("RAY_ADDRESS", "")).startswith("ray://"):
            raise PipelineError(_NOT_A_NODE)
        self.address = address
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, task: StepTask, emit: Emit) -> Future[StepOutcome]:
        ray = connect(self.address)
        if self._pool is None:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            workers = self.max_workers or max(2, cpus)
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="strata-ray-step")
        task = dataclasses.replace(task, fanout="ray")
        return self._pool.submit(run_with_retries, task, emit, self._attempt)

    def _options(self, ray: Any, resources: Resources, step: str) -> dict[str, Any]:
        """Ray task options for a step's resources, on the driver's node and fitted to it."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("NodeID") == here]
        if not nodes:
            raise PipelineError(_NOT_A_NODE)
        node = nodes[0].get("Resources", {})
        max_cpus = float(node.get("CPU", 0)) or 1.0
        max_memory = float(node.get("memory", 0))
        cpus = resources.cpus
        if cpus > max_cpus:
            logger.info("step %s asks for %g CPUs; the driver's node has %g", step, cpus, max_cpus)
        # Half a CPU of the node stays free for what the step starts and waits for: a Ray
        # Data actor pool does not borrow the CPUs of the task iterating over it.
        cpus = min(cpus, max(HEADROOM, max_cpus - HEADROOM))
        options: dict[str, Any] = {
            "num_cpus": cpus,
            "max_retries": 0,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(here, soft=False),
        }
        memory = resources.memory_bytes
        if memory:
            if max_memory and memory > max_memory:
                logger.info(
                    "step %s asks for %d MiB; the driver's node has %d MiB",
                    step,
                    memory >> 20,
                    int(max_memory) >> 20,
                )
                memory = int(max_memory)
            options["memory"] = memory
        if resources.gpus:
            options["num_gpus"] = resources.gpus
        return options

    def _attempt(self, task: StepTask, emit: Emit) -> AttemptResult:
        ray = connect(self.address)
        from ray.util.queue import Queue

        events = Queue(actor_options={"num_cpus": 0})
        options = self._options(ray, task.resources, task.step)
        remote = ray.remote(_attempt_on_ray).options(**options)
        ref = remote.remote(task, events)
        deadline = None if task.timeout is None else time.monotonic() + task.timeout
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=POLL)
                _drain(events, emit)
                if ready:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    ray.cancel(ref, force=True)
                    return _timeout_result(task, "Ray task cancelled")
            try:
                result: AttemptResult = ray.get(ref)
            except Exception as exc:  # the task's worker died, or Ray could not run it
                err = PipelineError(f"the Ray task running step {task.step!r} failed: {exc}")
                return AttemptResult(
                    ok=False, error=f"PipelineError: {err}", error_mro=_mro_names(err)
                )
            _drain(events, emit)
            return result
        finally:
            ray.kill(events.actor)

    def shutdown(self) -> None:
        """Release the submitting threads; Ray itself stays up for the process' next run
        (``ray.shutdown`` runs when the process exits)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _drain(events: Any, emit: Emit) -> None:
    size = events.qsize()
    if size:
        for event in events.get_nowait_batch(size):
            emit(event)
