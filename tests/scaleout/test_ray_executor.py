"""Issue 15: the fan-out protocol and the pipeline executor on a local Ray (2 CPUs).

One Ray for the module (starting it costs seconds); every test uses real Ray tasks.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from _support.fanout_items import fail_on, square_with_pid
from _support.pipeline_steps import build_pipeline, calls, chatty, fit_all, sleepy, split
from topicstrata.errors import ConfigError
from topicstrata.fanout import LocalFanOut, make_fanout
from topicstrata.pipeline import (
    Pipeline,
    PipelineHooks,
    ProcessingStep,
    Resources,
    RunFailedError,
    TrainingStep,
    make_executor,
    run_pipeline,
    run_status,
)

ray = pytest.importorskip("ray", reason="the Ray executor needs `pip install 'topicstrata[ray]'`")

from topicstrata.pipeline.ray_executor import RayExecutor  # noqa: E402
from topicstrata.raycluster import RayFanOut, RayStallError  # noqa: E402

pytestmark = pytest.mark.usefixtures("local_ray")


def test_ray_fanout_runs_items_as_ray_tasks_in_item_order():
    items = {k: {"x": x} for k, x in zip("cab", (3, 1, 2), strict=True)}
    out = RayFanOut()(square_with_pid, items)
    assert list(out) == ["c", "a", "b"]
    assert [v[0] for v in out.values()] == [9, 1, 4]
    assert os.getpid() not in {v[1] for v in out.values()}
    # Same results as the local protocol: one contract, two engines.
    local = LocalFanOut(2).map(square_with_pid, items)
    assert [v[0] for v in local.values()] == [v[0] for v in out.values()]


def test_in_flight_tasks_are_bounded_and_default_to_the_cluster_cpus():
    assert RayFanOut(max_in_flight=1).workers(10) == 1
    assert RayFanOut().workers(10) == 2  # num_cpus=2 above, one CPU per task
    assert RayFanOut(num_cpus=0.5).workers(10) == 4
    assert RayFanOut().workers(1) == 1


def test_an_item_that_raises_raises_its_own_error_type():
    with pytest.raises(ValueError, match="item 2 is bad"):
        RayFanOut().map(fail_on, {i: {"x": i, "bad": 2} for i in range(4)})


def test_a_task_that_cannot_be_scheduled_fails_after_the_stall_timeout_instead_of_hanging():
    fanout = RayFanOut(num_cpus=64, stall_timeout=2)  # no node has 64 CPUs
    with pytest.raises(RayStallError, match=r"still running: 'only'.*ray status"):
        fanout.map(square_with_pid, {"only": {"x": 1}})


def test_make_fanout_and_make_executor_name_what_is_wrong():
    assert isinstance(make_fanout("ray", n_jobs=-1), RayFanOut)
    assert isinstance(make_executor("ray"), RayExecutor)
    with pytest.raises(ConfigError, match="--executor 'dask' is not an executor; choose one of"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="--address ray://h:10001 names a Ray cluster"):
        make_fanout("local", address="ray://h:10001")


def test_a_pipeline_on_ray_gives_the_local_outputs_and_shares_the_cache(tmp_path):
    counter = str(tmp_path / "counter")
    params = {"counter": counter, "auto_approve": True}
    on_ray = run_pipeline(build_pipeline(), params, root=tmp_path, executor=RayExecutor())
    assert on_ray.status == "succeeded"
    assert calls(counter, "make") == calls(counter, "total") == calls(counter, "register") == 1
    local = run_pipeline(build_pipeline(), params, root=tmp_path)
    assert local.output("apply") == on_ray.output("apply") == "6:none"
    assert calls(counter, "make") == calls(counter, "total") == 1  # every step from the cache
    # And the other way round, in a fresh root: the local run first.
    other = tmp_path / "other"
    fresh = {**params, "counter": str(other / "c")}
    run_pipeline(build_pipeline(), fresh, root=other)
    again = run_pipeline(build_pipeline(), fresh, root=other, executor=RayExecutor())
    assert again.output("apply") == "6:none" and calls(other / "c", "make") == 1


def _fan_pipeline(counter: Path) -> Pipeline:
    groups = ProcessingStep("split", split, inputs={"n": 12, "n_topics": 3})
    fit = TrainingStep(
        "fit",
        fit_all,
        inputs={"groups": groups.output(), "counter": str(counter)},
        resources=Resources(cpus=2),
    )
    return Pipeline("fan", [], [groups, fit])


class _Events(PipelineHooks):
    def __init__(self) -> None:
        self.progress: list[tuple[str, int, int | None]] = []

    def on_progress(self, run_id, step, task, done, total):
        self.progress.append((task, done, total))


def test_ctx_map_items_of_a_step_on_ray_are_ray_tasks(tmp_path):
    hooks = _Events()
    pipeline = _fan_pipeline(tmp_path / "c")
    result = run_pipeline(pipeline, root=tmp_path, executor=RayExecutor(), hooks=[hooks])
    fitted = result.output("fit")
    assert {t: v["sum"] for t, v in fitted.items()} == {"t0": 18, "t1": 22, "t2": 26}
    log = run_status(tmp_path, result.run_id).steps["fit"].log or ""
    assert "3 computed in 2 Ray tasks at once" in log, log
    assert ("map fit_topic", 3, 3) in hooks.progress  # progress reached the driver's hooks
    assert all(calls(tmp_path / "c", f"fit-t{t}") == 1 for t in range(3))
    # Locally, in a fresh root, the same results.
    local = run_pipeline(_fan_pipeline(tmp_path / "c2"), root=tmp_path / "local")
    assert local.output("fit") == fitted


def test_a_step_past_its_timeout_on_ray_is_cancelled_and_fails(tmp_path):
    step = ProcessingStep("nap", sleepy, inputs={"seconds": 60}, timeout=2)
    with pytest.raises(RunFailedError) as failed:
        run_pipeline(Pipeline("naps", [], [step]), root=tmp_path, executor=RayExecutor())
    error = failed.value.result.steps["nap"].error or ""
    assert "StepTimeoutError" in error and "timed out after 2 s" in error


def test_library_logs_of_a_step_on_ray_reach_the_driver(tmp_path, caplog):
    step = ProcessingStep("talk", chatty, inputs={"message": "hello from ray"})
    with caplog.at_level(logging.INFO, logger="topicstrata"):
        run_pipeline(Pipeline("talk", [], [step]), root=tmp_path, executor=RayExecutor())
    forwarded = [r for r in caplog.records if r.name == "topicstrata.pipeline.step.talk"]
    assert [r.getMessage() for r in forwarded] == ["library says hello from ray"]


def test_a_step_asking_for_more_than_its_node_has_runs_scaled_down(tmp_path):
    step = ProcessingStep(
        "big", sleepy, inputs={"seconds": 0}, resources=Resources(cpus=64, memory="4TB")
    )
    result = run_pipeline(Pipeline("big", [], [step]), root=tmp_path, executor=RayExecutor())
    assert result.status == "succeeded" and result.output("big") == "woke"
