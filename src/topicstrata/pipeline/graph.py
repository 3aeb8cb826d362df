"""Render a pipeline's DAG as Mermaid or Graphviz dot text."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from topicstrata.errors import ConfigError
from topicstrata.pipeline.params import Parameter

if TYPE_CHECKING:
    from topicstrata.pipeline.dag import DAG

__all__ = ["render_graph"]


def _node_id(prefix: str, name: str) -> str:
    return prefix + re.sub(r"\W", "_", name)


def _param_uses(dag: DAG) -> list[tuple[str, str, str]]:
    uses = []
    for step in dag.steps.values():
        for arg, value in step.inputs.items():
            if isinstance(value, Parameter):
                uses.append((value.name, step.name, arg))
    return uses


def render_graph(
    name: str,
    dag: DAG,
    parameters: list[Parameter],
    format: str = "mermaid",
    status: dict[str, str] | None = None,
) -> str:
    """Text for the graph: steps, data edges (labelled by input), branches and parameters.

    ``status`` (step -> status) is shown in node labels when given.
    """
    status = status or {}
    if format == "mermaid":
        lines = ["flowchart TD"]
        for p in parameters:
            lines.append(f'    {_node_id("p_", p.name)}(["{p.name}"])')
        for step in dag.steps.values():
            extra = f"<br/>{status[step.name]}" if step.name in status else ""
            shape = ("{", "}") if step.kind == "condition" else ("[", "]")
            label = f"{step.name}<br/><i>{step.kind}</i>{extra}"
            lines.append(f'    {_node_id("s_", step.name)}{shape[0]}"{label}"{shape[1]}')
        for e in dag.edges:
            arrow = "-.->" if e.kind in ("order", "else") else "-->"
            lines.append(
                f"    {_node_id('s_', e.source)} {arrow}|{e.label}| {_node_id('s_', e.target)}"
            )
        for pname, target, arg in _param_uses(dag):
            lines.append(f"    {_node_id('p_', pname)} -.->|{arg}| {_node_id('s_', target)}")
        return "\n".join(lines) + "\n"
    if format == "dot":
        lines = [f'digraph "{name}" {{', "    rankdir=TB;", "    node [shape=box];"]
        for p in parameters:
            lines.append(f'    "param:{p.name}" [shape=ellipse, label="{p.name}"];')
        for step in dag.steps.values():
            extra = f"\\n{status[step.name]}" if step.name in status else ""
            node_shape = "diamond" if step.kind == "condition" else "box"
            label = f"{step.name}\\n({step.kind}){extra}"
            lines.append(f'    "{step.name}" [shape={node_shape}, label="{label}"];')
        for e in dag.edges:
            style = ", style=dashed" if e.kind in ("order", "else") else ""
            lines.append(f'    "{e.source}" -> "{e.target}" [label="{e.label}"{style}];')
        for pname, target, arg in _param_uses(dag):
            lines.append(f'    "param:{pname}" -> "{target}" [label="{arg}", style=dotted];')
        lines.append("}")
        return "\n".join(lines) + "\n"
    raise ConfigError(f"graph format must be 'mermaid' or 'dot', got {format!r}")
