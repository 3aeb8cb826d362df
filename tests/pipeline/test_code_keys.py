"""Cache keys see the code a step runs (its modules, their libraries), and caching can be off."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from topicstrata.errors import PipelineError
from topicstrata.pipeline import Pipeline, ProcessingStep, describe_run, run_pipeline
from topicstrata.pipeline.codebase import code_fingerprint

STEPS = '''
"""Step functions of a throwaway package."""
from __future__ import annotations

from typing import Any

from . import helper


def run(x: int) -> int:
    return helper.double(x)


def fan_out(ctx: Any, salt: int = 0) -> dict[str, int]:
    return ctx.map(helper.double, {"a": {"x": 1}, "b": {"x": 2}}, n_jobs=1, task="double")
'''
HELPER = """
import json


def double(x: int) -> int:
    return 2 * x
"""
HELPER_DOCUMENTED = '''
"""Now with documentation."""
import json  # for nothing


def double(x: int) -> int:
    """Twice ``x``."""
    return 2 * x  # the criterion
'''
HELPER_CHANGED = """
import json


def double(x: int) -> int:
    return x + x
"""
OTHER = """
import numpy
import sklearn.cluster
import spacy

VALUE = 1
"""


@pytest.fixture
def make_package(tmp_path, monkeypatch):
    """Write a package under a fresh name (the fingerprints are cached per process)."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(helper: str = HELPER) -> str:
        name = f"codekeys_{uuid.uuid4().hex[:10]}"
        folder = tmp_path / name
        folder.mkdir()
        (folder / "__init__.py").write_text('"""A package."""\n', encoding="utf-8")
        for module, source in (("steps", STEPS), ("helper", helper), ("other", OTHER)):
            (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        return name

    return make


def _steps(name: str):
    import importlib

    return importlib.import_module(f"{name}.steps")


def test_by_default_a_step_covers_the_modules_its_module_imports(make_package):
    name = make_package()
    fingerprint = code_fingerprint(_steps(name).run)
    assert set(dict(fingerprint.modules)) == {name, f"{name}.steps", f"{name}.helper"}
    # The helper imports only the standard library: no third-party version enters.
    assert fingerprint.libraries == ()


def test_a_helper_edit_changes_the_key_and_a_documentation_edit_does_not(make_package):
    base = code_fingerprint(_steps(make_package(HELPER)).run).key
    documented = code_fingerprint(_steps(make_package(HELPER_DOCUMENTED)).run).key
    changed = code_fingerprint(_steps(make_package(HELPER_CHANGED)).run).key
    assert documented == base
    assert changed != base


def test_declared_code_deps_are_exactly_what_is_covered(make_package):
    name = make_package()
    fingerprint = code_fingerprint(_steps(name).run, [f"{name}.other"])
    assert [m for m, _ in fingerprint.modules] == [f"{name}.other"]
    whole = code_fingerprint(_steps(name).run, [name])
    assert {m for m, _ in whole.modules} == {
        name,
        f"{name}.steps",
        f"{name}.helper",
        f"{name}.other",
    }
    assert code_fingerprint(_steps(name).run, []).modules == ()


def test_library_versions_follow_imports_requirements_and_spacy_models(make_package):
    import importlib.metadata

    name = make_package()
    libraries = dict(code_fingerprint(_steps(name).run, [f"{name}.other"]).libraries)
    assert libraries["numpy"] == importlib.metadata.version("numpy")
    assert libraries["scikit-learn"] == importlib.metadata.version("scikit-learn")
    # Required by scikit-learn, never imported here.
    assert "scipy" in libraries and "threadpoolctl" in libraries
    # Loaded by spaCy by name, found through its entry point.
    models = {e.dist.name for e in importlib.metadata.entry_points(group="spacy_models") if e.dist}
    assert models and {m.replace("_", "-").lower() for m in models} <= set(libraries)
    assert "json" not in libraries and name not in libraries


def test_an_unknown_code_dep_stops_the_run_before_anything_runs(make_package, tmp_path):
    name = make_package()
    step = ProcessingStep("run", _steps(name).run, {"x": 1}, code_deps=["no_such_package_xyz"])
    with pytest.raises(PipelineError, match=r"step 'run': code_deps names 'no_such_package_xyz'"):
        run_pipeline(Pipeline("p", [], [step]), root=tmp_path / "root")
    assert not (tmp_path / "root" / ".strata").exists()


def _fan_out(name: str, deps: list[str], salt: int) -> Pipeline:
    # A new salt each run: the step itself always runs, so its map's cache shows.
    step = ProcessingStep("fan", _steps(name).fan_out, {"salt": salt}, code_deps=deps)
    return Pipeline("fan", [], [step])


def _map_log(root: Path, run_id: str) -> str:
    steps = describe_run(root, run_id)["steps"]
    return next(s["log"] for s in steps if s["step"] == "fan")


def test_map_items_are_keyed_by_the_steps_code_fingerprint(make_package, tmp_path):
    name = make_package()
    root = tmp_path / "root"
    helper, other = f"{name}.helper", f"{name}.other"
    first = run_pipeline(_fan_out(name, [helper], 1), root=root)
    assert first.output("fan") == {"a": 2, "b": 4}
    assert "0 item(s) from cache, 2 computed" in _map_log(root, first.run_id)
    same = run_pipeline(_fan_out(name, [helper], 2), root=root)
    assert "2 item(s) from cache, 0 computed" in _map_log(root, same.run_id)
    other_code = run_pipeline(_fan_out(name, [helper, other], 3), root=root)
    assert "0 item(s) from cache, 2 computed" in _map_log(root, other_code.run_id)


def test_a_run_with_caching_off_reads_and_writes_no_cache(make_package, tmp_path):
    name = make_package()
    root = tmp_path / "root"
    pipeline = Pipeline(
        "two",
        [],
        [
            ProcessingStep("run", _steps(name).run, {"x": 3}),
            ProcessingStep("fan", _steps(name).fan_out),
        ],
    )
    for _ in range(2):
        off = run_pipeline(pipeline, root=root, cache=False)
        assert sorted(off.executed) == ["fan", "run"] and off.cache_hits == []
        assert off.output("run") == 6
        assert "0 item(s) from cache, 2 computed" in _map_log(root, off.run_id)
    # Nothing was written to the cache either: the first cached run computes everything.
    on = run_pipeline(pipeline, root=root)
    assert sorted(on.executed) == ["fan", "run"]
    again = run_pipeline(pipeline, root=root)
    assert sorted(again.cache_hits) == ["fan", "run"]
