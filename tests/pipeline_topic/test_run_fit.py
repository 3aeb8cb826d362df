"""``run_fit``: the default pipeline in one call, from a records file to a complete run
directory, every row accounted for."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from _support.runs import CHEAP_CONFIG, write_dirty_opportunities
from topicstrata import run_fit
from topicstrata.config import StrataConfig
from topicstrata.ensemble.predictor import TopicPredictor
from topicstrata.mapping import dump_mapping, load_mapping
from topicstrata.pipeline import run_status


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit")
    source = write_dirty_opportunities(root / "opps.csv")
    result = run_fit(
        root / "opps.csv",
        root / "run",
        StrataConfig.from_dict(CHEAP_CONFIG),
        cache_dir=root / "cache",
    )
    return root, source, result


def test_run_directory_has_every_output(fitted):
    root, _, _ = fitted
    names = {p.name for p in (root / "run").iterdir()}
    assert {
        "assignments.parquet",
        "topics.parquet",
        "hierarchy.json",
        "mapping.v1.yaml",
        "mapping.v2.yaml",
        "model",
        "metrics.json",
        "report.html",
        "row_report.json",
        "rejected_rows.csv",
        "views.parquet",
    } <= names


def test_rows_in_equals_assigned_plus_rejected(fitted):
    root, source, _ = fitted
    assignments = pd.read_parquet(root / "run" / "assignments.parquet")
    report = json.loads((root / "run" / "row_report.json").read_text())
    assert report["rows_in"] == len(source)
    assert report["rows_in"] == len(assignments) + report["rejected"]
    assert report["empty_text"] == 2 and report["duplicate_id"] == 1
    rejected = pd.read_csv(root / "run" / "rejected_rows.csv")
    assert set(rejected["id"].astype(str)) >= {"EMPTY-1", "EMPTY-2"}


def test_every_record_has_one_leaf_and_label(fitted):
    root, _, _ = fitted
    a = pd.read_parquet(root / "run" / "assignments.parquet")
    assert a["id"].is_unique
    assert a["path"].notna().all() and (a["label"].str.len() > 0).all()
    assert {"path_l1", "path_l2", "confidence", "rule_applied", "industry"} <= set(a.columns)


def test_hierarchy_sizes_add_up(fitted):
    root, _, _ = fitted
    tree = json.loads((root / "run" / "hierarchy.json").read_text())
    assert sum(t["size"] for t in tree["topics"]) == tree["n_records"]
    for t in tree["topics"]:
        if t["children"]:
            assert sum(c["size"] for c in t["children"]) == t["size"]


def test_recovers_the_synthetic_use_cases(fitted):
    _, _, result = fitted
    levels = {lv["label_col"]: lv for lv in result.metrics["levels"]}
    # TF-IDF embeddings with PCA layers on 600 records: a floor, not a benchmark.
    assert levels["true_l1"]["nmi"] > 0.6
    assert levels["true_l2"]["nmi"] > 0.6
    assert 0 < result.metrics["npmi"] <= 1


def test_report_is_readable(fitted):
    root, _, result = fitted
    html = (root / "run" / "report.html").read_text()
    first = result.ensemble.mapping_.topics[0]
    assert first.label in html.replace("&amp;", "&")
    assert "Use case × industry" in html and "Annualized revenue" in html
    assert "<script" not in html and "http" not in html.split("<body>")[0]


def test_saved_model_predicts_training_records_to_their_paths(fitted):
    root, _, _ = fitted
    predictor = TopicPredictor.load(root / "run" / "model")
    a = pd.read_parquet(root / "run" / "assignments.parquet")
    views = pd.read_parquet(root / "run" / "views.parquet")
    table = pd.read_csv(root / "opps.csv").drop_duplicates("id")
    table = table.set_index("id").loc[a["id"].head(50)].reset_index()
    pred = predictor.predict(table)
    assert list(pred["path"]) == list(a["path"].head(50))
    assert views["id"].tolist() == a["id"].tolist()


def test_runs_the_default_pipeline_recorded_under_cache_dir(fitted):
    root, _, result = fitted
    assert result.root == root / "cache"
    status = run_status(result.root, result.run_id)
    assert status.pipeline == "topicstrata" and status.status == "succeeded"
    ran = {name for name, step in status.steps.items() if step.status == "succeeded"}
    assert {"ingest", "preprocess", "embed", "layer_1", "layer_2", "write_run"} <= ran
    assert set(result.timings) == ran
    assert not [p for p in (root / "run").iterdir() if p.name.endswith(".draft.yaml")]


def test_a_second_fit_with_the_same_cache_dir_reuses_every_cached_step(fitted, tmp_path):
    root, _, _ = fitted
    again = run_fit(
        root / "opps.csv",
        tmp_path / "run",
        StrataConfig.from_dict(CHEAP_CONFIG),
        cache_dir=root / "cache",
    )
    hits = set(run_status(again.root, again.run_id).cache_hits)
    assert {"ingest", "preprocess", "embed", "layer_1", "layer_2", "assemble", "evaluate"} <= hits
    a = pd.read_parquet(root / "run" / "assignments.parquet")
    b = pd.read_parquet(tmp_path / "run" / "assignments.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_review_callback_sees_each_layer_and_its_edits_are_applied(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_dirty_opportunities(tmp_path / "opps.csv", rows=400)
    seen = []

    def review(layer, draft):
        seen.append((layer, draft.version))
        if layer == 1:
            draft.topics[0].label = "Reviewed in Python"
            return draft
        return None

    result = run_fit(
        tmp_path / "opps.csv",
        tmp_path / "run",
        StrataConfig.from_dict(CHEAP_CONFIG),
        cache_dir=None,
        review=review,
    )
    assert seen == [(1, 1), (2, 2)]
    assert load_mapping(tmp_path / "run" / "mapping.v1.yaml").topics[0].label == (
        "Reviewed in Python"
    )
    # No cache: the run went to a temporary root, now removed; nothing was left here.
    assert result.root is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opps.csv", "run"]


def test_a_mapping_file_edited_in_place_is_a_new_input(fitted, tmp_path):
    root, _, _ = fitted
    config = StrataConfig.from_dict(CHEAP_CONFIG)
    edited = tmp_path / "mapping.yaml"
    edited.write_bytes((root / "run" / "mapping.v1.yaml").read_bytes())
    run_fit(root / "opps.csv", tmp_path / "a", config, mapping=edited, cache_dir=root / "cache")
    mapping = load_mapping(edited)
    mapping.topics[0].label = "Renamed in place"
    dump_mapping(mapping, edited)
    run_fit(root / "opps.csv", tmp_path / "b", config, mapping=edited, cache_dir=root / "cache")
    labels = [t.label for t in load_mapping(tmp_path / "b" / "mapping.v1.yaml").topics]
    assert "Renamed in place" in labels
