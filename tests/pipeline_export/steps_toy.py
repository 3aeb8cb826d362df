"""A small pipeline for the step entry point test (importable by child processes)."""

from topicstrata.pipeline import (
    EvaluateStep,
    ParameterInteger,
    Pipeline,
    ProcessingStep,
    TrainingStep,
)


def make(n: int) -> list[int]:
    return list(range(n))


def total(numbers: list[int], scale: int) -> dict[str, int]:
    return {"total": scale * sum(numbers)}


def score(model: dict[str, int]) -> dict[str, float | None]:
    return {"npmi": None, "total": float(model["total"])}


def build() -> Pipeline:
    n = ParameterInteger("n", default=5)
    scale = ParameterInteger("scale", default=2)
    a = ProcessingStep("make", make, {"n": n})
    b = TrainingStep("fit", total, {"numbers": a.output(), "scale": scale})
    c = EvaluateStep("score", score, {"model": b.output()})
    return Pipeline("toy", [n, scale], [a, b, c], factory="pipeline_export.steps_toy:build")
