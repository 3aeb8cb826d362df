"""Ray Data for the default pipeline's preprocessing and embedding (``--executor ray``).

``RayDataEncoder`` streams the texts to embed through Ray Data to an actor pool of
the embedder (``from_pandas`` -> ``map_batches`` with ``ActorPoolStrategy`` ->
``iter_batches``, order preserved), so the model loads once per actor, and hands
the vectors back chunk by chunk for the embedding cache to commit as they come.
``RayDataWorkers`` does the same for preprocessing: chunks of texts to an actor
pool of spaCy pipelines. Both are used by the embed and preprocess steps when
their ``ctx.fanout`` is ``"ray"``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from topicstrata.fanout import available_cpus
from topicstrata.preprocess.run import MIN_TEXTS_PER_WORKER, ChunkWorkers
from topicstrata.raycluster import RayStallError, connect

__all__ = ["RayDataEncoder", "RayDataWorkers"]

logger = logging.getLogger(__name__)

#: No batch from a Ray Data stage for this long fails the step (seconds): a batch is a
#: chunk of texts, seconds to a minute of work, plus the actors' start the first time.
STALL_TIMEOUT = 600.0


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
        data = ray.data.DataContext.get_current()
        data.execution_options.preserve_order = True
        data.enable_progress_bars = False
        # Blocks go out once every actor is up, not all to whichever started first.
        data.wait_for_min_actors_s = int(self.stall_timeout)
        # One block per chunk: a single block goes to a single actor, and the others
        # (one per node; Ray Data spreads actors over the nodes by default) sit idle.
        starts = np.cumsum([0] + [len(chunk) for chunk in chunks])
        ds = ray.data.from_pandas(
            [
                pd.DataFrame({"row": np.arange(start, start + len(chunk)), "text": chunk})
                for start, chunk in zip(starts, chunks, strict=False)
            ]
        )
        ds = ds.map_batches(
            _EncodeActor,
            fn_constructor_kwargs={"embedder": embedder, "batch_size": batch_size},
            batch_size=max(batch_size, 256),
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=per_actor,
        )
        logger.info(
            "embedding %d texts on Ray Data: %d actor(s) of %g CPUs",
            int(starts[-1]),
            size,
            per_actor,
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


def _within(batches: Iterator[Any], encoder: RayDataEncoder | RayDataWorkers) -> Iterator[Any]:
    """``batches``, failing when the next one takes longer than the stall timeout.

    A thread pulls from Ray Data; when the caller stops early (the entity sample
    scan stops once it has read enough) or fails, the thread stops too and the
    dataset's execution is shut down, instead of blocking forever on a full queue.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for batch in batches:
                if not put(("batch", batch)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=pump, name="strata-ray-data", daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, value = box.get(timeout=encoder.stall_timeout)
            except queue.Empty:
                raise RayStallError(
                    f"Ray Data produced no batch in {encoder.stall_timeout:g} s. Check "
                    "`ray status` for actors that cannot be placed, or raise the stall timeout."
                ) from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


class _ViewActor:
    """A Ray Data actor: one spaCy pipeline (``ViewMaker``), loaded once, runs ``task``
    on chunk after chunk (one chunk per batch)."""

    def __init__(self, config: Any, task: str, args: tuple[Any, ...]) -> None:
        from topicstrata.preprocess.views import ViewMaker

        self.maker = ViewMaker(config)
        self.task = task
        self.args = args

    def __call__(self, batch: Any) -> Any:
        import pickle

        import pandas as pd

        results = [
            # Pickled: a task's results (views, spaCy's readings) are not Arrow columns.
            pickle.dumps(getattr(self.maker, self.task)(list(texts), *self.args))
            for texts in batch["texts"]
        ]
        return pd.DataFrame({"i": batch["i"].to_numpy(), "result": results})


class RayDataWorkers(ChunkWorkers):
    """Preprocessing's ``ChunkWorkers`` on Ray Data: an actor pool of spaCy pipelines.

    As many actors as the cluster has CPUs (and the input pays for: small inputs stay
    in this process, as locally), each declaring a quarter CPU: spaCy uses one core per
    actor, and the step waiting on the pool keeps its own CPUs (see ``RayDataEncoder``).
    Results come back in chunk order.
    """

    def __init__(
        self,
        config: Any,
        n_texts: int,
        *,
        address: str | None = None,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        super().__init__(config, n_texts)
        ray = connect(address)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.n_workers = min(cpus, n_texts // MIN_TEXTS_PER_WORKER[config.mode])
        self.stall_timeout = stall_timeout

    def __enter__(self) -> RayDataWorkers:
        if self.n_workers > 1:
            logger.info("preprocessing on Ray Data: up to %d actor(s)", self.n_workers)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(
        self, task: str, chunks: Iterable[Sequence[str]], *args: Any
    ) -> Iterator[tuple[Sequence[str], list[Any]]]:
        if self.n_workers <= 1:
            yield from super().map(task, chunks, *args)
            return
        import pickle

        import pandas as pd

        ray = connect()
        todo = list(chunks)
        if not todo:
            return
        data = ray.data.DataContext.get_current()
        data.execution_options.preserve_order = True
        data.enable_progress_bars = False
        # Blocks go out once every actor is up, not all to whichever started first.
        data.wait_for_min_actors_s = int(self.stall_timeout)
        # One block per chunk, made here: a repartition would be an all-to-all stage whose
        # 1-CPU tasks never start while this step and the actors hold the CPUs.
        blocks = [pd.DataFrame({"i": [i], "texts": [list(c)]}) for i, c in enumerate(todo)]
        ds = ray.data.from_pandas(blocks)
        ds = ds.map_batches(
            _ViewActor,
            fn_constructor_kwargs={"config": self.config, "task": task, "args": args},
            batch_size=1,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=self.n_workers),
            num_cpus=0.25,
        )
        for batch in _within(ds.iter_batches(batch_size=None, batch_format="pandas"), self):
            for i, result in zip(batch["i"], batch["result"], strict=True):
                yield todo[int(i)], pickle.loads(result)
