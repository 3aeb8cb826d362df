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

The Ray Data adapters of the default pipeline's preprocessing and embedding are in
``topicstrata.pipeline.raydata``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, TypeVar

from topicstrata.errors import DependencyError, TopicStrataError
from topicstrata.fanout import FanOut, available_cpus

__all__ = ["STALL_TIMEOUT", "RayFanOut", "RayStallError", "connect", "object_store_bytes"]

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
