"""Issue 13, disk full and read-only output: the real ``strata fit`` with its run
directory, or its whole ``--root`` (run store, artefacts, caches), on a tiny or read-only
tmpfs. Each must fail with one clear message naming the path (no traceback), leave nothing
half-written that a later run could take as valid, and resume to the uninterrupted result
once space is back.

Mounting needs root (CAP_SYS_ADMIN); elsewhere these tests skip and say so.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from _support.faults import (
    STRATA,
    _fit_cmd,
    check_store,
    integrity,
    reference_run,
    run_logged,
    strata_env,
)
from topicstrata.ensemble import verify_manifest
from topicstrata.pipeline import list_runs

STRATA_RESULTS = ("assignments.parquet", "topics.parquet")


def _mount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    try:
        _mount(path, f"size={size}")
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); these tests need root")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return reference_run(tmp_path_factory.mktemp("disk"))


def _wide_env() -> dict[str, str]:
    return {**strata_env(), "COLUMNS": "1000"}  # rich wraps at the terminal width: no folded paths


def _fit(data: Path, config: Path, root: Path, run: Path, log: Path) -> tuple[int, str]:
    cmd = _fit_cmd(data, root, config)
    cmd[cmd.index("-o") + 1] = str(run)
    done = run_logged(cmd, _wide_env(), log, new_session=False)
    return done.returncode, log.read_text()


def _resume(root: Path, log: Path) -> tuple[int, str]:
    run_id = list_runs(root, limit=1)[0].run_id
    cmd = [STRATA, "pipeline", "resume", run_id, "--root", str(root)]
    done = run_logged(cmd, _wide_env(), log, new_session=False)
    return done.returncode, log.read_text()


def _one_clear_error(output: str, path: Path) -> str:
    assert "Traceback" not in output, output
    errors = re.findall(r"^error: (.*)$", output, flags=re.M)
    assert errors, output
    message = errors[-1]
    assert "cannot write" in message and str(path) in message, message
    assert "free space there or make it writable" in message
    return message


def _same_results(run: Path, reference: Path) -> None:
    for name in STRATA_RESULTS:
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    verify_manifest(run / "model")


def _no_half_written_files(run: Path) -> None:
    """Temporary files are gone; whatever sits under a final name is whole."""
    if not run.exists():
        return
    leftovers = [p.name for p in run.rglob(".*") if p.name != ".write.lock"]
    assert leftovers == [], leftovers
    if (run / "model").exists():
        verify_manifest(run / "model")


def test_read_only_run_directory_fails_before_any_work_then_resumes(reference, tmp_path):
    data, config, ref = reference
    root = tmp_path / "root"
    with tmpfs(tmp_path / "ro", "4m", read_only=True) as ro:
        code, output = _fit(data, config, root, ro / "run", tmp_path / "log")
        assert code == 1
        message = _one_clear_error(output, ro / "run")
        assert "Read-only file system" in message and "another --output" in message
        # Checked up front: nothing was computed before it failed.
        assert "preprocess" not in output, output
        remount(ro, "rw")
        code, output = _resume(root, tmp_path / "log")
        assert code == 0, output
        _same_results(ro / "run", ref)


def test_full_run_directory_fails_clearly_leaves_nothing_half_written_then_resumes(
    reference, tmp_path
):
    data, config, ref = reference
    root = tmp_path / "root"
    # 400 KB: the draft mappings fit, the run directory (1.6 MB here) does not.
    with tmpfs(tmp_path / "small", "400k") as small:
        code, output = _fit(data, config, root, small / "run", tmp_path / "log")
        assert code == 1
        message = _one_clear_error(output, small / "run")
        assert "No space left on device" in message
        assert "write_run" in output
        _no_half_written_files(small / "run")
        assert integrity(root) == "ok"
        remount(small, "size=20m")
        code, output = _resume(root, tmp_path / "log")
        assert code == 0, output
        _same_results(small / "run", ref)


@pytest.mark.parametrize("size", ["40k", "700k", "2500k"])
def test_full_root_fails_clearly_keeps_the_store_sound_then_resumes(reference, tmp_path, size):
    # 40k: the run store cannot even be created; 700k: it fills while recording steps;
    # 2500k: an artefact (a fitted layer) does not fit.
    data, config, ref = reference
    with tmpfs(tmp_path / "root", size) as root:
        code, output = _fit(data, config, root, tmp_path / "run", tmp_path / "log")
        assert code == 1
        _one_clear_error(output, root)  # names the store or the artefact folder under root
        if (root / ".strata" / "strata.db").exists():
            assert integrity(root) == "ok"
        store_ok, _ = check_store(root)
        assert store_ok  # no artefact under its final name that does not verify
        remount(root, "size=50m")
        recorded = (root / ".strata" / "strata.db").exists() and list_runs(root)
        if recorded:
            code, output = _resume(root, tmp_path / "log")
        else:
            code, output = _fit(data, config, root, tmp_path / "run", tmp_path / "log")
        assert code == 0, output
        store_ok, leftover = check_store(root)
        assert store_ok and leftover == 0
        _same_results(tmp_path / "run", ref)
