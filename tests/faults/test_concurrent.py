"""Issue 13, concurrency: two real ``strata fit`` processes on the same ``.strata/`` at the
same time, into two run directories or into the same one. Both must finish, each run
directory must hold the uninterrupted result (byte-identical assignments and topics, a
model whose manifest verifies), every stored artefact must verify, the run store must
pass ``PRAGMA integrity_check`` and record both runs as succeeded.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from _support.faults import RUN_LIMIT_S, _fit_cmd, check_store, integrity, reference_run, strata_env
from topicstrata.ensemble import verify_manifest
from topicstrata.pipeline import list_runs

RESULT_FILES = ("assignments.parquet", "topics.parquet")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return reference_run(tmp_path_factory.mktemp("concurrent"))


def _start(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    out = log.open("w", encoding="utf-8")
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def _wait_for_steps(trace: Path, n: int, proc: subprocess.Popen[str]) -> None:
    """Until the first run has finished ``n`` steps (its fault trace, no kill armed)."""
    deadline = time.monotonic() + RUN_LIMIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        if trace.exists() and trace.read_text().count("step-end") >= n:
            return
        time.sleep(0.05)


@pytest.mark.parametrize("outputs", ["two-outputs", "one-output", "staggered-one-output"])
def test_two_fits_on_one_root_at_once_both_succeed(reference, tmp_path, outputs):
    data, config, ref = reference
    root = tmp_path / "root"
    root.mkdir()
    runs = [root / "run-a", root / "run-b"] if outputs == "two-outputs" else [root / "run"] * 2
    cmds = []
    for run in runs:
        cmd = _fit_cmd(data, root, config)
        cmd[cmd.index("-o") + 1] = str(run)
        cmds.append(cmd)
    first = _start(cmds[0], tmp_path / "log-a", strata_env(tmp_path / "trace-a"))
    if outputs.startswith("staggered"):
        # The second starts mid-run: it reuses what the first stored while the first
        # still writes the rest, and both write the same run directory.
        _wait_for_steps(tmp_path / "trace-a", 6, first)
    second = _start(cmds[1], tmp_path / "log-b", strata_env())
    codes = [first.wait(RUN_LIMIT_S), second.wait(RUN_LIMIT_S)]
    logs = [(tmp_path / name).read_text() for name in ("log-a", "log-b")]
    assert codes == [0, 0], "\n\n".join(logs)
    for run in set(runs):
        for name in RESULT_FILES:
            assert (run / name).read_bytes() == (ref / name).read_bytes(), (run, name)
        verify_manifest(run / "model")  # complete and consistent, not two writers' mix
        assert not [p.name for p in run.iterdir() if p.name.startswith(".") and p.is_dir()]
    assert not [p.name for p in root.iterdir() if p.name.startswith(".run")]  # staging left
    store_ok, leftover = check_store(root)
    assert store_ok and leftover == 0
    assert integrity(root) == "ok"
    statuses = sorted(r.status for r in list_runs(root))
    assert statuses == ["succeeded", "succeeded"], statuses


def test_a_second_writer_of_a_run_directory_waits_and_says_so(tmp_path, caplog):
    import threading

    from topicstrata.errors import OutputError
    from topicstrata.run.outputs import exclusive

    run = tmp_path / "run"
    busy = r"run was still being written by another process"
    with exclusive(run), pytest.raises(OutputError, match=busy), exclusive(run, wait_s=0.2):
        pass
    assert "is being written by another process; waiting for it" in caplog.text
    # The first writer finishing lets the waiting one in.
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with exclusive(run):
            held.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with exclusive(run, wait_s=10):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]
