"""One protocol for fan-out work: run ``func(**kwargs)`` for every item of a mapping.

Three places fan work out: the ensemble's per-topic fits, the tuner's Optuna
workers and the pipeline context's ``ctx.map`` (which adds a cache entry per
item on top). All of them take a ``MapFn`` (``map(func, {key: kwargs}) ->
{key: result}``) and, by default, the ``FanOut`` here: ``LocalFanOut`` runs the
items in joblib's loky processes. An executor for another engine implements
``imap``; ``map`` and the ``MapFn`` call come with the base class.

``func`` must be a top-level (picklable) function; results come back to the
caller, so they should be what the caller needs, not everything the worker saw.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, TypeVar

from topicstrata.errors import ConfigError

__all__ = ["EXECUTORS", "FanOut", "LocalFanOut", "MapFn", "available_cpus", "make_fanout"]

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

#: The engines ``--executor`` names: this machine, or a Ray cluster.
EXECUTORS = ("local", "ray")

#: ``map(func, {key: kwargs}) -> {key: func(**kwargs)}``, in the items' order.
MapFn = Callable[[Callable[..., Any], Mapping[Any, Mapping[str, Any]]], dict[Any, Any]]


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks, unlike ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class FanOut(ABC):
    """Runs ``func(**kwargs)`` for each item of ``{key: kwargs}``, perhaps elsewhere."""

    #: What runs the items, for logs: "in 4 worker processes".
    unit = "workers"

    def workers(self, n_items: int) -> int:
        """Items that may run at once in a map of ``n_items`` items; ``ctx.map`` runs a
        map in its own process when this is 1."""
        return max(1, n_items)

    @abstractmethod
    def imap(
        self, func: Callable[..., Any], items: Mapping[K, Mapping[str, Any]]
    ) -> Iterator[tuple[K, Any]]:
        """Yield ``(key, func(**kwargs))`` as each item finishes (any order).

        An item that raises stops the iteration with its exception; items not
        yet started are not started.
        """

    def map(self, func: Callable[..., Any], items: Mapping[K, Mapping[str, Any]]) -> dict[K, Any]:
        """``{key: func(**kwargs)}`` in the items' order."""
        done = dict(self.imap(func, items))
        return {key: done[key] for key in items}

    def __call__(
        self, func: Callable[..., Any], items: Mapping[K, Mapping[str, Any]]
    ) -> dict[K, Any]:
        """A ``FanOut`` is a ``MapFn``."""
        return self.map(func, items)


def _keyed(key: Any, func: Callable[..., Any], kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
    return key, func(**kwargs)


class LocalFanOut(FanOut):
    """Items in this process (``n_jobs`` 1) or in up to ``n_jobs`` loky worker processes.

    ``n_jobs`` -1 means one worker per available CPU. ``max_nbytes`` is joblib's
    threshold for passing large arrays as memory maps; None (the default) pickles
    them instead, so a killed run leaves no shared-memory folder behind.
    """

    unit = "worker processes"

    def __init__(self, n_jobs: int = 1, *, max_nbytes: str | int | None = None) -> None:
        self.n_jobs = n_jobs
        self.max_nbytes = max_nbytes

    def workers(self, n_items: int) -> int:
        """Processes a map of ``n_items`` items uses: never more than items."""
        jobs = available_cpus() if self.n_jobs < 0 else self.n_jobs
        return max(1, min(jobs, n_items))

    def imap(
        self, func: Callable[..., Any], items: Mapping[K, Mapping[str, Any]]
    ) -> Iterator[tuple[K, Any]]:
        jobs = self.workers(len(items))
        if jobs == 1:
            for key, kwargs in items.items():
                yield key, func(**kwargs)
            return
        from joblib import Parallel, delayed

        logger.debug("%d item(s) in %d worker processes", len(items), jobs)
        parallel = Parallel(
            n_jobs=jobs,
            backend="loky",
            return_as="generator_unordered",
            max_nbytes=self.max_nbytes,
        )
        yield from parallel(delayed(_keyed)(key, func, kwargs) for key, kwargs in items.items())

    def __repr__(self) -> str:
        return f"LocalFanOut(n_jobs={self.n_jobs})"


def check_executor(kind: str, address: str | None = None) -> None:
    """``--executor KIND [--address ADDR]`` names an engine this build knows."""
    if kind not in EXECUTORS:
        raise ConfigError(
            f"--executor {kind!r} is not an executor; choose one of {', '.join(EXECUTORS)}."
        )
    if address and kind != "ray":
        raise ConfigError(
            f"--address {address} names a Ray cluster, but the executor is {kind}; "
            "add --executor ray, or drop --address."
        )


def make_fanout(kind: str = "local", *, n_jobs: int = 1, address: str | None = None) -> FanOut:
    """The fan-out ``--executor KIND`` asks for: ``LocalFanOut(n_jobs)``, or Ray tasks
    (``RayFanOut``, at most ``n_jobs`` at once; -1: the cluster's CPUs)."""
    check_executor(kind, address)
    if kind == "ray":
        from topicstrata.raycluster import RayFanOut

        return RayFanOut(address=address, max_in_flight=None if n_jobs < 0 else n_jobs)
    return LocalFanOut(n_jobs)
