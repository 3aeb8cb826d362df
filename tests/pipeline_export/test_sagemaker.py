"""strata pipeline export sagemaker: the definition the official SDK builds, offline."""

from __future__ import annotations

import importlib.util
import json
import socket
from typing import Any

import pytest

# Not imported here: some SDK modules create AWS clients at import, before a region is set.
if importlib.util.find_spec("sagemaker") is None:
    pytest.skip(
        "needs the sagemaker extra: pip install 'topicstrata[sagemaker]'", allow_module_level=True
    )

from topicstrata import errors
from topicstrata.pipeline import (
    CachePolicy,
    Pipeline,
    ProcessingStep,
    RetryPolicy,
    Step,
    TrainingStep,
)
from topicstrata.pipeline.sagemaker import SageMakerTarget, export_sagemaker
from topicstrata.pipeline.topic import build_pipeline

TARGET = SageMakerTarget(
    role="arn:aws:iam::123456789012:role/SageMakerExecution",
    bucket="s3://strata-bucket/runs",
    image="123456789012.dkr.ecr.us-east-1.amazonaws.com/topicstrata:0.1.0",
)
SM_TYPE = {
    "processing": "Processing",
    "evaluate": "Processing",
    "training": "Training",
    "tuning": "Tuning",
    "callback": "Callback",
    "condition": "Condition",
    "fail": "Fail",
    "register": "RegisterModel",
}


class NetworkUsed(AssertionError):
    pass


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise NetworkUsed(f"the export tried to reach the network: {args[:2]}")


def _export_offline(pipeline: Pipeline) -> tuple[str, Any]:
    saved = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.socket.connect_ex = _no_network  # type: ignore[method-assign]
    socket.getaddrinfo = _no_network  # type: ignore[assignment]
    try:
        result = export_sagemaker(pipeline, TARGET)
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = saved
    return result.definition, result


@pytest.fixture(scope="module")
def exported() -> tuple[Pipeline, dict[str, Any], Any, str]:
    pipeline = build_pipeline(3)
    text, result = _export_offline(pipeline)
    return pipeline, json.loads(text), result, text


