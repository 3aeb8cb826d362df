"""Running pipelines: retries, timeouts, resume, callbacks, conditions, fan-out, metadata."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from _support import pipeline_steps as s
from _support.pipeline_steps import calls
from topicstrata.errors import PipelineError
from topicstrata.pipeline import (
    ConditionStep,
    FailStep,
    LocalExecutor,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Pipeline,
    PipelineHooks,
    ProcessingStep,
    Resources,
    RetryPolicy,
    RunFailedError,
    RunStore,
    TrainingStep,
    describe_run,
    list_runs,
    resume_run,
    run_pipeline,
    run_status,
)


@pytest.fixture
def counter(tmp_path):
    return str(tmp_path / "calls")


def test_retry_on_flaky_step_records_attempts(tmp_path, counter):
    step = ProcessingStep(
        "flaky",
        s.flaky,
        inputs={"counter": counter, "fail_times": 2},
        retry=RetryPolicy(attempts=3, backoff=0.01, exceptions=(ConnectionError,)),
    )
    result = run_pipeline(Pipeline("retry", [], [step]), root=tmp_path)
    assert result.status == "succeeded"
    assert result.steps["flaky"].attempts == 3
    assert calls(counter, "flaky") == 3


def test_retry_only_for_listed_exceptions(tmp_path, counter):
    step = ProcessingStep(
        "flaky",
        s.flaky,
        inputs={"counter": counter, "fail_times": 2},
        retry=RetryPolicy(attempts=3, backoff=0.01, exceptions=(ValueError,)),
    )
    with pytest.raises(RunFailedError, match="ConnectionError: transient failure") as info:
        run_pipeline(Pipeline("retry", [], [step]), root=tmp_path)
    record = info.value.result.steps["flaky"]
    assert record.status == "failed" and record.attempts == 1
    assert "Traceback" in (record.traceback or "")


def test_timeout_fails_the_step_with_a_clear_message(tmp_path):
    step = ProcessingStep("nap", s.sleepy, inputs={"seconds": 30.0}, timeout=1.0)
    with pytest.raises(RunFailedError, match=r"step 'nap' timed out after 1 s") as info:
        run_pipeline(Pipeline("slow", [], [step]), root=tmp_path)
    assert info.value.result.steps["nap"].duration_s < 15


def test_step_in_child_process_succeeds(tmp_path):
    step = ProcessingStep("nap", s.sleepy, inputs={"seconds": 0.0}, timeout=60)
    result = run_pipeline(Pipeline("child", [], [step]), root=tmp_path)
    assert result.output("nap") == "woke"


def test_library_logs_of_a_step_in_a_child_process_reach_the_parent(tmp_path, caplog):
    """A step run in a child process (here: it has a timeout) logs through library
    loggers; those records reach the run's step logger, as for a step run in-process."""
    step = ProcessingStep("talk", s.chatty, inputs={"message": "hello"}, timeout=60)
    # On the library's logger: an in-process CLI test before this one may have set it to
    # WARNING (as `strata` without -v does).
    with caplog.at_level(logging.INFO, logger="topicstrata"):
        run_pipeline(Pipeline("child-logs", [], [step]), root=tmp_path)
    forwarded = [r for r in caplog.records if r.name == "topicstrata.pipeline.step.talk"]
    assert [r.getMessage() for r in forwarded] == ["library says hello"]
    assert forwarded[0].levelno == logging.INFO


def _fragile_pipeline(flag: str, counter: str) -> Pipeline:
    n = ParameterInteger("n", default=3)
    make = ProcessingStep("make", s.make_numbers, inputs={"n": n, "counter": counter})
    tot = TrainingStep("total", s.total, inputs={"values": make.output(), "counter": counter})
    frag = ProcessingStep("fragile", s.fragile, inputs={"flag": flag, "value": tot.output()})
    return Pipeline("fragile", [n], [make, tot, frag])


def test_resume_after_failure_reuses_completed_steps(tmp_path, counter):
    flag = tmp_path / "flag"
    pipe = _fragile_pipeline(str(flag), counter)
    with pytest.raises(RunFailedError, match=r"flag file .* is missing") as info:
        run_pipeline(pipe, root=tmp_path)
    run_id = info.value.run_id
    assert run_status(tmp_path, run_id).status == "failed"
    flag.touch()
    result = resume_run(tmp_path, run_id, pipeline=pipe)
    assert result.run_id == run_id and result.status == "succeeded"
    assert set(result.cache_hits) == {"make", "total"}
    assert result.executed == ["fragile"]
    assert result.output("fragile") == 4.0
    assert calls(counter, "make") == 1 and calls(counter, "total") == 1


