"""The Pipeline: a name, typed parameters and steps, validated into a DAG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topicstrata.errors import PipelineError
from topicstrata.pipeline.dag import DAG, build_dag
from topicstrata.pipeline.graph import render_graph
from topicstrata.pipeline.params import Parameter, resolve_parameters
from topicstrata.pipeline.steps import Step

__all__ = ["Pipeline"]


class Pipeline:
    """A named DAG of steps with typed parameters.

    The graph is built and validated here, so a broken definition fails at
    construction with a message naming the step and input. ``factory`` is an
    importable ``"module:function"`` that rebuilds this pipeline; it is
    recorded with each run so ``resume_run`` (and ``strata pipeline resume``)
    can continue the run in a new process.
    """

    def __init__(
        self,
        name: str,
        parameters: Sequence[Parameter] = (),
        steps: Sequence[Step] = (),
        *,
        factory: str | None = None,
        description: str = "",
    ) -> None:
        if not name:
            raise PipelineError("a pipeline needs a name")
        names = [p.name for p in parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise PipelineError(
                f"pipeline {name!r}: parameter(s) declared twice: {', '.join(dupes)}"
            )
        if factory is not None and ":" not in factory:
            raise PipelineError(f"factory {factory!r} must look like 'package.module:function'")
        self.name = name
        self.parameters = list(parameters)
        self.factory = factory
        self.description = description
        self.dag: DAG = build_dag(list(steps), self.parameters)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={self.dag.order})"

    @property
    def steps(self) -> dict[str, Step]:
        """Steps by name (branch steps of conditions included)."""
        return self.dag.steps

    def step(self, name: str) -> Step:
        try:
            return self.dag.steps[name]
        except KeyError:
            raise PipelineError(
                f"pipeline {self.name!r} has no step {name!r}; steps: {', '.join(self.dag.order)}"
            ) from None

    def resolve_params(
        self, values: Mapping[str, Any] | None = None, cli: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Defaults, then ``values`` (YAML/Python), then ``--param`` strings; typed."""
        return resolve_parameters(self.parameters, values, cli)

    def graph(self, format: str = "mermaid", status: dict[str, str] | None = None) -> str:
        """The DAG as Mermaid (``"mermaid"``) or Graphviz (``"dot"``) text."""
        return render_graph(self.name, self.dag, self.parameters, format, status)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description of parameters and steps."""
        return {
            "name": self.name,
            "factory": self.factory,
            "parameters": [p.describe() for p in self.parameters],
            "steps": [self.dag.steps[n].describe() for n in self.dag.order],
        }
