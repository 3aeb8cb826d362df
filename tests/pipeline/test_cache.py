"""Content-addressed caching: hits, misses and what invalidates what."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from _support import pipeline_steps as s
from _support.pipeline_steps import calls
from topicstrata.pipeline import (
    ArtifactStore,
    CachePolicy,
    CorruptArtifactError,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Pipeline,
    ProcessingStep,
    hash_source_code,
    hash_value,
    run_pipeline,
)


def chain() -> Pipeline:
    """make(n) -> scale(factor) -> total; each step counts its calls."""
    n = ParameterInteger("n", default=4)
    factor = ParameterFloat("factor", default=2.0)
    c = ParameterString("counter", default="counter")
    make = ProcessingStep("make", s.make_numbers, inputs={"n": n, "counter": c})
    sc = ProcessingStep(
        "scale", s.scale, inputs={"numbers": make.output(), "factor": factor, "counter": c}
    )
    tot = ProcessingStep("total", s.total, inputs={"values": sc.output(), "counter": c})
    return Pipeline("chain", [n, factor, c], [make, sc, tot])


@pytest.fixture
def counter(tmp_path):
    return str(tmp_path / "calls")


def test_unchanged_rerun_is_all_cache_hits(tmp_path, counter):
    first = run_pipeline(chain(), {"counter": counter}, root=tmp_path)
    assert first.status == "succeeded"
    assert first.output("total") == 12.0
    assert first.executed == ["make", "scale", "total"] or set(first.executed) == {
        "make",
        "scale",
        "total",
    }
    second = run_pipeline(chain(), {"counter": counter}, root=tmp_path)
    assert second.status == "succeeded"
    assert set(second.cache_hits) == {"make", "scale", "total"}
    assert second.output("total") == 12.0
    assert [calls(counter, k) for k in ("make", "scale", "total")] == [1, 1, 1]


def test_parameter_change_reruns_only_downstream(tmp_path, counter):
    run_pipeline(chain(), {"counter": counter}, root=tmp_path)
    result = run_pipeline(chain(), {"counter": counter, "factor": 3.0}, root=tmp_path)
    assert result.cache_hits == ["make"]
    assert set(result.executed) == {"scale", "total"}
    assert result.output("total") == 18.0
    assert [calls(counter, k) for k in ("make", "scale", "total")] == [1, 2, 2]


def test_upstream_input_change_reruns_dependents(tmp_path, counter):
    run_pipeline(chain(), {"counter": counter}, root=tmp_path)
    result = run_pipeline(chain(), {"counter": counter, "n": 5}, root=tmp_path)
    assert set(result.executed) == {"make", "scale", "total"}
    assert result.output("total") == 20.0


def test_same_upstream_output_keeps_downstream_cached(tmp_path, counter):
    """A rerun upstream step that yields identical bytes leaves downstream keys unchanged."""
    run_pipeline(chain(), {"counter": counter}, root=tmp_path)
    pipe = chain()
    pipe.steps["make"].code_version = "2"  # forces make to rerun; same output
    result = run_pipeline(pipe, {"counter": counter}, root=tmp_path)
    assert result.executed == ["make"]
    assert set(result.cache_hits) == {"scale", "total"}


def test_cache_disabled_and_expired_steps_rerun(tmp_path, counter):
    pipe = chain()
    pipe.steps["scale"].cache = CachePolicy(enabled=False)
    pipe.steps["total"].cache = CachePolicy(expire_after=0)
    run_pipeline(pipe, {"counter": counter}, root=tmp_path)
    result = run_pipeline(pipe, {"counter": counter}, root=tmp_path)
    assert result.cache_hits == ["make"]
    assert calls(counter, "scale") == 2 and calls(counter, "total") == 2


V1 = """
def compute(x: int) -> int:
    return x + 1
"""
V1_DOCS = '''
def compute(x: int) -> int:
    """Add one, documented now."""
    # a comment that explains nothing
    return x + 1  # trailing comment
'''
V2 = """
def compute(x: int) -> int:
    return x + 2