def test_callback_pauses_and_resume_with_output_continues(tmp_path, counter):
    pipe = s.build_pipeline()
    result = run_pipeline(pipe, {"counter": counter}, root=tmp_path)
    assert result.status == "waiting"
    assert result.steps["review"].status == "waiting"
    assert result.waiting is not None
    assert result.waiting["step"] == "review"
    assert "Check the metrics" in result.waiting["message"]
    assert f"resume {result.run_id}" in result.waiting["resume"]
    assert "apply" not in result.steps
    # Independent branches kept going while the callback waited.
    assert result.steps["register"].status == "succeeded"
    assert result.steps["stop"].status == "skipped"

    # No pipeline passed: rebuilt from the factory recorded with the run.
    resumed = resume_run(tmp_path, result.run_id, callback_output={"label": "billing"})
    assert resumed.status == "succeeded"
    assert resumed.output("apply") == "6:billing"
    assert resumed.steps["review"].status == "succeeded"
    assert {"make", "train", "evaluate", "register"} <= set(resumed.cache_hits)
    assert calls(counter, "make") == 1


def test_resume_with_callback_output_when_nothing_waits(tmp_path, counter):
    params = {"counter": counter, "auto_approve": True}
    result = run_pipeline(s.build_pipeline(), params, root=tmp_path)
    assert result.status == "succeeded"
    with pytest.raises(PipelineError, match="no step waiting"):
        resume_run(tmp_path, result.run_id, callback_output={"label": "x"})


def test_auto_approve_passes_through(tmp_path, counter):
    params = {"counter": counter, "auto_approve": True}
    result = run_pipeline(s.build_pipeline(), params, root=tmp_path)
    assert result.status == "succeeded"
    assert result.output("review") == {"total": 6.0}
    assert result.output("apply") == "6:none"


def test_condition_selects_if_branch_and_skips_else(tmp_path, counter):
    result = run_pipeline(
        s.build_pipeline(), {"counter": counter, "auto_approve": True, "threshold": 5.0}, tmp_path
    )
    assert result.output("gate") is True
    assert result.steps["register"].status == "succeeded"
    assert result.steps["stop"].status == "skipped"
    assert "did not select" in (result.steps["stop"].error or "")


def test_condition_else_branch_fail_step_fails_the_run(tmp_path, counter):
    params = {"counter": counter, "auto_approve": True, "threshold": 100.0}
    with pytest.raises(RunFailedError, match=r"total \{'total': 6.0\} below threshold") as info:
        run_pipeline(s.build_pipeline(), params, tmp_path)
    steps = info.value.result.steps
    assert steps["stop"].status == "failed"
    assert steps["register"].status == "skipped"
    assert calls(counter, "register") == 0
    assert run_status(tmp_path, info.value.run_id).status == "failed"


def test_skipped_step_skips_its_dependents(tmp_path, counter):
    t = ParameterFloat("threshold", default=100.0)
    met = ProcessingStep("metrics", s.metrics, inputs={"value": 6.0})
    reg = ProcessingStep("register", s.register, inputs={"value": 1.0, "counter": counter})
    after = ProcessingStep("after", s.metrics, inputs={"value": reg.output()})
    gate = ConditionStep("gate", s.quality_ok, {"metrics": met.output(), "threshold": t}, [reg])
    result = run_pipeline(Pipeline("skip", [t], [met, gate, after]), root=tmp_path)
    assert result.status == "succeeded"
    assert result.steps["register"].status == "skipped"
    assert result.steps["after"].status == "skipped"


def test_fail_step_alone(tmp_path):
    with pytest.raises(RunFailedError, match="FailStep: stop here"):
        run_pipeline(Pipeline("f", [], [FailStep("halt", "stop here")]), root=tmp_path)


def _fanout(counter: str, cpus: float = 1.0) -> Pipeline:
    n = ParameterInteger("n", default=9)
    k = ParameterInteger("k", default=3)
    c = ParameterString("counter", default=counter)
    groups = ProcessingStep("split", s.split, inputs={"n": n, "n_topics": k})
    fit = TrainingStep(
        "fit",
        s.fit_all,
        inputs={"groups": groups.output(), "counter": c},
        resources=Resources(cpus=cpus),
    )
    return Pipeline("fanout", [n, k, c], [groups, fit])


def test_map_caches_each_item(tmp_path, counter):
    first = run_pipeline(_fanout(counter), root=tmp_path)
    assert first.output("fit")["t0"] == {"topic": "t0", "size": 3, "sum": 9}
    assert [calls(counter, f"fit-t{i}") for i in range(3)] == [1, 1, 1]
    assert "3 computed" in (first.steps["fit"].log or "")
    # n=10 adds document 9 to topic t0 only: t1 and t2 come from the item cache.
    second = run_pipeline(_fanout(counter), {"n": 10}, root=tmp_path)
    assert second.executed == ["split", "fit"]
    assert second.output("fit")["t0"]["size"] == 4
    assert [calls(counter, f"fit-t{i}") for i in range(3)] == [2, 1, 1]
    assert "2 item(s) from cache, 1 computed" in (second.steps["fit"].log or "")
    writes = {r["name"] for r in RunStore(tmp_path).lineage(second.run_id, "fit")}
    assert {"output", "map:map fit_topic:t0", "map:map fit_topic:t2"} <= writes


