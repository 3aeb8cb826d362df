"""Studio page render times on runs of 20k, 100k and 1M synthetic records (issue 17).

Per size, one root folder under ``--workdir``: ``strata synth --rows N --seed 0``, then
``strata fit DATA -o ROOT/run --root ROOT --register bench-studio`` (the default
pipeline, or ``--config`` for sizes in ``--config-sizes``), so the run is recorded in
ROOT/.strata and its model has a row in the registry page. A rerun reuses a prepared
root (ROOT/prepared.json) and does not refit.

Then ``strata studio --root ROOT`` is started in a subprocess (a fresh process per size,
so each size's first requests read Parquet and its first map compiles UMAP) and every
page is requested with httpx: the first request of each page (cold: the studio caches
the frames it reads per file and mtime, so a page whose columns an earlier page read is
not fully cold) and the median of 5 more (warm), with status and bytes (as read, and on
the wire where the studio gzips a response). The document map is computed in the
studio's background thread on its first request: the time until ``map.json`` answers
200 is reported apart, with its sample size, before the ready map page and ``map.json``
are timed like the others. The mapping compare page compares the
last layer's mapping with an edited revision the benchmark writes next to it
(``mapping.vN.r2.yaml``, the first topic renamed), as a user's saved edit would be.

Then headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright, which never
downloads a browser) loads each HTML page: ``goto(url, wait_until="load")``, then waits
until every Plotly chart on the page has drawn (``.main-svg`` in each chart div; the map
draws after its script fetched ``map.json``). The time reported is ``performance.now()``
at that point: from navigation start to the charts drawn (on a page without a chart,
to just after its load event). First load and the median of 3 more in the same browser context
(``plotly.min.js`` cached, as for a user going from page to page).

Prints a markdown table per size and a line naming the pages over 2 s at the largest
size, optionally profiles those pages (cProfile through TestClient), and writes JSON to
``--out``. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import yaml

from _common import busy_processes

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_WORKDIR = Path("/work/bench-studio")
MODEL_NAME = "bench-studio"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
WARM = 5
BROWSER_REPEATS = 3
LIMIT_S = 2.0
#: True once every chart div on the page has drawn; then the time since navigation start.
CHARTS_DRAWN = """() => {
  const charts = [...document.querySelectorAll(".plotly-graph-div, #map")];
  if (!charts.every((c) => c.querySelector(".main-svg"))) { return false; }
  const map = document.getElementById("map");
  if (map && !map.querySelector("canvas")) { return false; }
  return {ms: performance.now(), charts: charts.length};
}"""


# --------------------------------------------------------------------------- machine
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_mb(pid: int, key: str) -> float:
    """``VmRSS`` or ``VmHWM`` of one process, in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for pid {pid}")


