"""Ray: connect to a cluster (or start a bounded local one), and fan work out as Ray tasks.

``connect`` is the one place topicstrata calls ``ray.init``. With an address
(``ray://host:10001``, ``host:6379`` or ``auto``; else ``$RAY_ADDRESS``) it joins
that cluster, whose nodes must have topicstrata installed. Without one it starts
a local Ray sized to this machine: every available CPU, an object store of a
fifth of the memory (at most 8 GiB, so the steps keep the rest), no dashboard,
and the driver's ``sys.path`` for the workers, so they import what the driver
imports.

``RayFanOut`` is the ``FanOut`` protocol on Ray tasks: one task per item with
the declared CPUs and memory, at most ``max_in_flight`` submitted at once (the
items' arrays go through the object store, so not all of them at the same
time), and a wait that ends: when no item finishes for ``stall_timeout``
seconds the map fails, naming the items still running, instead of hanging.

``RayDataEncoder`` streams texts through Ray Data to an actor pool of the
embedder (``map_batches`` with ``ActorPoolStrategy``), so the model loads once
per actor, and hands the vectors back chunk by chunk, in order, for the
embedding cache to commit as they come.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, TypeVar

from topicstrata.errors import DependencyError, TopicStrataError
from topicstrata.fanout import FanOut, available_cpus

__all__ = ["RayDataEncoder", "RayFanOut", "RayStallError", "connect", "object_store_bytes"]

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

#: No item finishing for this long fails a map (seconds); per-topic fits at a million
#: records take minutes, so an hour means something is stuck, not slow.
STALL_TIMEOUT = 3600.0


class RayStallError(TopicStrataError, TimeoutError):
    """No Ray task of a map finished within the stall timeout."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise DependencyError(
            "the Ray executor needs Ray; install it with `pip install 'topicstrata[ray]'`, "
            "or run with the local executor (the default)."
        ) from exc
    return ray


def object_store_bytes() -> int:
    """Object store of a local Ray: a fifth of physical memory, between 256 MiB and 8 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        total = 8 * 2**30
    return int(min(8 * 2**30, max(256 * 2**20, total // 5)))


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """The ``ray`` module, initialised: joined to ``address`` (or ``$RAY_ADDRESS``), else a
    local Ray started here. A no-op when Ray is already initialised (e.g. in a Ray worker)."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        logger.info("connecting to the Ray cluster at %s", address)
        ray.init(address=address, log_to_driver=True)
        return ray
    cpus = num_cpus or available_cpus()
    store = object_store_bytes()
    logger.info(
        "starting a local Ray: %d CPUs, object store %d MiB, no dashboard", cpus, store >> 20
    )
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    ray.init(
        num_cpus=cpus,
        object_store_memory=store,
        include_dashboard=False,
        log_to_driver=True,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}},
    )
    return ray


def _keyed(key: Any, func: Callable[..., Any], kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
    return key, func(**kwargs)


class RayFanOut(FanOut):
    """Items as Ray tasks of ``num_cpus`` CPUs (and ``memory`` bytes, if given).

    ``max_in_flight`` bounds the tasks submitted at once (default: the cluster's
    CPUs over ``num_cpus``). ``address`` is passed to :func:`connect` when Ray is
    not initialised yet.
    """

    unit = "Ray tasks at once"

    def __init__(
        self,
        *,
        num_cpus: float = 1.0,
        memory: int | None = None,
        max_in_flight: int | None = None,
        address: str | None = None,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        self.num_cpus = num_cpus
        self.memory = memory
        self.max_in_flight = max_in_flight
        self.address = address
        self.stall_timeout = stall_timeout

    def workers(self, n_items: int) -> int:
        """Tasks in flight for a map of ``n_items`` items."""
        if self.max_in_flight is not None and self.max_in_flight > 0:
            limit = self.max_in_flight
        else:
            ray = connect(self.address)
            cpus = float(ray.cluster_resources().get("CPU", 1.0))
            limit = max(1, int(cpus // max(self.num_cpus, 1e-3)))
        return max(1, min(limit, n_items))

    def imap(
        self, func: Callable[..., Any], items: Mapping[K, Mapping[str, Any]]
    ) -> Iterator[tuple[K, Any]]:
        if not items:
            return
        ray = connect(self.address)
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "max_retries": 0}
        if self.memory:
            options["memory"] = self.memory
        task = ray.remote(_keyed).options(**options)
        limit = self.workers(len(items))
        todo = iter(items.items())
        pending: dict[Any, K] = {}

        def submit() -> None:
            for key, kwargs in todo:
                pending[task.remote(key, func, dict(kwargs))] = key
                return

        for _ in range(limit):
            submit()
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.stall_timeout)
                if not ready:
                    running = ", ".join(repr(k) for k in list(pending.values())[:8])
                    raise RayStallError(
                        f"no Ray task finished in {self.stall_timeout:g} s; still running: "
                        f"{running}. Check `ray status` for tasks that cannot be scheduled "
                        "(more CPUs or memory asked than a node has), or raise the stall timeout."
                    )
                ref = ready[0]
                del pending[ref]
                yield ray.get(ref)
                submit()
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def __repr__(self) -> str:
        return f"RayFanOut(num_cpus={self.num_cpus}, max_in_flight={self.max_in_flight})"


class _EncodeActor:
    """A Ray Data actor: the embedder, loaded once, encodes batch after batch."""

    def __init__(self, embedder: Any, batch_size: int) -> None:
        from threadpoolctl import threadpool_limits

        # Threads as a local step has them (see pipeline.ray_executor): same floats.
        self._limits = threadpool_limits(limits=available_cpus())
        self.embedder = embedder
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]], batch_size=self.batch_size)
        return {"row": batch["row"], "vector": vectors}


