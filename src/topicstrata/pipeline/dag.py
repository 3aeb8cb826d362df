"""The step graph, derived from input references; validated once.

Edges come from data (an input referencing another step's output), from
``depends_on`` and from condition branches (a branch step runs after its
condition). Validation names the step and the input at fault: unknown
steps, outputs or parameters, arguments the function does not take or
lacks, duplicate names and cycles.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field

from topicstrata.errors import PipelineError
from topicstrata.pipeline.params import Parameter
from topicstrata.pipeline.steps import ConditionStep, OutputRef, Step

__all__ = ["DAG", "Edge", "build_dag", "collect_steps"]


@dataclass(frozen=True)
class Edge:
    """``source`` must finish before ``target``; ``label`` says why."""

    source: str
    target: str
    label: str
    kind: str = "data"  # data | order | if | else


@dataclass
class DAG:
    """Steps by name, edges, a topological order and branch membership."""

    steps: dict[str, Step]
    edges: list[Edge]
    order: list[str]
    upstream: dict[str, set[str]] = field(default_factory=dict)
    branch_of: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)

    def downstream(self, name: str) -> set[str]:
        """Every step that (transitively) depends on ``name``."""
        out: set[str] = set()
        frontier = [name]
        while frontier:
            cur = frontier.pop()
            for e in self.edges:
                if e.source == cur and e.target not in out:
                    out.add(e.target)
                    frontier.append(e.target)
        return out


def collect_steps(steps: Sequence[Step]) -> list[Step]:
    """The listed steps plus those reachable through condition branches, once each."""
    seen: dict[int, Step] = {}
    stack = list(steps)[::-1]
    ordered: list[Step] = []
    while stack:
        step = stack.pop()
        if id(step) in seen:
            continue
        seen[id(step)] = step
        ordered.append(step)
        if isinstance(step, ConditionStep):
            stack.extend(reversed([*step.if_steps, *step.else_steps]))
    return ordered


def _check_signature(step: Step) -> None:
    if step.func is None:
        return
    try:
        sig = inspect.signature(step.func)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name in step.inputs:
        if name == "ctx":
            raise PipelineError(f"step {step.name!r}: input name 'ctx' is reserved for StepContext")
        if name not in params and not has_var_kw:
            raise PipelineError(
                f"step {step.name!r}: input {name!r} is not an argument of "
                f"{step.func.__qualname__}{sig}"
            )
    for pname, p in params.items():
        if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        if pname == "ctx" or pname in step.inputs or p.default is not inspect.Parameter.empty:
            continue
        raise PipelineError(
            f"step {step.name!r}: argument {pname!r} of {step.func.__qualname__} has no input; "
            f"add inputs={{{pname!r}: ...}}"
        )


def build_dag(steps: Sequence[Step], parameters: Sequence[Parameter]) -> DAG:
    """Validate the steps and return the graph; PipelineError names what is wrong."""
    all_steps = collect_steps(steps)
    by_name: dict[str, Step] = {}
    for step in all_steps:
        if step.name in by_name:
            raise PipelineError(
                f"two different steps are named {step.name!r}; names must be unique"
            )
        by_name[step.name] = step
    param_names = {p.name: p for p in parameters}
    edges: list[Edge] = []
    for step in all_steps:
        _check_signature(step)
        for arg, value in step.inputs.items():
            if isinstance(value, OutputRef):
                source = by_name.get(value.step)
                if source is None:
                    raise PipelineError(
                        f"step {step.name!r}, input {arg!r}: references unknown step "
                        f"{value.step!r}; add that step to the pipeline"
                    )
                if value.name not in source.output_names:
                    raise PipelineError(
                        f"step {step.name!r}, input {arg!r}: step {value.step!r} has no output "
                        f"{value.name!r} (its outputs: {', '.join(source.output_names)})"
                    )
                edges.append(Edge(value.step, step.name, arg))
            elif isinstance(value, Parameter):
                declared = param_names.get(value.name)
                if declared is None:
                    raise PipelineError(
                        f"step {step.name!r}, input {arg!r}: parameter {value.name!r} is not "
                        "declared in the pipeline's parameters"
                    )
        for dep in step.depends_on:
            if dep not in by_name:
                raise PipelineError(f"step {step.name!r}: depends_on names unknown step {dep!r}")
            edges.append(Edge(dep, step.name, "after", "order"))
        auto = getattr(step, "auto_approve", None)
        if isinstance(auto, Parameter) and auto.name not in param_names:
            raise PipelineError(
                f"step {step.name!r}: auto_approve parameter {auto.name!r} is not declared"
            )
    branch_of: dict[str, list[tuple[str, bool]]] = {}
    for step in all_steps:
        if isinstance(step, ConditionStep):
            for branch, flag in ((step.if_steps, True), (step.else_steps, False)):
                for child in branch:
                    edges.append(
                        Edge(
                            step.name,
                            child.name,
                            "if" if flag else "else",
                            "if" if flag else "else",
                        )
                    )
                    branch_of.setdefault(child.name, []).append((step.name, flag))
    upstream: dict[str, set[str]] = {name: set() for name in by_name}
    for e in edges:
        upstream[e.target].add(e.source)
    order = _toposort(list(by_name), upstream)
    return DAG(by_name, edges, order, upstream, branch_of)


def _toposort(names: list[str], upstream: dict[str, set[str]]) -> list[str]:
    indegree = {n: len(upstream[n]) for n in names}
    ready = [n for n in names if indegree[n] == 0]
    order: list[str] = []
    while ready:
        cur = ready.pop(0)
        order.append(cur)
        for n in names:
            if cur in upstream[n]:
                indegree[n] -= 1
                if indegree[n] == 0:
                    ready.append(n)
    if len(order) < len(names):
        remaining = {n for n in names if n not in order}
        cycle = _find_cycle(remaining, upstream)
        raise PipelineError(
            "the pipeline has a cycle: "
            + " -> ".join(cycle)
            + "; a step cannot depend on its own output"
        )
    return order


def _find_cycle(remaining: set[str], upstream: dict[str, set[str]]) -> list[str]:
    start = sorted(remaining)[0]
    path: list[str] = [start]
    seen = {start: 0}
    cur = start
    while True:
        nxt = sorted(upstream[cur] & remaining)[0]
        if nxt in seen:
            cycle = [*path[seen[nxt] :], nxt]
            return list(reversed(cycle))
        seen[nxt] = len(path)
        path.append(nxt)
        cur = nxt
