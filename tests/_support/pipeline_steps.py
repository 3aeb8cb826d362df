"""Top-level step functions for the pipeline tests (importable, so they pickle).

Each function that should be observed writes one file per call into a
counter folder (passed as a plain ``str`` input, so it does not change
between reruns); ``calls(counter, name)`` counts them. One file per call
keeps the count right when calls run in parallel processes.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from topicstrata._progress import report
from topicstrata.pipeline import (
    CallbackStep,
    ConditionStep,
    EvaluateStep,
    FailStep,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Pipeline,
    ProcessingStep,
    RegisterModelStep,
    StepContext,
    TrainingStep,
)


def bump(counter: str, name: str) -> None:
    folder = Path(counter)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.{uuid.uuid4().hex}").touch()


def calls(counter: str | Path, name: str) -> int:
    return len(list(Path(counter).glob(f"{name}.*")))


def make_numbers(n: int, counter: str) -> list[int]:
    bump(counter, "make")
    return list(range(n))


def scale(numbers: list[int], factor: float, counter: str) -> list[float]:
    bump(counter, "scale")
    return [x * factor for x in numbers]


def total(values: list[float], counter: str) -> float:
    bump(counter, "total")
    return float(sum(values))


def metrics(value: float) -> dict[str, float]:
    return {"total": value}


def quality_ok(metrics: dict[str, float], threshold: float) -> bool:
    return metrics["total"] >= threshold


def register(value: float, counter: str) -> str:
    bump(counter, "register")
    return f"model-{value:g}"


def flaky(counter: str, fail_times: int) -> str:
    bump(counter, "flaky")
    if calls(counter, "flaky") <= fail_times:
        raise ConnectionError("transient failure")
    return "ok"


def sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def chatty(message: str) -> str:
    """Logs through a library logger, as library code called by a step does."""
    import logging

    logging.getLogger("topicstrata.embed.api").info("library says %s", message)
    return message


def fragile(flag: str, value: float) -> float:
    if not Path(flag).exists():
        raise RuntimeError(f"flag file {flag} is missing")
    return value + 1


def apply_mapping(value: float, mapping: dict[str, Any] | Path, counter: str) -> str:
    bump(counter, "apply")
    if isinstance(mapping, Path):
        mapping = yaml.safe_load(mapping.read_text(encoding="utf-8"))
        assert isinstance(mapping, dict)
    return f"{value:g}:{mapping.get('label', 'none')}"


def split(n: int, n_topics: int) -> dict[str, list[int]]:
    return {f"t{t}": list(range(t, n, n_topics)) for t in range(n_topics)}


def fit_topic(topic: str, docs: list[int], counter: str) -> dict[str, Any]:
    bump(counter, f"fit-{topic}")
    for i in range(len(docs)):
        report("docs", i + 1, len(docs))
    return {"topic": topic, "size": len(docs), "sum": sum(docs)}


def fit_all(groups: dict[str, list[int]], counter: str, ctx: StepContext) -> dict[str, Any]:
    ctx.log.info("fitting %d topics", len(groups))
    items = {t: {"topic": t, "docs": docs, "counter": counter} for t, docs in groups.items()}
    return ctx.map(fit_topic, items)


def make_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": np.arange(n), "text": [f"doc {i}" for i in range(n)]})


def embed(frame: pd.DataFrame, counter: str) -> np.ndarray:
    bump(counter, "embed")
    return np.asarray(frame["id"].to_numpy(), dtype=np.float32).reshape(-1, 1) * 2


def norm(vectors: np.ndarray) -> float:
    return float(np.abs(vectors).sum())


def build_pipeline() -> Pipeline:
    """A small pipeline with every step kind, rebuilt by ``resume_run`` from its factory."""
    n = ParameterInteger("n", default=4)
    threshold = ParameterFloat("threshold", default=0.0)
    approve = ParameterBoolean("auto_approve", default=False)
    c = ParameterString("counter", default="counter")
    make = ProcessingStep("make", make_numbers, inputs={"n": n, "counter": c})
    train = TrainingStep("train", total, inputs={"values": make.output(), "counter": c})
    evaluate = EvaluateStep("evaluate", metrics, inputs={"value": train.output()})
    review = CallbackStep(
        "review",
        inputs={"metrics": evaluate.output()},
        message="Check the metrics and send a mapping",
        auto_approve=approve,
    )
    apply = ProcessingStep(
        "apply",
        apply_mapping,
        inputs={"value": train.output(), "mapping": review.output(), "counter": c},
    )
    reg = RegisterModelStep("register", register, inputs={"value": train.output(), "counter": c})
    fail = FailStep(
        "stop", message="total {metrics} below threshold", inputs={"metrics": evaluate.output()}
    )
    gate = ConditionStep(
        "gate",
        quality_ok,
        inputs={"metrics": evaluate.output(), "threshold": threshold},
        if_steps=[reg],
        else_steps=[fail],
    )
    return Pipeline(
        "demo",
        [n, threshold, approve, c],
        [make, train, evaluate, review, apply, gate],
        factory="_support.pipeline_steps:build_pipeline",
    )


def wait_for(flag: str, value: float) -> float:
    deadline = time.monotonic() + 60
    while not Path(flag).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{flag} never appeared")
        time.sleep(0.05)
    return value * 10


def build_slow_pipeline() -> Pipeline:
    """make -> train -> wait (until a flag file exists); for the kill-and-resume test."""
    c = ParameterString("counter", default="counter")
    flag = ParameterString("flag", default="flag")
    make = ProcessingStep("make", make_numbers, inputs={"n": 3, "counter": c})
    train = TrainingStep("train", total, inputs={"values": make.output(), "counter": c})
    wait = ProcessingStep("wait", wait_for, inputs={"flag": flag, "value": train.output()})
    return Pipeline(
        "slow",
        [c, flag],
        [make, train, wait],
        factory="_support.pipeline_steps:build_slow_pipeline",
    )


def pid_of(numbers: list[int]) -> int:
    """The process this step ran in (for the isolation tests)."""
    return os.getpid()
