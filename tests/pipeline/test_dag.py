"""DAG building and validation, graph rendering."""

from __future__ import annotations

import pytest

from _support import pipeline_steps as s
from topicstrata.errors import PipelineError
from topicstrata.pipeline import (
    ConditionStep,
    FailStep,
    ParameterFloat,
    ParameterInteger,
    Pipeline,
    ProcessingStep,
    Step,
)


def test_order_comes_from_references_not_listing_order():
    n = ParameterInteger("n", default=3)
    make = ProcessingStep("make", s.make_numbers, inputs={"n": n, "counter": "c"})
    tot = ProcessingStep("total", s.total, inputs={"values": make.outputs.output, "counter": "c"})
    pipe = Pipeline("p", [n], [tot, make])
    assert pipe.dag.order == ["make", "total"]


def test_cycle_is_an_error_naming_the_steps():
    a = ProcessingStep("a", s.metrics, inputs={"value": Step.ref("b")})
    b = ProcessingStep("b", s.metrics, inputs={"value": Step.ref("a")})
    with pytest.raises(PipelineError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        Pipeline("p", [], [a, b])


def test_reference_to_missing_step_names_step_and_input():
    a = ProcessingStep("a", s.metrics, inputs={"value": Step.ref("ghost")})
    msg = "step 'a', input 'value': references unknown step 'ghost'"
    with pytest.raises(PipelineError, match=msg):
        Pipeline("p", [], [a])


def test_reference_to_missing_output():
    a = ProcessingStep("a", s.make_numbers, inputs={"n": 1, "counter": "c"})
    with pytest.raises(PipelineError, match="has no output 'table'"):
        a.output("table")
    b = ProcessingStep("b", s.metrics, inputs={"value": Step.ref("a", "table")})
    msg = "step 'b', input 'value': step 'a' has no output 'table'"
    with pytest.raises(PipelineError, match=msg):
        Pipeline("p", [], [a, b])


def test_undeclared_parameter():
    n = ParameterInteger("n", default=3)
    a = ProcessingStep("a", s.make_numbers, inputs={"n": n, "counter": "c"})
    with pytest.raises(PipelineError, match="input 'n': parameter 'n' is not declared"):
        Pipeline("p", [], [a])


def test_missing_and_unknown_function_arguments():
    a = ProcessingStep("a", s.make_numbers, inputs={"n": 1})
    with pytest.raises(PipelineError, match="argument 'counter' of make_numbers has no input"):
        Pipeline("p", [], [a])
    b = ProcessingStep("b", s.metrics, inputs={"value": 1, "extra": 2})
    with pytest.raises(PipelineError, match="input 'extra' is not an argument"):
        Pipeline("p", [], [b])


def test_duplicate_step_names():
    a = ProcessingStep("a", s.metrics, inputs={"value": 1})
    a2 = ProcessingStep("a", s.metrics, inputs={"value": 2})
    with pytest.raises(PipelineError, match="two different steps are named 'a'"):
        Pipeline("p", [], [a, a2])


def _gate_pipeline() -> Pipeline:
    n = ParameterInteger("n", default=3)
    t = ParameterFloat("threshold", default=1.0)
    make = ProcessingStep("make", s.make_numbers, inputs={"n": n, "counter": "c"})
    tot = ProcessingStep("total", s.total, inputs={"values": make.output(), "counter": "c"})
    met = ProcessingStep("metrics", s.metrics, inputs={"value": tot.output()})
    reg = ProcessingStep("register", s.register, inputs={"value": tot.output(), "counter": "c"})
    stop = FailStep("stop", "too low")
    gate = ConditionStep(
        "gate", s.quality_ok, {"metrics": met.output(), "threshold": t}, [reg], [stop]
    )
    return Pipeline("gated", [n, t], [make, tot, met, gate])


def test_branch_steps_are_collected_from_conditions():
    pipe = _gate_pipeline()
    assert set(pipe.steps) == {"make", "total", "metrics", "gate", "register", "stop"}
    assert pipe.dag.branch_of["register"] == [("gate", True)]
    assert pipe.dag.branch_of["stop"] == [("gate", False)]


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_contains_every_step_and_edge(fmt):
    pipe = _gate_pipeline()
    text = pipe.graph(format=fmt)
    for name in pipe.steps:
        assert name in text
    for edge in pipe.dag.edges:
        if fmt == "mermaid":
            assert f"s_{edge.source} " in text and f"|{edge.label}| s_{edge.target}" in text
        else:
            assert f'"{edge.source}" -> "{edge.target}" [label="{edge.label}"' in text
    assert ("p_threshold" if fmt == "mermaid" else '"param:threshold"') in text


def test_graph_rejects_unknown_format():
    with pytest.raises(Exception, match="mermaid"):
        _gate_pipeline().graph(format="png")
