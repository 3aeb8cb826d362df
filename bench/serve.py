"""`strata serve` against MLflow's own scoring server, on the same registered version (issue 16).

One run: fit a model on synthetic opportunities (or reuse ``--run``), register and
approve it in a local MLflow registry, then serve that version with MLflow's scoring
server (``mlflow models serve -m models:/NAME/VERSION --env-manager local``) and with
``strata serve NAME/VERSION`` (loopback, an API key), one after the other, each as a
subprocess stopped by its own process group. The load generator is httpx async, in
this process; both servers get the same held-out records (``strata synth`` with
another seed):

* single-record latency p50 / p99 at concurrency 1, after a warm-up;
* records/s with batches of 32 at concurrency 1, 8 and 32;
* the RSS of the strata server process after 1 minute of load and after
  ``--soak-minutes`` of load, and their ratio (issue 16 asks equal within 5%).

Prints a markdown table and writes JSON to ``--out``. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from _common import busy_processes
from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BATCH = 32
CONCURRENCY = (1, 8, 32)
API_KEY = "bench-serve-key-0123456789abcdef"


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    started = time.perf_counter()
    print(f"$ {' '.join(args)}", flush=True)
    subprocess.run(args, cwd=cwd, env=env, check=True)
    print(f"  done in {time.perf_counter() - started:.0f}s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident set size of one process (``VmRSS``), in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and its descendants (MLflow's server runs its model in a child)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += rss_mb(p)
        except (OSError, RuntimeError):
            continue
        todo.extend(children.get(p, []))
    return total


class Server:
    """A server subprocess in its own process group, stopped by that group's id."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.name = name
        self.log = log.open("w")
        print(f"$ {' '.join(args)}", flush=True)
        self.proc = subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, url: str, timeout_s: float = 600) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log.name}"
                )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} not ready after {timeout_s}s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class Target:
    """How one server is called: URL, headers and the body for a list of records."""

    def __init__(
        self,
        name: str,
        url: str,
        headers: dict[str, str],
        body: Callable[[list[dict[str, Any]]], dict[str, Any]],
        count: Callable[[dict[str, Any]], int],
    ):
        self.name, self.url, self.headers, self.body, self.count = name, url, headers, body, count


def strata_target(port: int) -> Target:
    return Target(
        "topicstrata",
        f"http://127.0.0.1:{port}/v1/predict",
        {"Authorization": f"Bearer {API_KEY}"},
        lambda records: {"records": records},
        lambda answer: len(answer["predictions"]),
    )


def mlflow_target(port: int) -> Target:
    return Target(
        "mlflow",
        f"http://127.0.0.1:{port}/invocations",
        {},
        lambda records: {"dataframe_records": records},
        lambda answer: len(answer["predictions"]),
    )


async def call(client: httpx.AsyncClient, target: Target, records: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    response = await client.post(target.url, json=target.body(records), headers=target.headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{target.name}: {response.status_code} {response.text[:500]}")
    if target.count(response.json()) != len(records):
        raise RuntimeError(f"{target.name}: answered a different number of predictions")
    return elapsed


async def single_latency(
    target: Target, records: list[dict[str, Any]], warmup: int, n: int
) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=120) as client:
        for i in range(warmup):
            await call(client, target, [records[i % len(records)]])
        times = [await call(client, target, [records[i % len(records)]]) for i in range(n)]
    ms = np.array(times) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "requests": n,
    }


