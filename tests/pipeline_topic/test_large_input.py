"""The large-input path through the default pipeline: a teacher sample, a student for the
rest, layers that learn from the teacher rows first, and what the run reports about it."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from _support.runs import CHEAP_CONFIG, write_dirty_opportunities
from topicstrata.config import StrataConfig
from topicstrata.pipeline import run_pipeline
from topicstrata.pipeline.topic import build_pipeline

SAMPLED = copy.deepcopy(CHEAP_CONFIG)
SAMPLED["embed"]["sampling"] = {
    "min_rows": 300,
    "teacher_rows": 400,
    "teacher_share": 0.5,
    "holdout": 0.25,
}
# Layer 1 learns from 600 of the 1,200 records: the 400 teacher rows and 200 others.
SAMPLED["ensemble"]["layers"][0]["max_fit_samples"] = 600


def _run(root, config, layers):
    """``strata fit``'s pipeline on ``root/opps.csv`` into ``root/run``."""
    params = {
        "data": str(root / "opps.csv"),
        "output": str(root / "run"),
        "config": StrataConfig.from_dict(config).model_dump(mode="json"),
        "cache_dir": str(root / "cache"),
        "auto_approve": True,
    }
    result = run_pipeline(build_pipeline(layers), params, root=root)
    assert result.status == "succeeded"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("large")
    write_dirty_opportunities(root / "opps.csv", rows=1200)
    _run(root, SAMPLED, 2)
    return root


def test_every_record_is_assigned(run):
    assignments = pd.read_parquet(run / "run" / "assignments.parquet")
    report = json.loads((run / "run" / "row_report.json").read_text())
    assert len(assignments) == report["ok"] == 1200
    assert report["rows_in"] == report["ok"] + report["rejected"]
    assert assignments["path"].str.len().min() > 0


def test_metrics_state_the_path_and_the_students_agreement(run):
    metrics = json.loads((run / "run" / "metrics.json").read_text())
    emb = metrics["embedding"]
    assert emb["path"] == "teacher sample + student"
    assert emb["teacher_texts"] == 400
    assert emb["holdout_texts"] == 100
    assert emb["student_agreement_rows"] == 100
    agreement = emb["student_agreement"]
    assert set(agreement) == {"l1", "l2"}
    # A student that routed at random would agree on ~1/k of the records at level 1.
    assert agreement["l1"] > 0.6


def test_layer_models_learn_from_as_many_rows_as_without_sampling(run):
    from topicstrata.ensemble.persist import load_ensemble

    ensemble = load_ensemble(run / "run" / "model")
    top = ensemble.models_[""]
    # The teacher rows first, then student rows up to max_fit_samples (tests/layers).
    assert top.n_fit_samples_ == 600
    assert len(top.labels_) == 1200


def _fit(root, config):
    from topicstrata.ensemble.persist import load_ensemble

    _run(root, config, 1)
    metrics = json.loads((root / "run" / "metrics.json").read_text())
    return load_ensemble(root / "run" / "model"), metrics


def test_at_scale_the_teacher_embeds_layer_1s_sample_and_layer_1_is_the_all_teacher_model(
    tmp_path,
):
    """``cover_layer1_from`` (100,000 by default; 1,000 here): the teacher embeds the rows
    layer 1 learns from, so layer 1 equals the model of a fit with sampling off."""
    for name in ("covered", "all"):
        (tmp_path / name).mkdir()
        write_dirty_opportunities(tmp_path / name / "opps.csv", rows=1200)
    covered_cfg = copy.deepcopy(SAMPLED)
    covered_cfg["embed"]["sampling"]["cover_layer1_from"] = 1000
    covered, metrics = _fit(tmp_path / "covered", covered_cfg)
    all_cfg = copy.deepcopy(SAMPLED)
    all_cfg["embed"]["sampling"] = {"enabled": False}
    everything, _ = _fit(tmp_path / "all", all_cfg)
    emb = metrics["embedding"]
    assert emb["path"] == "teacher sample + student" and emb["covers_layer1_sample"] is True
    assert emb["teacher_texts"] >= 600 > 400  # layer 1's 600 rows, not teacher_rows
    top, base = covered.models_[""], everything.models_[""]
    np.testing.assert_array_equal(top.birch_.subcluster_centers_, base.birch_.subcluster_centers_)
    np.testing.assert_array_equal(top.center_labels_, base.center_labels_)