def test_map_in_parallel_processes(tmp_path, counter):
    result = run_pipeline(_fanout(counter, cpus=2), {"n": 8, "k": 4}, root=tmp_path)
    assert sorted(result.output("fit")) == ["t0", "t1", "t2", "t3"]
    assert [calls(counter, f"fit-t{i}") for i in range(4)] == [1, 1, 1, 1]


def test_sqlite_metadata_and_lineage(tmp_path, counter):
    pipe = _fragile_pipeline(str(tmp_path), counter)
    result = run_pipeline(pipe, root=tmp_path)
    db = tmp_path / ".strata" / "strata.db"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        run = con.execute("SELECT pipeline, status, parameters FROM runs").fetchone()
        assert run == ("fragile", "succeeded", '{"n": 3}')
        rows = con.execute(
            "SELECT step, direction, name, sha256 FROM lineage WHERE run_id = ? ORDER BY step",
            (result.run_id,),
        ).fetchall()
    make_out = result.steps["make"].outputs["output"]
    total_out = result.steps["total"].outputs["output"]
    assert ("make", "write", "output", make_out) in rows
    assert ("total", "read", "values", make_out) in rows
    assert ("total", "write", "output", total_out) in rows
    assert ("fragile", "read", "value", total_out) in rows
    assert (tmp_path / ".strata" / "artifacts" / make_out / "meta.json").is_file()
    info = describe_run(tmp_path, result.run_id[:12])
    assert [st["step"] for st in info["steps"]] == ["make", "total", "fragile"]
    assert all(st["duration_s"] is not None for st in info["steps"])
    assert list_runs(tmp_path)[0].run_id == result.run_id


def test_missing_requirement_fails_before_running(tmp_path, counter):
    step = ProcessingStep(
        "make",
        s.make_numbers,
        inputs={"n": 1, "counter": counter},
        requirements=["numpy", "definitely_not_installed_pkg>=1"],
    )
    with pytest.raises(PipelineError, match="needs 'definitely_not_installed_pkg>=1'"):
        run_pipeline(Pipeline("req", [], [step]), root=tmp_path)
    assert calls(counter, "make") == 0
    assert list_runs(tmp_path) == []


class Recorder(PipelineHooks):
    def __init__(self):
        self.events = []
        self.tasks = []

    def on_step_start(self, run_id, step, kind):
        self.events.append(("start", step))

    def on_cache_hit(self, run_id, step):
        self.events.append(("hit", step))

    def on_progress(self, run_id, step, task, done, total):
        self.events.append(("progress", step, done, total))
        self.tasks.append((step, task, done, total))

    def on_step_end(self, run_id, step, status, duration_s, cache_hit, error):
        self.events.append(("end", step, status))

    def on_run_end(self, run_id, status):
        self.events.append(("run", status))


def test_hooks_report_lifecycle_and_progress(tmp_path, counter):
    rec = Recorder()
    run_pipeline(_fanout(counter), root=tmp_path, hooks=[rec], executor=LocalExecutor(2))
    assert ("start", "fit") in rec.events and ("end", "fit", "succeeded") in rec.events
    assert ("progress", "fit", 3, 3) in rec.events
    assert rec.events[-1] == ("run", "succeeded")
    rec2 = Recorder()
    run_pipeline(_fanout(counter), root=tmp_path, hooks=[rec2])
    assert ("hit", "split") in rec2.events and ("hit", "fit") in rec2.events


def test_progress_reported_inside_a_map_item_reaches_the_hooks(tmp_path, counter):
    # One item can be most of a step (layer 1 assigns every record in one item): what
    # it reports shows under the map's label, so the CLI draws a bar with an ETA.
    rec = Recorder()
    run_pipeline(_fanout(counter), {"n": 6, "k": 2}, root=tmp_path, hooks=[rec])
    inner = [(step, d, t) for step, task, d, t in rec.tasks if task == "map fit_topic: docs"]
    assert inner.count(("fit", 3, 3)) == 2 and ("fit", 1, 3) in inner
    # Outside a map nothing is listening: report() is a no-op, not an error.
    s.fit_topic("t9", [1, 2], counter)