def _spread() -> dict[str, Any]:
    """Actors spread over the nodes (one per node), not packed onto the first."""
    return {"scheduling_strategy": "SPREAD"}


class RayDataEncoder:
    """A ``ChunkEncoder`` (``topicstrata.embed.api``) on Ray Data.

    One actor per node by default, declaring half a CPU (``num_cpus``) and
    using the node's cores for its threads, as a local step does: the step
    that iterates over the pipeline keeps its own CPUs while it waits, and on a
    small node whole-CPU actors leave nothing free, so the pipeline waits
    forever (ray issue 44687 is the same trap with read tasks). The Ray executor
    leaves that half CPU free. Every wait ends: no batch for ``stall_timeout``
    seconds fails with :class:`RayStallError`.
    """

    def __init__(
        self,
        *,
        actors: int | None = None,
        num_cpus: float | None = None,
        address: str | None = None,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        self.actors = actors
        self.num_cpus = num_cpus
        self.address = address
        self.stall_timeout = stall_timeout

    def _pool(self, ray: Any) -> tuple[int, float]:
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        cpus = [float(n.get("CPU", 0)) for n in nodes if float(n.get("CPU", 0)) > 0] or [1.0]
        return self.actors or len(cpus), self.num_cpus or 0.5

    def __call__(self, embedder: Any, chunks: list[list[str]], batch_size: int) -> Iterator[Any]:
        if not chunks:
            return
        import numpy as np
        import pandas as pd

        ray = connect(self.address)
        size, per_actor = self._pool(ray)
        texts = [t for chunk in chunks for t in chunk]
        data = ray.data.DataContext.get_current()
        data.execution_options.preserve_order = True
        data.enable_progress_bars = False
        ds = ray.data.from_pandas(pd.DataFrame({"row": np.arange(len(texts)), "text": texts}))
        ds = ds.map_batches(
            _EncodeActor,
            fn_constructor_kwargs={"embedder": embedder, "batch_size": batch_size},
            batch_size=max(batch_size, 256),
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=per_actor,
            ray_remote_args_fn=_spread,
        )
        logger.info(
            "embedding %d texts on Ray Data: %d actor(s) of %g CPUs", len(texts), size, per_actor
        )
        got: list[Any] = []
        held = 0
        sizes = iter(len(chunk) for chunk in chunks)
        want = next(sizes)
        for batch in _within(ds.iter_batches(batch_size=None, batch_format="numpy"), self):
            got.append(np.asarray(batch["vector"], dtype=np.float32))
            held += len(batch["vector"])
            while want and held >= want:
                block = np.concatenate(got)
                yield block[:want]
                rest = block[want:]
                got, held = ([rest] if len(rest) else []), len(rest)
                want = next(sizes, 0)


def _within(batches: Iterator[Any], encoder: RayDataEncoder) -> Iterator[Any]:
    """``batches``, failing when the next one takes longer than the stall timeout."""
    import queue
    import threading

    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)

    def pump() -> None:
        try:
            for batch in batches:
                box.put(("batch", batch))
            box.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(("error", exc))

    threading.Thread(target=pump, name="strata-ray-data", daemon=True).start()
    while True:
        try:
            kind, value = box.get(timeout=encoder.stall_timeout)
        except queue.Empty:
            raise RayStallError(
                f"Ray Data produced no embedding batch in {encoder.stall_timeout:g} s. Check "
                "`ray status` for actors that cannot be placed, or raise the stall timeout."
            ) from None
        if kind == "end":
            return
        if kind == "error":
            raise value
        yield value