def _all_steps(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for step in steps:
        out[step["Name"]] = step
        if step["Type"] == "Condition":
            out.update(_all_steps(step["Arguments"]["IfSteps"]))
            out.update(_all_steps(step["Arguments"]["ElseSteps"]))
    return out


def _references(value: Any) -> set[str]:
    """Step names a JSON value reads (``{"Get": "Steps.X...."}``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        get = value.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            found.add(get.split(".")[1].split("[")[0])
        for key, item in value.items():
            if key not in ("IfSteps", "ElseSteps"):
                found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _edges(steps: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    edges: set[tuple[str, str]] = set()
    for name, step in steps.items():
        edges |= {(src, name) for src in _references(step.get("Arguments", {}))}
        edges |= {(src, name) for src in step.get("DependsOn", [])}
        if step["Type"] == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                edges |= {(name, child["Name"]) for child in step["Arguments"][branch]}
    return edges


def test_every_local_step_is_there_with_its_sagemaker_type(exported):
    pipeline, definition, _, _ = exported
    steps = _all_steps(definition["Steps"])
    assert set(steps) == set(pipeline.steps)
    for name, step in pipeline.steps.items():
        assert steps[name]["Type"] == SM_TYPE[step.kind], name


def test_dependencies_equal_the_local_dag_edges(exported):
    pipeline, definition, _, _ = exported
    local = {(e.source, e.target) for e in pipeline.dag.edges}
    assert _edges(_all_steps(definition["Steps"])) == local


def test_parameters_keep_names_types_and_defaults(exported):
    pipeline, definition, result, _ = exported
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert params["min_npmi"] == {"Name": "min_npmi", "Type": "Float", "DefaultValue": -1.0}
    assert params["tune_trials"]["Type"] == "Integer"
    assert params["tune_trials"]["DefaultValue"] == 0
    assert params["auto_approve"]["Type"] == "Boolean"
    assert params["labels"] == {"Name": "labels", "Type": "String", "DefaultValue": ""}
    # no dict parameter in SageMaker: a URI of the JSON written next to the definition
    assert params["config"]["DefaultValue"] == "s3://strata-bucket/runs/parameters/config.json"
    assert (
        json.loads(result.files["config.json"]) == pipeline.steps["config"].inputs["config"].default
    )
    assert any("no dict parameter" in n for n in result.notes["parameter config"])


def test_cache_and_retry_policies_carry_over(exported):
    pipeline, definition, _, _ = exported
    steps = _all_steps(definition["Steps"])
    for name, step in pipeline.steps.items():
        if steps[name]["Type"] in ("Processing", "Training", "Tuning"):
            assert steps[name]["CacheConfig"]["Enabled"] is step.cache.enabled, name
    [policy] = steps["ingest"]["RetryPolicies"]
    assert policy["MaxAttempts"] == 1  # two attempts locally: one retry
    assert policy["BackoffRate"] == 2.0
    assert "RetryPolicies" not in steps["preprocess"]


def test_the_quality_gate_reads_npmi_from_the_evaluation_property_file(exported):
    _, definition, _, _ = exported
    steps = _all_steps(definition["Steps"])
    gate = steps["quality_gate"]["Arguments"]
    [condition] = gate["Conditions"]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    left = condition["LeftValue"]["Std:JsonGet"]
    assert left["PropertyFile"] == {"Get": "Steps.evaluate.PropertyFiles.evaluation"}
    assert left["Path"] == "npmi"
    assert condition["RightValue"] == {"Get": "Parameters.min_npmi"}
    assert [s["Name"] for s in gate["IfSteps"]] == ["register"]
    assert [s["Type"] for s in gate["ElseSteps"]] == ["Fail"]
    [evaluation] = steps["evaluate"]["PropertyFiles"]
    assert evaluation["FilePath"] == "evaluation.json"


def test_reviews_wait_on_a_queue_parameter_and_registration_awaits_approval(exported):
    _, definition, _, _ = exported
    steps = _all_steps(definition["Steps"])
    review = steps["review_1"]
    assert review["SqsQueueUrl"] == {"Get": "Parameters.review_queue_url"}
    assert review["OutputParameters"] == [{"OutputName": "output_uri", "OutputType": "String"}]
    layer_2 = steps["layer_2"]["Arguments"]["InputDataConfig"]
    channel = next(c for c in layer_2 if c["ChannelName"] == "review_1")
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.review_1.OutputParameters['output_uri']"
    }
    assert steps["register"]["Arguments"]["ModelApprovalStatus"] == "PendingManualApproval"


def test_steps_call_the_container_entry_point(exported):
    _, definition, _, _ = exported
    steps = _all_steps(definition["Steps"])
    app = steps["embed"]["Arguments"]["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["strata", "pipeline", "step", "embed"]
    assert "/opt/ml/processing/input/preprocess" in app["ContainerArguments"]
    hyper = steps["layer_1"]["Arguments"]["HyperParameters"]
    assert hyper["strata_step"] == "layer_1"


def test_what_does_not_map_is_named_in_the_descriptions(exported):
    _, definition, result, _ = exported
    steps = _all_steps(definition["Steps"])
    assert "auto_approve" in steps["review_1"]["Description"]
    assert any("auto_approve" in n for n in result.notes["review_1"])
    assert "OSError" in steps["ingest"]["Description"]


def test_the_export_is_byte_identical_across_runs(exported):
    _, _, _, text = exported
    again, _ = _export_offline(build_pipeline(3))
    assert again == text


def _double(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"role": ""}, "--role is required"),
        ({"role": "admin"}, "not an IAM role ARN"),
        ({"bucket": ""}, "--bucket is required"),
        ({"bucket": "strata-bucket/runs"}, "must look like s3://"),
        ({"image": ""}, "--image is required"),
    ],
)
def test_invalid_requests_are_clear_errors(change, message):
    target = SageMakerTarget(**{**TARGET.__dict__, **change})
    small = Pipeline("small", [], [ProcessingStep("a", _double, {"x": 1})])
    with pytest.raises(errors.ConfigError, match=message):
        export_sagemaker(small, target)


def test_a_cycle_is_a_clear_error():
    with pytest.raises(errors.PipelineError, match="cycle"):
        Pipeline(
            "loop",
            [],
            [
                ProcessingStep("a", _double, {"x": Step.ref("b")}),
                TrainingStep("b", _double, {"x": Step.ref("a")}),
            ],
        )


def test_a_small_custom_pipeline_exports(tmp_path):
    a = ProcessingStep("a", _double, {"x": 1}, cache=CachePolicy(expire_after="12h"))
    b = TrainingStep("b", _double, {"x": a.output()}, retry=RetryPolicy(attempts=3))
    text, _ = _export_offline(Pipeline("small", [], [a, b]))
    steps = _all_steps(json.loads(text)["Steps"])
    assert steps["a"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "PT12H"}
    assert steps["b"]["RetryPolicies"][0]["MaxAttempts"] == 2
    assert _edges(steps) == {("a", "b")}
