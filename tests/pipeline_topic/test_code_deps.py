"""The default pipeline's ``code_deps`` name all the code each step runs.

Declared code deps are taken as given (imports are not followed), so a step
that starts calling into a package it does not declare would reuse results
after an edit there. This runs the pipeline with a profiler on the step
thread and checks every topicstrata module whose code ran inside a step.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from _support.runs import CHEAP_CONFIG, write_dirty_opportunities
from topicstrata.config import StrataConfig
from topicstrata.pipeline import LocalExecutor, run_pipeline
from topicstrata.pipeline.codebase import module_names
from topicstrata.pipeline.topic import build_pipeline

#: Code that never decides a result: errors, progress, fault points, the version, the SDK itself.
INFRA = (
    "topicstrata",
    "topicstrata.errors",
    "topicstrata._progress",
    "topicstrata._faults",
    "topicstrata._version",
)


def _settings_only(module: str, covered: set[str]) -> bool:
    """``topicstrata.config`` validates every section, so a step that covers it runs the
    other sections' settings modules too; those decide other steps' results, not this one's."""
    return "topicstrata.config" in covered and module.endswith(".config")


def test_every_module_a_step_runs_is_covered_by_its_code_deps(tmp_path):
    write_dirty_opportunities(tmp_path / "opps.csv", rows=300)
    pipeline = build_pipeline(2)
    by_code = {s.func.__code__: s.func for s in pipeline.steps.values() if s.func is not None}
    ran: dict[Any, set[str]] = defaultdict(set)
    inside: list[Any] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call":
            if code in by_code:
                inside.append(code)
            elif inside:
                module = frame.f_globals.get("__name__", "")
                if module.startswith("topicstrata"):
                    ran[inside[-1]].add(module)
        elif event == "return" and code in by_code and inside:
            inside.pop()

    params = {
        "data": str(tmp_path / "opps.csv"),
        "output": str(tmp_path / "run"),
        "config": StrataConfig.from_dict(CHEAP_CONFIG).model_dump(mode="json"),
        "cache_dir": str(tmp_path / "cache"),
        "auto_approve": True,
    }
    # One worker thread, steps in it (not in processes), so the profiler sees them all;
    # 300 records stay below parallel_min_rows, so ctx.map runs in that thread too.
    threading.setprofile(profile)
    try:
        executor = LocalExecutor(max_workers=1, isolation="thread")
        result = run_pipeline(pipeline, params, root=tmp_path, executor=executor)
    finally:
        threading.setprofile(None)
    assert result.status == "succeeded"

    checked = 0
    for step in pipeline.steps.values():
        if step.func is None or step.code_deps is None:
            continue
        covered = {m for dep in step.code_deps for m in module_names(dep)}
        seen = ran[step.func.__code__]
        undeclared = {
            m
            for m in seen - covered
            if m not in INFRA
            and not m.startswith("topicstrata.pipeline")
            and not _settings_only(m, covered)
        }
        assert not undeclared, f"step {step.name!r} runs undeclared code: {sorted(undeclared)}"
        checked += 1
    assert checked >= 8
    # The profiler did see the domain code (the check above is not vacuous).
    layer = pipeline.steps["layer_1"].func
    assert layer is not None and "topicstrata.layers.cluster" in ran[layer.__code__]
