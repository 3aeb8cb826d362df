"""Top-level functions for fan-out tests: worker processes import them by name."""

from __future__ import annotations

import os
import time
from typing import Any


def square_with_pid(x: int, delay: float = 0.0) -> tuple[int, int]:
    """``x * x`` and the process that computed it, after ``delay`` seconds."""
    time.sleep(delay)
    return x * x, os.getpid()


def fail_on(x: int, bad: int) -> int:
    """``x``, unless it is ``bad``."""
    if x == bad:
        raise ValueError(f"item {x} is bad")
    return x


def preprocess_in_a_step(texts: list[str]) -> object:
    """What the preprocess step does on the Ray executor, inside its Ray task: full-mode
    preprocessing through a Ray Data actor pool (stall timeout 3 minutes)."""
    from functools import partial

    from topicstrata.pipeline.raydata import RayDataWorkers
    from topicstrata.preprocess import PreprocessConfig, preprocess

    workers = partial(RayDataWorkers, stall_timeout=180)
    return preprocess(texts, PreprocessConfig(mode="full", n_process=1), workers=workers)


class NodeEmbedder:
    """An embedder whose vector names the Ray node that encoded the text (the node id's
    first 6 hex digits, exact in a float32): which actors got work is visible."""

    dim = 1

    def encode(self, batch: list[str], batch_size: int = 64) -> object:
        import numpy as np
        import ray

        node = int(ray.get_runtime_context().get_node_id()[:6], 16)
        return np.full((len(batch), 1), node, dtype=np.float32)


def node_of(item: int) -> dict[str, object]:
    """A ``ctx.map`` item that says which Ray node ran it."""
    import ray

    return {"item": item, "node": ray.get_runtime_context().get_node_id()}


def step_and_items_nodes(n: int, ctx: Any) -> dict[str, object]:
    """A step that says where it ran and where its ``ctx.map`` items ran."""
    import ray

    items = ctx.map(node_of, {i: {"item": i} for i in range(n)}, n_jobs=n)
    return {"step": ray.get_runtime_context().get_node_id(), "items": items}


class Busy:
    """A Ray actor that only holds its CPUs."""

    def ready(self) -> bool:
        return True
