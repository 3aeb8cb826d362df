"""The exported default pipeline, run job by job through the container entry points,
assigns every record as ``strata fit`` does on the same data, config and seed."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

if importlib.util.find_spec("sagemaker") is None:
    pytest.skip(
        "needs the sagemaker extra: pip install 'topicstrata[sagemaker]'", allow_module_level=True
    )

from _support.runs import CHEAP_CONFIG
from pipeline_export.sagemaker_local import STRATA, LocalSageMaker, parameter_defaults
from topicstrata.config import StrataConfig
from topicstrata.pipeline.sagemaker import SageMakerTarget, export_sagemaker
from topicstrata.pipeline.topic import build_pipeline

BUCKET = "s3://strata-bucket/runs"
TARGET = SageMakerTarget(
    role="arn:aws:iam::123456789012:role/SageMakerExecution",
    bucket=BUCKET,
    image="123456789012.dkr.ecr.us-east-1.amazonaws.com/topicstrata:0.1.0",
    tuning_jobs=2,
)
ROWS = 300


def _strata(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STRATA, *args], cwd=cwd, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _review_with_draft(sm: LocalSageMaker, step: dict[str, Any]) -> str:
    """Answer a review as a person approving the draft as is: the S3 URI of the draft
    mapping the publish step uploaded (docs/sagemaker.md, answering reviews)."""
    layer = step["Name"].removeprefix("review_")
    (publish,) = step["DependsOn"]
    prefix = sm.props[f"Steps.{publish}.ProcessingOutputConfig.Outputs['output'].S3Output.S3Uri"]
    uri = f"{prefix}/mapping.v{layer}.draft.yaml"
    assert sm.s3(uri).is_file(), f"{publish} uploaded no draft at {uri}"
    return uri


def _ends_of_ranges(ranges: dict[str, Any]) -> list[dict[str, str]]:
    """Two trials: every range at its low end, then at its high end."""
    points: list[dict[str, str]] = [{}, {}]
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for r in ranges.get(kind, []):
            points[0][r["Name"]], points[1][r["Name"]] = r["MinValue"], r["MaxValue"]
    for r in ranges.get("CategoricalParameterRanges", []):
        points[0][r["Name"]], points[1][r["Name"]] = r["Values"][0], r["Values"][-1]
    return points


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("roundtrip")
    data = root / "opps.csv"
    _strata("synth", "--rows", str(ROWS), "--seed", "3", "-o", str(data), cwd=root)
    (root / "cheap.yaml").write_text(yaml.safe_dump(CHEAP_CONFIG), encoding="utf-8")
    _strata(
        "fit", str(data), "-o", str(root / "fit"), "--config", str(root / "cheap.yaml"),
        "--cache-dir", str(root / "cache"), "--root", str(root), cwd=root,
    )  # fmt: skip

    config = StrataConfig.from_dict(CHEAP_CONFIG).model_dump(mode="json")
    n_layers = len(CHEAP_CONFIG["ensemble"]["layers"])
    exported = export_sagemaker(build_pipeline(n_layers), TARGET, defaults={"config": config})
    definition = json.loads(exported.definition)
    sm = LocalSageMaker(
        root / "sagemaker",
        parameter_defaults(definition),
        answer=_review_with_draft,
        trial_points=_ends_of_ranges,
    )
    # What docs/sagemaker.md says to upload before starting: the records and config.json.
    sm.upload(data, f"{sm.parameters['data']}/opps.csv")
    for name, text in exported.files.items():
        (root / name).write_text(text, encoding="utf-8")
        sm.upload(root / name, f"{BUCKET}/parameters/{name}")
    sm.execute(definition)
    return root, sm, definition


def test_the_exported_jobs_assign_every_record_as_strata_fit_does(both):
    root, sm, _ = both
    local = pd.read_parquet(root / "fit" / "assignments.parquet")
    written = "Steps.write_run.ProcessingOutputConfig.Outputs['output'].S3Output.S3Uri"
    run_dir = sm.s3(sm.props[written])
    exported = pd.read_parquet(run_dir / "assignments.parquet")
    assert len(local) == ROWS
    pd.testing.assert_frame_equal(exported, local)


def test_every_step_ran_in_its_own_job_and_the_gate_passed(both):
    _, sm, definition = both
    top = [s["Name"] for s in definition["Steps"]]
    assert sm.ran[: len(top) - 1] == top[:-1]  # in the definition's order
    assert sm.branch == ["if"] and sm.ran[-2:] == ["register", "quality_gate"]
    assert not (sm.root / "jobs").exists() or not any((sm.root / "jobs").iterdir())


def test_each_tuning_trial_prints_the_loss_the_tuner_reads(both):
    _, sm, _ = both
    assert len(sm.trials) == 2
    for trial in sm.trials:
        assert trial.objective is not None and trial.objective == trial.objective  # not NaN
        assert trial.hyperparameters["param.tune_trials"] == "0"


def _tuning_step(definition: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in definition["Steps"] if s["Type"] == "Tuning")


def test_a_trial_with_tuning_on_scores_and_passes_on_the_settings_it_was_given(both):
    import tarfile

    from topicstrata.pipeline import ArtifactStore

    root, sm, definition = both
    args = _tuning_step(definition)["Arguments"]
    job = args["TrainingJobDefinition"]
    static = {k: str(sm.value(v)) for k, v in job["StaticHyperParameters"].items()}
    point = _ends_of_ranges(args["HyperParameterTuningJobConfig"]["ParameterRanges"])[0]
    hyper = {**static, **point, "param.tune_trials": "5", "_tuning_objective_metric": "x"}
    uri, stdout = sm._training_job(
        "tune-on", hyper, job["InputDataConfig"], job["OutputDataConfig"]["S3OutputPath"]
    )
    (metric,) = job["AlgorithmSpecification"]["MetricDefinitions"]
    assert args["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": metric["Name"],
    }
    found = re.findall(metric["Regex"], stdout)
    assert len(found) == 1, stdout
    assert math.isfinite(float(found[0]))

    with tarfile.open(sm.s3(uri)) as tar:
        tar.extractall(root / "tune-on", filter="data")
    info = json.loads((root / "tune-on" / "step.json").read_text())
    ensemble = ArtifactStore(root / "tune-on").get(info["outputs"]["output"])
    low = int(point["l1.k_low"])
    assert tuple(ensemble["layers"][0]["k_range"]) == (low, low + int(point["l1.k_span"]))
    assert ensemble["layers"][1]["n_components"] == int(point["l2.n_components"])
    assert ensemble["representation"]["min_df"] == int(point["repr.min_df"])
    assert ensemble["split"]["mode"] == point["split.mode"]


def test_a_trial_given_a_dimension_the_run_does_not_have_fails_with_a_reason(both):
    root, sm, definition = both
    job = _tuning_step(definition)["Arguments"]["TrainingJobDefinition"]
    static = {k: str(sm.value(v)) for k, v in job["StaticHyperParameters"].items()}
    opt_ml = root / "bad-trial" / "opt" / "ml"
    (opt_ml / "input" / "config").mkdir(parents=True)
    for channel in job["InputDataConfig"]:
        uri = sm.value(channel["DataSource"]["S3DataSource"]["S3Uri"])
        sm.download(uri, opt_ml / "input" / "data" / channel["ChannelName"])
    hyper = {**static, "l9.k_low": "4"}
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyper))
    done = subprocess.run(
        [sys.executable, "-m", "topicstrata.pipeline.stepdirs"], capture_output=True, text=True,
        timeout=120, env={"STRATA_OPT_ML": str(opt_ml), "PATH": ""},
    )  # fmt: skip
    assert done.returncode != 0
    failure = (opt_ml / "output" / "failure").read_text()
    assert "l9.k_low" in failure and "not dimensions of this run's search space" in failure
    assert "tuning-loss" not in done.stdout
