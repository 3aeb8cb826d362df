"""The default topic pipeline: same outputs as a direct fit, cached reruns, review pause/resume."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from _support.runs import CHEAP_CONFIG, write_dirty_opportunities
from topicstrata.config import StrataConfig
from topicstrata.mapping import dump_mapping, load_mapping
from topicstrata.pipeline import describe_run, resume_run, run_pipeline
from topicstrata.pipeline.topic import build_pipeline


def _params(root, run, **extra):
    return {
        "data": str(root / "opps.csv"),
        "output": str(root / run),
        "config": StrataConfig.from_dict(CHEAP_CONFIG).model_dump(mode="json"),
        "cache_dir": str(root / "cache"),
        **extra,
    }


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("topic")
    write_dirty_opportunities(root / "opps.csv", rows=500)
    result = run_pipeline(build_pipeline(2), _params(root, "run1", auto_approve=True), root=root)
    return root, result


def test_writes_a_complete_run_directory(first):
    root, result = first
    assert result.status == "succeeded"
    names = {p.name for p in (root / "run1").iterdir()}
    assert {
        "assignments.parquet",
        "mapping.v1.yaml",
        "mapping.v2.yaml",
        "model",
        "report.html",
    } <= names
    assert not [n for n in names if n.endswith(".draft.yaml")]


def test_unchanged_rerun_hits_the_cache_for_every_cached_step(first):
    root, _ = first
    again = run_pipeline(build_pipeline(2), _params(root, "run2", auto_approve=True), root=root)
    executed = set(again.executed)
    # Only the uncached steps run: locating the input, publishing mappings, writing outputs.
    assert executed <= {
        "locate",
        "read_mapping",
        "publish_1",
        "publish_2",
        "write_run",
        "register",
        "review_1",
        "review_2",
    }
    for step in ("ingest", "preprocess", "embed", "layer_1", "layer_2", "assemble", "evaluate"):
        assert step in again.cache_hits
    a = pd.read_parquet(root / "run1" / "assignments.parquet")
    b = pd.read_parquet(root / "run2" / "assignments.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_editing_one_topic_refits_only_its_subtree(first):
    root, _ = first
    mapping = load_mapping(root / "run1" / "mapping.v1.yaml")
    target = mapping.topics[0]
    target.action = "keep" if target.action == "split" else "split"
    dump_mapping(mapping, root / "edited.yaml")
    rerun = run_pipeline(
        build_pipeline(2),
        _params(root, "run3", auto_approve=True, mapping=str(root / "edited.yaml")),
        root=root,
    )
    detail = describe_run(root, rerun.run_id)
    layer2 = next(s for s in detail["steps"] if s["step"] == "layer_2")
    match = re.search(r"(\d+) item\(s\) from cache, (\d+) computed", layer2["log"])
    assert match, layer2["log"]
    hits, computed = int(match.group(1)), int(match.group(2))
    # only the edited topic is fitted again; every other split topic comes from the cache
    split_before = set(load_mapping(root / "run1" / "mapping.v1.yaml").paths_to_split(1))
    assert computed == (1 if target.action == "split" else 0)
    assert hits == len(split_before - {target.path})
    assert rerun.status == "succeeded"
    paths = pd.read_parquet(root / "run3" / "assignments.parquet")["path"]
    children = {p for p in paths if p.startswith(target.path + ".")}
    assert bool(children) == (target.action == "split")


def test_review_pauses_and_resumes_with_an_edited_mapping(first):
    root, _ = first
    waiting = run_pipeline(build_pipeline(1), _params(root, "run4"), root=root)
    assert waiting.status == "waiting"
    draft = root / "run4" / "mapping.v1.draft.yaml"
    assert draft.is_file()
    mapping = load_mapping(draft)
    mapping.topics[0].label = "Reviewed label"
    dump_mapping(mapping, root / "reviewed.yaml")
    done = resume_run(root, waiting.run_id, callback_output=root / "reviewed.yaml")
    assert done.status == "succeeded"
    a = pd.read_parquet(root / "run4" / "assignments.parquet")
    assert "Reviewed label" in set(a["label"])


def test_an_ensemble_setting_reruns_only_the_steps_after_embedding(first):
    root, _ = first
    params = _params(root, "run5", auto_approve=True)
    params["config"]["ensemble"]["representation"]["top_n_words"] = 7
    rerun = run_pipeline(build_pipeline(2), params, root=root)
    assert {"ingest", "preprocess", "embed", "stability"} <= set(rerun.cache_hits)
    assert {"layer_1", "layer_2", "evaluate"} <= set(rerun.executed)
    # A keyword setting re-describes every topic but clusters none of them again.
    detail = {s["step"]: s["log"] or "" for s in describe_run(root, rerun.run_id)["steps"]}
    for layer in (1, 2):
        log = detail[f"layer_{layer}"]
        topics = re.search(
            rf"layer {layer} topics: (\d+) item\(s\) from cache, (\d+) computed", log
        )
        words = re.search(
            rf"layer {layer} keywords: (\d+) item\(s\) from cache, (\d+) computed", log
        )
        assert topics and words, log
        assert int(topics.group(2)) == 0 and int(topics.group(1)) > 0
        assert int(words.group(2)) == int(topics.group(1)) and int(words.group(1)) == 0
    assignments = pd.read_parquet(root / "run5" / "assignments.parquet")
    before = pd.read_parquet(root / "run1" / "assignments.parquet")
    assert assignments["path"].tolist() == before["path"].tolist()


def test_tuning_step_feeds_the_layers_its_best_settings(first):
    root, _ = first
    # Base config and label start run first in the step itself; two more trials
    # leave one for each of the two workers.
    params = _params(root, "run6", auto_approve=True, tune_trials=4)
    params["config"]["tune"] = {"folds": 2, "sample": 300, "seed": 0, "n_jobs": 2}
    tuned = run_pipeline(build_pipeline(2), params, root=root)
    assert tuned.status == "succeeded"
    assert "tune" in tuned.executed
    # Sampled as configured, and the two workers ran as the step's fan-out.
    log = {s["step"]: s["log"] or "" for s in describe_run(root, tuned.run_id)["steps"]}["tune"]
    assert "tuning on a sample of 300 of 500 records" in log
    assert "tuning workers: 0 item(s) from cache, 2 computed" in log
    best = tuned.output("tune")
    assert set(best) >= {"layers", "representation", "split", "random_state"}
    assert len(best["layers"]) == 2
    # the layers were fitted with exactly what the tuning step chose
    state = tuned.output("assemble")
    assert state.config_.model_dump(mode="json") == best


def test_a_mapping_file_edited_in_place_refits_with_the_edit(first, tmp_path):
    root, _ = first
    edited = tmp_path / "mapping.yaml"
    edited.write_bytes((root / "run1" / "mapping.v1.yaml").read_bytes())
    params = _params(root, "mapped-a", auto_approve=True, mapping=str(edited))
    run_pipeline(build_pipeline(2), params, root=root)
    mapping = load_mapping(edited)
    mapping.topics[0].label = "Renamed in place"
    dump_mapping(mapping, edited)
    params = _params(root, "mapped-b", auto_approve=True, mapping=str(edited))
    again = run_pipeline(build_pipeline(2), params, root=root)
    # Same path, new content: the layers see the edit instead of a cached result.
    assert "layer_1" in again.executed
    labels = [t.label for t in load_mapping(root / "mapped-b" / "mapping.v1.yaml").topics]
    assert "Renamed in place" in labels