def git_state() -> dict[str, Any]:
    """The commit measured, and the files under src/ changed in the working tree."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "changed": git("status", "--short", "src").split("\n"),
    }


def conditions() -> dict[str, Any]:
    return {
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "loadavg": os.getloadavg(),
        "busy": busy_processes(),
    }


# --------------------------------------------------------------------------- prepare
def tracking_uri(root: Path) -> str:
    return f"sqlite:///{root / '.strata' / 'mlflow.db'}"


def run_cli(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    print(f"$ {' '.join(args)}  (output: {log})", flush=True)
    with log.open("a") as out:
        subprocess.run(args, cwd=cwd, env=env, check=True, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    print(f"  done in {elapsed:.0f} s", flush=True)
    return elapsed


def prepare(rows: int, workdir: Path, config: Path | None) -> dict[str, Any]:
    """Synthesize and fit one root for ``rows`` records, unless an earlier run did."""
    root = workdir / f"n{rows}"
    done = root / "prepared.json"
    if done.exists():
        print(f"reusing {root} (delete {done} to refit)", flush=True)
        return dict(json.loads(done.read_text()))
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["TOPICSTRATA_TRACKING_URI"] = tracking_uri(root)
    data, run_dir, log = root / "opps.parquet", root / "run", root / "prepare.log"
    strata = str(BIN / "strata")
    synth_s = run_cli(
        [strata, "synth", "--rows", str(rows), "--seed", "0", "-o", str(data)], root, env, log
    )
    fit = [strata, "fit", str(data), "-o", str(run_dir), "--root", str(root)]
    fit += ["--cache-dir", str(root / ".strata" / "cache"), "--register", MODEL_NAME]
    if config is not None:
        fit += ["--config", str(config)]
    fit_s = run_cli(fit, root, env, log)
    info = {
        "rows": rows,
        "root": str(root),
        "run_dir": str(run_dir),
        "config": yaml.safe_load(config.read_text()) if config else "product defaults",
        "synth_s": round(synth_s, 1),
        "fit_s": round(fit_s, 1),
        "prepared_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    done.write_text(json.dumps(info, indent=2) + "\n")
    return info


def run_id_of(root: Path, run_dir: Path) -> str:
    """The newest succeeded run of the store whose output is ``run_dir``."""
    from topicstrata.pipeline import list_runs

    for run in list_runs(root, limit=1000):
        output = Path(str(run.parameters.get("output") or ""))
        if run.status == "succeeded" and (root / output).resolve() == run_dir.resolve():
            return run.run_id
    raise RuntimeError(f"no succeeded run with output {run_dir} in {root}/.strata")


def edited_mapping(run_dir: Path) -> tuple[str, str]:
    """The last layer's mapping and an edited revision of it, written here if missing.

    A fit without review writes one mapping per layer (``mapping.v1.yaml`` ...); what a
    user compares is a layer's mapping with their saved edit, which the editor writes as
    ``mapping.vN.r2.yaml``. The revision renames the first topic and moves nothing else.
    """
    from topicstrata.studio.rundir import MAPPING_FILE, mapping_files

    finals = [f for f in mapping_files(run_dir) if MAPPING_FILE.fullmatch(f).group("tag") is None]
    final = finals[-1]
    layer = MAPPING_FILE.fullmatch(final).group("layer")
    revision = run_dir / f"mapping.v{layer}.r2.yaml"
    if not revision.exists():
        edited = yaml.safe_load((run_dir / final).read_text())
        edited["topics"][0]["label"] = "renamed by bench/studio.py"
        revision.write_text(yaml.safe_dump(edited, sort_keys=False, allow_unicode=True))
    return final, revision.name


# --------------------------------------------------------------------------- the pages
@dataclass
class PageResult:
    page: str
    url: str
    browser: bool
    status: int | None = None
    bytes: int | None = None
    wire_bytes: int | None = None
    cold_s: float | None = None
    warm_s: float | None = None
    warm_all_s: list[float] = field(default_factory=list)
    browser_first_s: float | None = None
    browser_s: float | None = None
    browser_all_s: list[float] = field(default_factory=list)
    charts: int | None = None
    note: str = ""


def page_list(run_id: str, run_dir: Path, mappings: tuple[str, str]) -> list[PageResult]:
    """Every page of issue 17 for one run, in the order they are requested."""
    columns = pq.read_schema(run_dir / "assignments.parquet").names
    depth = sum(1 for c in columns if c.startswith("path_l"))
    paths = pq.read_table(run_dir / "assignments.parquet", columns=["path_l1"]).column(0)
    counts = paths.value_counts().to_pylist()
    counts = [c for c in counts if str(c["values"]) != "-1"]
    largest = str(max(counts, key=lambda c: c["counts"])["values"])
    r = f"/runs/{run_id}"
    pages = [
        PageResult("runs list", "/runs", True),
        PageResult("run", r, True),
        PageResult("topic tree", f"{r}/tree", True),
        PageResult(f"topic {largest} (largest)", f"{r}/topics/{largest}", True),
    ]
    for level in sorted({1, depth}):
        pages.append(PageResult(f"analytics L{level}", f"{r}/analytics?level={level}", True))
        for table in ("industry", "revenue-bands", "top-revenue"):
            url = f"{r}/analytics/{table}.csv?level={level}"
            pages.append(PageResult(f"{table}.csv L{level}", url, False))
    pages += [
        PageResult("mapping editor", f"{r}/mapping", True),
        PageResult("compare (run vs itself) L1", f"/compare?a={run_id}&b={run_id}&level=1", True),
    ]
    a, b = mappings
    url = f"{r}/mappings/compare?a={a}&b={b}"
    pages.append(PageResult(f"mapping compare {a} vs {b}", url, True))
    pages.append(PageResult("registry", "/registry", True))
    return pages


class Studio:
    """``strata studio`` in a subprocess of its own session, stopped by its group id."""

    def __init__(self, root: Path, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        args = [str(BIN / "strata"), "studio", "--root", str(root), "--port", str(self.port)]
        args += ["--tracking-uri", tracking_uri(root)]
        print(f"$ {' '.join(args)}", flush=True)
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.proc = subprocess.Popen(
            args, env=env, cwd=root, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        started = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the studio exited with {self.proc.returncode}; see {log}")
            try:
                # Plotly's JS, not a page: a probe must not warm what is measured.
                if httpx.get(f"{self.base}/static/plotly.min.js", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"the studio did not start in 120 s; see {log}")
            time.sleep(0.3)
        self.ready_s = time.perf_counter() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def timed_get(client: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.get(url)
    return response, time.perf_counter() - started


def time_server(client: httpx.Client, page: PageResult) -> None:
    response, page.cold_s = timed_get(client, page.url)
    page.status, page.bytes = response.status_code, len(response.content)
    page.wire_bytes = response.num_bytes_downloaded
    page.warm_all_s = [timed_get(client, page.url)[1] for _ in range(WARM)]
    page.warm_s = statistics.median(page.warm_all_s)
    print(
        f"  {page.page:<40} {page.status} {page.bytes:>10,} B  cold {page.cold_s:6.3f} s"
        f"  warm {page.warm_s:6.3f} s",
        flush=True,
    )


def time_map(client: httpx.Client, run_id: str, root: Path) -> tuple[dict[str, Any], list[Any]]:
    """First computation of the map (page -> 202 ... map.json -> 200), then the ready page."""
    shutil.rmtree(root / ".strata" / "studio" / "maps", ignore_errors=True)
    page = PageResult("document map", f"/runs/{run_id}/map", True)
    points = PageResult("map.json L1", f"/runs/{run_id}/map.json?level=1", False)
    started = time.perf_counter()
    first, first_s = timed_get(client, page.url)
    polls = 0
    while True:
        answer = client.get(points.url)
        polls += 1
        if answer.status_code != 202:
            break
        time.sleep(0.5)
    compute_s = time.perf_counter() - started
    body = answer.json() if answer.status_code == 200 else {}
    files = list((root / ".strata" / "studio" / "maps").glob("*.parquet"))
    meta = {}
    if files:
        raw = pq.read_schema(files[0]).metadata.get(b"topicstrata.map", b"{}")
        meta = json.loads(raw)
    info = {
        "first_page_status": first.status_code,
        "first_page_s": first_s,
        "ready_status": answer.status_code,
        "compute_s": compute_s,
        "server_compute_s": meta.get("seconds"),
        "vectors": meta.get("source"),
        "n_sample": body.get("n_sample"),
        "n_records": body.get("n_records"),
        "polls": polls,
    }
    print(f"  map computed in {compute_s:.1f} s: {info}", flush=True)
    time_server(client, page)
    time_server(client, points)
    return info, [page, points]


def time_browser(base: str, pages: list[PageResult]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        for page in pages:
            if not page.browser:
                continue
            times = []
            try:
                for _ in range(1 + BROWSER_REPEATS):
                    tab.goto(base + page.url, wait_until="load", timeout=120_000)
                    drawn = tab.wait_for_function(CHARTS_DRAWN, timeout=120_000).json_value()
                    times.append(drawn["ms"] / 1000)
                    page.charts = drawn["charts"]
            except Exception as exc:  # reported in the table, not fatal to the others
                page.note = f"browser: {type(exc).__name__}: {str(exc)[:200]}"
                print(f"  {page.page}: {page.note}", flush=True)
            if times:
                page.browser_first_s = times[0]
                page.browser_all_s = times[1:]
                page.browser_s = statistics.median(times[1:]) if times[1:] else None
                print(
                    f"  {page.page:<40} browser first {times[0]:6.3f} s  "
                    f"median {page.browser_s or 0:6.3f} s  ({page.charts} charts)",
                    flush=True,
                )
        context.close()
        browser.close()


def measure(prep: dict[str, Any], workdir: Path) -> dict[str, Any]:
    root, run_dir = Path(prep["root"]), Path(prep["run_dir"])
    run_id = run_id_of(root, run_dir)
    mappings = edited_mapping(run_dir)
    pages = page_list(run_id, run_dir, mappings)
    print(f"\n== {prep['rows']:,} records: run {run_id} in {root}", flush=True)
    result: dict[str, Any] = {"prepare": prep, "run_id": run_id, "conditions": conditions()}
    studio = Studio(root, workdir / f"studio-{prep['rows']}.log")
    try:
        result["studio_ready_s"] = studio.ready_s
        with httpx.Client(base_url=studio.base, timeout=600) as client:
            for page in pages:
                time_server(client, page)
            result["map"], map_pages = time_map(client, run_id, root)
        pages += map_pages
        time_browser(studio.base, pages)
        result["studio_rss_mb"] = proc_mb(studio.proc.pid, "VmRSS")
        result["studio_peak_rss_mb"] = proc_mb(studio.proc.pid, "VmHWM")
    finally:
        studio.stop()
    result["conditions_end"] = conditions()
    result["pages"] = [asdict(p) for p in pages]
    return result


# --------------------------------------------------------------------------- report
def _s(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def table(result: dict[str, Any]) -> str:
    prep, m = result["prepare"], result["map"]
    config = prep["config"] if isinstance(prep["config"], str) else json.dumps(prep["config"])
    lines = [
        f"#### {prep['rows']:,} records (run {result['run_id']}; fit: {config}, "
        f"{prep['fit_s']:.0f} s)",
        "",
        "| page | status | bytes | server cold s | server warm median s "
        "| browser loaded s (first / median) |",
        "|---|---|---|---|---|---|",
    ]
    for p in result["pages"]:
        browser = ""
        if p["browser_first_s"] is not None:
            browser = f"{p['browser_first_s']:.3f} / {_s(p['browser_s'])}"
        elif p["note"]:
            browser = p["note"][:60]
        elif not p["browser"]:
            browser = "(not a page)"
        size = f"{p['bytes']:,}"
        if p.get("wire_bytes") is not None and p["wire_bytes"] != p["bytes"]:
            size += f" (gzip {p['wire_bytes']:,})"
        lines.append(
            f"| {p['page']} | {p['status']} | {size} | {_s(p['cold_s'])} "
            f"| {_s(p['warm_s'])} | {browser} |"
        )
    lines += [
        "",
        f"Map: first computation {m['compute_s']:.1f} s until map.json answered "
        f"{m['ready_status']} (the studio's own timing {m['server_compute_s']} s, "
        f"vectors: {m['vectors']}); sample {m['n_sample']:,} of {m['n_records']:,} records; "
        f"studio RSS {result['studio_rss_mb']:.0f} MiB (peak {result['studio_peak_rss_mb']:.0f}).",
    ]
    return "\n".join(lines)


def over_limit(result: dict[str, Any]) -> list[str]:
    slow = []
    for p in result["pages"]:
        measures = {
            "server cold": p["cold_s"],
            "server warm": p["warm_s"],
            "browser first": p["browser_first_s"],
            "browser median": p["browser_s"],
        }
        over = [f"{k} {v:.2f} s" for k, v in measures.items() if v is not None and v > LIMIT_S]
        if over:
            slow.append(f"{p['page']} ({', '.join(over)})")
    return slow


def _inline(profiler: cProfile.Profile) -> Any:
    """A stand-in for ``run_in_threadpool`` that runs the call here, under ``profiler``."""

    async def run(func: Any, *args: Any, **kwargs: Any) -> Any:
        return profiler.runcall(func, *args, **kwargs)

    return run


def profile(result: dict[str, Any], top: int = 25) -> dict[str, str]:
    """cProfile of each slow page's first request, in process through TestClient.

    FastAPI runs a sync route in a worker thread, out of reach of a profiler enabled in
    this one; the route is run inline instead, under the profiler.
    """
    from unittest import mock

    from fastapi.testclient import TestClient

    from topicstrata.studio import create_app, rundir

    root = Path(result["prepare"]["root"])
    profiles = {}
    for p in result["pages"]:
        if p["page"] == "document map" or not any(
            v is not None and v > LIMIT_S for v in (p["cold_s"], p["warm_s"])
        ):
            continue
        rundir._read.cache_clear()  # cold, as the first request
        profiler = cProfile.Profile()
        client = TestClient(create_app(root, tracking_uri=tracking_uri(root)))
        with mock.patch("fastapi.routing.run_in_threadpool", _inline(profiler)):
            started = time.perf_counter()
            status = client.get(p["url"]).status_code
            elapsed = time.perf_counter() - started
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
        text = f"{p['url']}: {status} in {elapsed:.2f} s (cold, in process)\n{out.getvalue()}"
        profiles[p["page"]] = text
        print(f"\n--- profile of {p['page']}: {text}", flush=True)
    return profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000,1000000", help="records per run")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="roots live here")
    parser.add_argument("--config", type=Path, help="fit config YAML for --config-sizes")
    parser.add_argument(
        "--config-sizes", default="", help="sizes fitted with --config (default: none)"
    )
    parser.add_argument("--prepare-only", action="store_true", help="fit, measure nothing")
    parser.add_argument("--no-profile", action="store_true", help="skip profiling slow pages")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "studio.json")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        sys.exit(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)")

    workdir = args.workdir.resolve()
    sizes = [int(s) for s in args.sizes.split(",")]
    with_config = {int(s) for s in args.config_sizes.split(",") if s}
    config = args.config.resolve() if args.config else None
    preps = [prepare(n, workdir, config if n in with_config else None) for n in sizes]
    if args.prepare_only:
        return
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "git": git_state(),
            "start": conditions(),
        },
        "sizes": {},
    }
    for prep in preps:
        results["sizes"][str(prep["rows"])] = measure(prep, workdir)
    largest = results["sizes"][str(max(sizes))]
    slow = over_limit(largest)
    if slow and not args.no_profile:
        largest["profiles"] = profile(largest)
    results["machine"]["end"] = conditions()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    machine, git = results["machine"], results["machine"]["git"]
    changed = [c for c in git["changed"] if c]
    print(
        f"\n{machine['start']['at']} to {machine['end']['at']}; {machine['cpus']} CPUs; load "
        f"average (1/5/15 min) at start {machine['start']['loadavg']}, at end "
        f"{machine['end']['loadavg']}; commit {git['commit'][:10]}"
        + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")
        + "\n"
    )
    for result in results["sizes"].values():
        print(table(result) + "\n")
    summary = "; ".join(slow) if slow else "none"
    print(f"Over {LIMIT_S:g} s at {max(sizes):,} records: {summary}")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()