async def batch_load(
    target: Target, batches: list[list[dict[str, Any]]], concurrency: int, seconds: float
) -> dict[str, float]:
    """``concurrency`` clients sending batches back to back for ``seconds``; records/s."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    done = {"records": 0, "requests": 0}
    latencies: list[float] = []
    next_batch = iter(range(10**9))

    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        for b in batches[:2]:  # warm the connection and this batch size
            await call(client, target, b)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                batch = batches[next(next_batch) % len(batches)]
                latencies.append(await call(client, target, batch))
                done["records"] += len(batch)
                done["requests"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "records_per_s": done["records"] / elapsed,
        "requests": done["requests"],
        "seconds": elapsed,
        "batch_p50_ms": float(np.percentile(np.array(latencies) * 1000, 50)),
    }


async def soak(
    target: Target,
    records: list[dict[str, Any]],
    batches: list[list[dict[str, Any]]],
    pid: int,
    minutes: float,
) -> dict[str, Any]:
    """Mixed load (8 batch clients, 1 single-record client); RSS sampled every 15 s."""
    deadline = time.perf_counter() + minutes * 60
    started = time.perf_counter()
    samples: list[tuple[float, float]] = []
    counter = {"records": 0}

    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=16)) as client:

        async def batch_worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                await call(client, target, batches[i % len(batches)])
                counter["records"] += BATCH
                i += 8

        async def single_worker() -> None:
            i = 0
            while time.perf_counter() < deadline:
                await call(client, target, [records[i % len(records)]])
                counter["records"] += 1
                i += 1

        async def sampler() -> None:
            while time.perf_counter() < deadline:
                samples.append((time.perf_counter() - started, rss_mb(pid)))
                print(f"  soak {samples[-1][0]:5.0f}s  rss {samples[-1][1]:.1f} MiB", flush=True)
                await asyncio.sleep(15)

        await asyncio.gather(sampler(), single_worker(), *(batch_worker(k) for k in range(8)))
    end_rss = rss_mb(pid)
    at_1min = next(r for t, r in samples if t >= 60) if any(t >= 60 for t, _ in samples) else None
    return {
        "minutes": minutes,
        "records": counter["records"],
        "rss_1min_mb": at_1min,
        "rss_end_mb": end_rss,
        "ratio_end_over_1min": end_rss / at_1min if at_1min else None,
        "samples": [{"t_s": round(t, 1), "rss_mb": round(r, 2)} for t, r in samples],
    }


def measure(
    target: Target,
    records: list[dict[str, Any]],
    batches: list[list[dict[str, Any]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    result["single"] = asyncio.run(single_latency(target, records, args.warmup, args.single))
    print(f"  {target.name} single: {result['single']}", flush=True)
    for c in CONCURRENCY:
        point = asyncio.run(batch_load(target, batches, c, args.point_seconds))
        result[f"batch32_c{c}"] = point
        print(f"  {target.name} batch32 c={c}: {point}", flush=True)
    return result


def prepare_model(args: argparse.Namespace, work: Path, env: dict[str, str]) -> Path:
    run_dir = args.run
    if run_dir is None:
        data = work / "opps.parquet"
        run_dir = work / "run"
        run_cli(
            [
                str(BIN / "strata"),
                "synth",
                "--rows",
                str(args.rows),
                "--seed",
                "0",
                "-o",
                str(data),
            ],
            work,
            env,
        )
        run_cli(
            [str(BIN / "strata"), "fit", str(data), "-o", str(run_dir), "--root", str(work)],
            work,
            env,
        )
    return Path(run_dir).resolve()


def register(run_dir: Path, name: str, tracking_uri: str, work: Path) -> int:
    """Register the run as a new version of ``name`` and approve it; returns the version."""
    os.chdir(work)  # MLflow's default artefact root (./mlartifacts, ./mlruns) lands here
    from topicstrata.registry import approve, register_model

    info = register_model(run_dir, name, tracking_uri=tracking_uri)
    approve(name, info.version, tracking_uri=tracking_uri)
    print(f"registered {run_dir} as {name}/{info.version} (approved) in {tracking_uri}", flush=True)
    return int(info.version)


def held_out_records(work: Path, env: dict[str, str], n: int) -> list[dict[str, Any]]:
    path = work / "heldout.parquet"
    if not path.exists():
        run_cli(
            [str(BIN / "strata"), "synth", "--rows", str(n), "--seed", "1", "-o", str(path)],
            work,
            env,
        )
    frame = pd.read_parquet(path).head(n)
    frame = frame[["id", *OPPORTUNITY_TEXT_FIELDS]].astype(object)
    frame["id"] = frame["id"].astype(str)
    # Missing fields (synth leaves some customer_needs empty) travel as JSON null.
    return frame.where(frame.notna(), None).to_dict("records")


def table(results: dict[str, Any]) -> str:
    s, m = results["topicstrata"], results["mlflow"]
    lines = [
        "| method | metric | value | ratio |",
        "|---|---|---|---|",
    ]

    def row(method: str, metric: str, value: str, ratio: str = "") -> None:
        lines.append(f"| {method} | {metric} | {value} | {ratio} |")

    for key, what in (("p50_ms", "p50"), ("p99_ms", "p99")):
        metric = f"1 record, {what} latency (ms)"
        row("MLflow", metric, f"{m['single'][key]:.1f}")
        speedup = m["single"][key] / s["single"][key]
        row("topicstrata", metric, f"{s['single'][key]:.1f}", f"{speedup:.2f} (speed vs MLflow)")
    for c in CONCURRENCY:
        key, metric = f"batch32_c{c}", f"batches of 32, concurrency {c} (records/s)"
        row("MLflow", metric, f"{m[key]['records_per_s']:.0f}")
        speedup = s[key]["records_per_s"] / m[key]["records_per_s"]
        row(
            "topicstrata",
            metric,
            f"{s[key]['records_per_s']:.0f}",
            f"{speedup:.2f} (speed vs MLflow)",
        )
    row("MLflow", "RSS after the load above, process tree (MiB)", f"{m['rss_mb']:.0f}")
    row("topicstrata", "RSS after the load above (MiB)", f"{s['rss_mb']:.0f}")
    soak_result = results.get("soak")
    if soak_result and soak_result["rss_1min_mb"]:
        row(
            "topicstrata", "RSS after 1 min of soak load (MiB)", f"{soak_result['rss_1min_mb']:.1f}"
        )
        row(
            "topicstrata",
            f"RSS after {soak_result['minutes']:g} min of soak load (MiB)",
            f"{soak_result['rss_end_mb']:.1f}",
            f"{soak_result['ratio_end_over_1min']:.3f} of the 1-min RSS",
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="reuse this fitted run directory")
    parser.add_argument("--work", type=Path, default=REPO / ".strata" / "bench-serve")
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic rows to fit on")
    parser.add_argument("--name", default="bench-serve")
    parser.add_argument("--records", type=int, default=2_000, help="held-out records to send")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--single", type=int, default=300, help="single-record requests timed")
    parser.add_argument("--point-seconds", type=float, default=20.0, help="seconds per batch point")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve.json")
    args = parser.parse_args()

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
    )
    env.update(TOPICSTRATA_TRACKING_URI=tracking_uri, MLFLOW_TRACKING_URI=tracking_uri)
    # `mlflow models serve` execs `uvicorn` by name.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"

    run_dir = prepare_model(args, work, env)
    version = register(run_dir, args.name, tracking_uri, work)
    records = held_out_records(work, env, args.records)
    batches = [records[i : i + BATCH] for i in range(0, len(records) - BATCH + 1, BATCH)]
    results: dict[str, Any] = {
        "conditions": {
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "busy_start": busy_processes(),
            "python": platform.python_version(),
            "run_dir": str(run_dir),
            "model": f"{args.name}/{version}",
            "tracking_uri": tracking_uri,
            "records": len(records),
            "warmup": args.warmup,
            "single_requests": args.single,
            "point_seconds": args.point_seconds,
        }
    }

    port = free_port()
    mlflow = Server(
        "mlflow",
        [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{args.name}/{version}",
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        env, work, work / "mlflow-serve.log",
    )  # fmt: skip
    try:
        results["mlflow_ready_s"] = mlflow.wait_ready(f"http://127.0.0.1:{port}/ping")
        print(f"MLflow ready in {results['mlflow_ready_s']:.1f}s", flush=True)
        results["mlflow"] = measure(mlflow_target(port), records, batches, args)
        results["mlflow"]["rss_mb"] = tree_rss_mb(mlflow.proc.pid)
    finally:
        mlflow.stop()

    port = free_port()
    strata = Server(
        "topicstrata",
        [str(BIN / "strata"), "serve", f"{args.name}/{version}",
         "--host", "127.0.0.1", "--port", str(port)],
        dict(env, STRATA_API_KEYS=API_KEY), work, work / "strata-serve.log",
    )  # fmt: skip
    try:
        results["strata_ready_s"] = strata.wait_ready(f"http://127.0.0.1:{port}/readyz")
        print(f"topicstrata ready in {results['strata_ready_s']:.1f}s", flush=True)
        target = strata_target(port)
        results["topicstrata"] = measure(target, records, batches, args)
        results["topicstrata"]["rss_mb"] = rss_mb(strata.proc.pid)
        results["conditions"]["busy_under_load"] = busy_processes()
        if args.soak_minutes > 0:
            load = soak(target, records, batches, strata.proc.pid, args.soak_minutes)
            results["soak"] = asyncio.run(load)
    finally:
        strata.stop()

    results["conditions"]["loadavg_end"] = os.getloadavg()
    results["conditions"]["busy_end"] = busy_processes()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