def test_killed_run_resumes_from_last_completed_step(tmp_path, counter):
    """Kill the process while a step runs; resume reuses what was committed."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    tests_dir = Path(__file__).resolve().parents[1]
    flag = tmp_path / "flag"
    script = (
        "from _support.pipeline_steps import build_slow_pipeline\n"
        "from topicstrata.pipeline import run_pipeline\n"
        f"run_pipeline(build_slow_pipeline(), {{'counter': {counter!r}, 'flag': {str(flag)!r}}},"
        f" root={str(tmp_path)!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests_dir), *sys.path])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 60
        store = None
        while time.monotonic() < deadline:
            if (tmp_path / ".strata" / "strata.db").exists():
                store = store or RunStore(tmp_path)
                runs = store.list_runs()
                if runs:
                    steps = {r.step: r.status for r in store.get_steps(runs[0].run_id)}
                    if steps.get("wait") == "running":
                        break
            time.sleep(0.05)
        else:
            pytest.fail("the child run never reached the waiting step")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    run_id = RunStore(tmp_path).list_runs()[0].run_id
    # Nobody could record the kill; the next reader sees the process is gone.
    killed = run_status(tmp_path, run_id)
    assert killed.status == "interrupted"
    assert killed.steps["wait"].status == "interrupted"
    assert f"process {proc.pid}" in (killed.error or "") and "wait" in (killed.error or "")
    flag.touch()
    result = resume_run(tmp_path, run_id)
    assert result.status == "succeeded"
    assert set(result.cache_hits) == {"make", "train"}
    assert result.output("wait") == 30.0
    assert calls(counter, "make") == 1 and calls(counter, "total") == 1
    history = describe_run(tmp_path, run_id)["history"]
    assert [e["event"] for e in history] == ["started", "interrupted", "resumed"]
    assert history[2]["detail"].startswith("from interrupted")


def test_map_inside_a_child_process_step_exits_cleanly(tmp_path, counter):
    """A timed step runs in a child; its ctx.map pool must not keep the child alive."""
    pipe = _fanout(counter, cpus=2)
    pipe.steps["fit"].timeout = 120
    result = run_pipeline(pipe, root=tmp_path)
    assert sorted(result.output("fit")) == ["t0", "t1", "t2"]
    # A hang guard, not a benchmark: idle pool workers used to hold the child for minutes.
    assert result.steps["fit"].duration_s < 60


@pytest.mark.parametrize("above, isolated", [(1, True), (10**12, False)])
def test_steps_with_large_inputs_run_in_a_child_process(tmp_path, counter, above, isolated):
    """isolation="auto": a step reading at least ``process_above_bytes`` of artefacts
    runs in its own process (its memory is freed when it ends); others in a thread."""
    import os

    make = ProcessingStep("make", s.make_numbers, inputs={"n": 50, "counter": counter})
    where = ProcessingStep("where", s.pid_of, inputs={"numbers": make.output()})
    executor = LocalExecutor(max_workers=1, process_above_bytes=above)
    result = run_pipeline(Pipeline("iso", [], [make, where]), root=tmp_path, executor=executor)
    assert result.status == "succeeded"
    assert (result.output("where") != os.getpid()) is isolated


def test_a_compressed_table_counts_by_its_loaded_size(tmp_path):
    """A Parquet artefact counts toward ``process_above_bytes`` by its uncompressed size:
    a million records' table is a third of its in-memory size on disk."""
    import numpy as np
    import pandas as pd

    from topicstrata.pipeline import ArtifactStore
    from topicstrata.pipeline.executor import StepTask, input_bytes

    store = ArtifactStore(tmp_path)
    # Distinct rows (no dictionary encoding) that compress well, as CRM texts do.
    frame = pd.DataFrame(
        {"text": [f"{i}: a long sentence, over and over " * 8 for i in range(20_000)]}
    )
    info = store.put(frame)
    numbers = store.put(np.arange(1000))
    loaded = store.loaded_size(info.sha256)
    assert info.serializer == "parquet" and loaded > 3 * info.size
    assert store.loaded_size(numbers.sha256) == store.info(numbers.sha256).size
    task = StepTask(
        run_id="r",
        step="t",
        kind="processing",
        func=len,
        inputs={"frame": ("artifact", info.sha256), "n": ("artifact", numbers.sha256)},
        output_names=("output",),
        root=str(tmp_path),
    )
    assert input_bytes(task) == loaded + store.info(numbers.sha256).size
    # A path to a data file (what ingest reads) counts as that file, loaded.
    frame.to_parquet(tmp_path / "records.parquet")
    (tmp_path / "records.csv").write_text("id,text\n1,hello\n", encoding="utf-8")
    named = store.put(tmp_path / "records.parquet")
    assert named.serializer == "path" and store.loaded_size(named.sha256) > 20 * named.size
    csv = store.put(tmp_path / "records.csv")
    assert store.loaded_size(csv.sha256) == (tmp_path / "records.csv").stat().st_size
