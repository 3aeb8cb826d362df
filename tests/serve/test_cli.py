"""`strata serve`: refusals before listening, and a real uvicorn process over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from _support.serve import as_payload
from topicstrata.cli import app
from topicstrata.run.predict import predict_file

runner = CliRunner()


def test_a_public_host_without_keys_is_refused(run_dir: Path, monkeypatch) -> None:
    monkeypatch.delenv("STRATA_API_KEYS", raising=False)
    monkeypatch.delenv("STRATA_ADMIN_KEYS", raising=False)
    result = runner.invoke(app, ["serve", str(run_dir), "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "without API keys" in result.output and "--insecure" in result.output


def test_a_missing_source_is_one_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", str(tmp_path / "no" / "such")])
    assert result.exit_code == 1
    assert "not a registry reference" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _strata() -> list[str]:
    script = Path(sys.executable).with_name("strata")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from topicstrata.cli import main; main()"]


def _wait_until(check, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not get there in time")


def test_a_real_server_predicts_over_http_and_reloads_on_sighup(
    run_dir: Path, records: pd.DataFrame, tmp_path: Path
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    proc = subprocess.Popen(
        [*_strata(), "serve", str(run_dir), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            _wait_until(lambda: http.get("/readyz").status_code == 200, proc)
            frame = records.head(10)
            response = http.post("/v1/predict", json={"records": as_payload(frame)})
            assert response.status_code == 200
            got = response.json()["predictions"]
            frame.to_csv(tmp_path / "new.csv", index=False)
            predict_file(run_dir, tmp_path / "new.csv", tmp_path / "out.parquet")
            want = pd.read_parquet(tmp_path / "out.parquet")
            assert [p["id"] for p in got] == want["id"].tolist()
            assert [p["path"] for p in got] == want["path"].tolist()
            assert [p["label"] for p in got] == want["label"].tolist()

            loaded_at = http.get("/v1/model").json()["loaded_at"]
            proc.send_signal(signal.SIGHUP)
            _wait_until(lambda: http.get("/v1/admin/reload").json()["reloads"] == 1, proc)
            status = http.get("/v1/admin/reload").json()
            assert status["state"] == "succeeded", status
            assert http.get("/v1/model").json()["loaded_at"] > loaded_at
            assert http.get("/healthz").json() == {"status": "ok"}
            assert "strata_requests_total" in http.get("/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output, output


def _workers(supervisor: int) -> set[int]:
    """PIDs of the uvicorn workers under ``supervisor`` (multiprocessing's tracker left out)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    workers = set()
    for pid in map(int, children):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # exited between the two reads
            continue
        if b"resource_tracker" not in cmdline:
            workers.add(pid)
    return workers


def test_several_workers_serve_and_sighup_replaces_each_without_a_gap(
    run_dir: Path, records: pd.DataFrame, tmp_path: Path
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    proc = subprocess.Popen(
        [*_strata(), "serve", str(run_dir), "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    frame = records.head(5)
    frame.to_csv(tmp_path / "new.csv", index=False)
    predict_file(run_dir, tmp_path / "new.csv", tmp_path / "out.parquet")
    want = pd.read_parquet(tmp_path / "out.parquet")["path"].tolist()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:

            def predicts() -> bool:
                response = http.post("/v1/predict", json={"records": as_payload(frame)})
                assert response.status_code == 200, response.text
                return [p["path"] for p in response.json()["predictions"]] == want

            _wait_until(lambda: len(_workers(proc.pid)) == 2, proc)
            _wait_until(lambda: http.get("/readyz").status_code == 200, proc)
            assert predicts()
            before = _workers(proc.pid)

            proc.send_signal(signal.SIGHUP)
            answered = 0

            def replaced() -> bool:
                nonlocal answered
                # The listening socket stays open: every request during the swap is answered.
                assert http.get("/healthz").status_code == 200
                answered += 1
                now = _workers(proc.pid)
                return len(now) == 2 and not now & before

            _wait_until(replaced, proc, seconds=240)
            assert answered > 1
            _wait_until(lambda: http.get("/readyz").status_code == 200, proc)
            assert predicts()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "Traceback" not in output, output


@pytest.mark.parametrize("host", ["::1"])
def test_ipv6_loopback_is_allowed_without_keys(host: str) -> None:
    from topicstrata.serve import ApiKeys
    from topicstrata.serve.settings import check_bind_host

    check_bind_host(host, ApiKeys(), insecure=False)
