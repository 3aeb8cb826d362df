"""StepContext: what a running step may use besides its inputs.

A step function that declares a ``ctx`` argument receives one. It offers
``ctx.map`` (fan-out with one cache entry per item, run in parallel
processes), ``ctx.progress`` (reported to the pipeline hooks, never drawn
here) and ``ctx.log`` (kept as the step's log excerpt and forwarded to the
``topicstrata.pipeline.step.<name>`` logger by the runner). The context is
built where the step runs (thread, child process or a remote worker), so it
holds only picklable settings and an ``emit`` callback.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from topicstrata._faults import fault_point
from topicstrata._progress import reporting
from topicstrata.fanout import FanOut, LocalFanOut
from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.hashing import hash_source_code, hash_value, stable_hash
from topicstrata.pipeline.steps import Resources
from topicstrata.pipeline.store import RunStore

__all__ = ["Emit", "StepContext", "StepLog"]

K = TypeVar("K", bound=Hashable)
Emit = Callable[[tuple[Any, ...]], None]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _no_emit(event: tuple[Any, ...]) -> None:
    """Default sink: drop events."""


class StepLog:
    """A small logger facade: keeps the last lines as an excerpt and emits each record."""

    def __init__(self, step: str, emit: Emit = _no_emit, keep: int = 200) -> None:
        self.step = step
        self._emit = emit
        self.lines: deque[str] = deque(maxlen=keep)

    def _log(self, level: str, msg: str, *args: Any) -> None:
        text = msg % args if args else msg
        stamp = time.strftime("%H:%M:%S")
        self.lines.append(f"{stamp} {level.upper():7s} {text}")
        self._emit(("log", self.step, _LEVELS[level], text))

    def debug(self, msg: str, *args: Any) -> None:
        self._log("debug", msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        self._log("info", msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self._log("warning", msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self._log("error", msg, *args)

    def excerpt(self) -> str:
        return "\n".join(self.lines)


def _map_item(root: str, mmap: bool, func: Callable[..., Any], kwargs: Mapping[str, Any]) -> str:
    """Worker body of ``ctx.map``: run one item, store its result, return its sha256."""
    value = func(**kwargs)
    return ArtifactStore(root, mmap=mmap).put(value).sha256


def _map_value(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """Worker body of ``ctx.map`` on Ray: run one item and hand its result back.

    The item may run on another node, which need not see the run's root: the
    step's process stores the result, so artefacts stay where the driver runs.
    """
    return func(**kwargs)


class StepContext:
    """Handed to a step function that declares ``ctx``; see the module docstring."""

    def __init__(
        self,
        step: str,
        run_id: str,
        root: str | Path,
        resources: Resources | None = None,
        cache_enabled: bool = True,
        cache_expire: float | None = None,
        emit: Emit = _no_emit,
        mmap: bool = True,
        code_key: str = "",
        fanout: str = "local",
    ) -> None:
        self.step = step
        self.run_id = run_id
        self.root = str(root)
        self.resources = resources or Resources()
        self.cache_enabled = cache_enabled
        self.cache_expire = cache_expire
        self._emit = emit
        self.mmap = mmap
        self.code_key = code_key
        self.fanout = fanout
        self.log = StepLog(step, emit)
        self.writes: dict[str, str] = {}
        self.map_stats: dict[str, int] = {"hits": 0, "computed": 0}

    def progress(self, task: str, done: int, total: int | None = None) -> None:
        """Report progress of ``task`` to the hooks (the CLI draws a bar)."""
        self._emit(("progress", self.step, task, done, total))

    def _map_here(
        self, label: str, work: Mapping[int, Mapping[str, Any]]
    ) -> Iterator[tuple[int, str]]:
        """Run the items in this process; what they ``report`` shows under ``label``."""

        def inner(task: str, done: int, total: int | None) -> None:
            self.progress(f"{label}: {task}", done, total)

        for i, kwargs in work.items():
            with reporting(inner):
                sha = _map_item(**kwargs)
            yield i, sha

    def _fanout(self, n_jobs: int | None) -> FanOut:
        """Where ``map`` runs items: up to ``n_jobs`` at once (default: the step's CPUs on
        this machine; on Ray, the cluster's CPUs)."""
        if self.fanout == "ray":
            from topicstrata.raycluster import RayFanOut

            return RayFanOut(max_in_flight=n_jobs)
        return LocalFanOut(n_jobs or max(1, int(self.resources.cpus)))

    def map(
        self,
        func: Callable[..., Any],
        items: Mapping[K, Mapping[str, Any]],
        *,
        n_jobs: int | None = None,
        cache: bool | None = None,
        task: str | None = None,
    ) -> dict[K, Any]:
        """Run ``func(**kwargs)`` for every item; return ``{key: result}`` in item order.

        Each item is cached on its own, under a key made of ``func``'s source
        hash, the step's code fingerprint (``code_key``: the modules and
        libraries the step covers) and the fingerprint of its kwargs: change
        one item and only that item is recomputed. Missing items run in
        ``n_jobs`` processes (default: the step's ``resources.cpus``; with 1,
        in this process). ``func`` must be a top-level function and results
        must be storable artefacts.
        """
        store = ArtifactStore(self.root, mmap=self.mmap)
        runs = RunStore(self.root)
        use_cache = self.cache_enabled if cache is None else cache
        name = f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"
        code = hash_source_code(func)
        label = task or f"map {getattr(func, '__name__', 'func')}"
        keys = list(items)
        cache_keys = [
            stable_hash(["map", name, code, self.code_key, hash_value(dict(items[k]))])
            for k in keys
        ]
        shas: dict[int, str] = {}
        todo: list[int] = []
        for i, key in enumerate(cache_keys):
            hit = runs.cache_get(key, self.cache_expire) if use_cache else None
            if hit is not None and store.is_usable(hit["output"]):
                shas[i] = hit["output"]
            else:
                todo.append(i)
        total = len(keys)
        self.map_stats["hits"] += total - len(todo)
        self.map_stats["computed"] += len(todo)
        done = total - len(todo)
        self.progress(label, done, total)
        fanout = self._fanout(n_jobs)
        jobs = fanout.workers(len(todo))
        in_process = jobs <= 1
        results: Iterator[tuple[int, str]]
        if self.fanout == "ray" and not in_process:
            # Items may run on nodes that do not see the root: results come back to store.
            remote = {i: {"func": func, "kwargs": items[keys[i]]} for i in todo}
            results = ((i, store.put(v).sha256) for i, v in fanout.imap(_map_value, remote))
        else:
            work = {
                i: {"root": self.root, "mmap": self.mmap, "func": func, "kwargs": items[keys[i]]}
                for i in todo
            }
            results = self._map_here(label, work) if in_process else fanout.imap(_map_item, work)
        for i, sha in results:
            shas[i] = sha
            fault_point("map-item")
            if use_cache:
                runs.cache_put(cache_keys[i], f"{self.step}[{name}]", {"output": sha})
            done += 1
            self.progress(label, done, total)
        self.log.info(
            "%s: %d item(s) from cache, %d computed %s",
            label,
            total - len(todo),
            len(todo),
            "in this process" if in_process else f"in {jobs} {fanout.unit}",
        )
        out: dict[K, Any] = {}
        for i, item_key in enumerate(keys):
            self.writes[f"map:{label}:{item_key}"] = shas[i]
            out[item_key] = store.get(shas[i], verify=False)
        return out