"""


def _load(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _one_step(func) -> Pipeline:
    return Pipeline("dyn", [], [ProcessingStep("compute", func, inputs={"x": 1})])


def test_code_change_misses_but_docstring_and_comment_edits_hit(tmp_path):
    root = tmp_path / "root"
    v1 = _load(tmp_path, "dyn_steps_v1", V1)
    docs = _load(tmp_path, "dyn_steps_v1_docs", V1_DOCS)
    v2 = _load(tmp_path, "dyn_steps_v2", V2)
    assert hash_source_code(v1.compute) == hash_source_code(docs.compute)
    assert hash_source_code(v1.compute) != hash_source_code(v2.compute)

    first = run_pipeline(_one_step(v1.compute), root=root)
    assert first.executed == ["compute"] and first.output("compute") == 2
    documented = run_pipeline(_one_step(docs.compute), root=root)
    assert documented.cache_hits == ["compute"]
    changed = run_pipeline(_one_step(v2.compute), root=root)
    assert changed.executed == ["compute"] and changed.output("compute") == 3


def test_corrupted_artefact_is_detected_and_recomputed(tmp_path, counter, caplog):
    first = run_pipeline(chain(), {"counter": counter}, root=tmp_path)
    sha = first.steps["scale"].outputs["output"]
    store = ArtifactStore(tmp_path)
    data = store.info(sha).path
    data.write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(CorruptArtifactError, match="corrupted"):
        store.verify(sha)
    with caplog.at_level("WARNING", logger="topicstrata.pipeline.artifacts"):
        second = run_pipeline(chain(), {"counter": counter}, root=tmp_path)
    assert "corrupted" in caplog.text
    assert "scale" in second.executed
    assert second.cache_hits == ["make"] or "make" in second.cache_hits
    assert second.output("total") == 12.0
    store.verify(second.steps["scale"].outputs["output"])


@pytest.mark.parametrize(
    "value",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        {"a": [1, 2.5, None, "s"], "b": {"c": True}},
        "text",
        3.25,
        (1, "tuple", b"bytes"),
    ],
)
def test_artifact_round_trip_by_type(tmp_path, value):
    store = ArtifactStore(tmp_path)
    info = store.put(value)
    assert info.path.parent.name == info.sha256
    back = store.get(info.sha256)
    if isinstance(value, np.ndarray):
        assert info.serializer == "npy" and isinstance(back, np.memmap)
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, pd.DataFrame):
        assert info.serializer == "parquet"
        pd.testing.assert_frame_equal(back, value)
    else:
        assert back == value
    assert store.put(value).sha256 == info.sha256


def test_pydantic_and_path_artefacts(tmp_path):
    from pydantic import BaseModel

    class_module = _load(
        tmp_path,
        "dyn_models",
        "from pydantic import BaseModel\nclass Cfg(BaseModel):\n    k: int = 3\n",
    )
    assert issubclass(class_module.Cfg, BaseModel)
    store = ArtifactStore(tmp_path / "root")
    info = store.put(class_module.Cfg(k=7))
    assert info.serializer == "pydantic"
    assert store.get(info.sha256) == class_module.Cfg(k=7)
    f = tmp_path / "mapping.yaml"
    f.write_text("a: 1\n", encoding="utf-8")
    before = store.put(f).sha256
    f.write_text("a: 2\n", encoding="utf-8")
    after = store.put(f).sha256
    assert before != after and store.get(after) == f


def test_hash_value_is_stable_and_unknowns_never_match():
    frame = pd.DataFrame({"a": [1, 2]})
    assert hash_value({"x": [1, 2], "y": frame}) == hash_value({"x": [1, 2], "y": frame.copy()})
    assert hash_value(np.zeros(3)) != hash_value(np.zeros(4))
    assert hash_value(1) != hash_value(1.0) != hash_value("1")
    blob = object()
    assert hash_value(blob) != hash_value(blob)


def test_objects_are_pickled_and_old_joblib_artefacts_still_load(tmp_path):
    import json

    import joblib

    store = ArtifactStore(tmp_path)
    value = {"a", "set"}  # not JSON: goes to the pickle serializer
    info = store.put(value)
    assert info.serializer == "pickle" and info.path.name == "data.pkl"
    assert store.get(info.sha256) == value
    # An artefact written by an older version (joblib) is read back by its serializer.
    from topicstrata.pipeline.hashing import hash_file

    legacy = tmp_path / "legacy.joblib"
    joblib.dump({"old"}, legacy)
    sha = hash_file(legacy)
    folder = store.dir / sha
    folder.mkdir(parents=True)
    legacy.rename(folder / "data.joblib")
    meta = json.loads((info.path.parent / "meta.json").read_text())
    meta.update(sha256=sha, serializer="joblib", file="data.joblib")
    (folder / "meta.json").write_text(json.dumps(meta))
    assert store.get(sha) == {"old"}
