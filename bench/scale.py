"""What ``strata fit`` costs per stage as the input grows (issue 12), and what the
large-input path costs in quality.

    python bench/scale.py                                   # 10k, 100k, 1M synthetic records
    python bench/scale.py --sizes 10000,100000 --quality-at 100000
    python bench/scale.py --sizes 100000 --executors local,ray   # issue 15: Ray beside local

For each size, ``strata synth --rows N`` writes synthetic opportunities (seed 0) and the
real command line runs on them, cold: ``strata fit DATA -o RUN --root R --cache-dir R/cache``
in a fresh root, as a subprocess, while this script samples the resident memory of its
whole process tree (psutil, every 0.2 s). Per-stage wall time comes from the pipeline's
own step records (``R/.strata/strata.db``); a stage's peak RSS is the highest sample taken
while it ran. Stages: ``startup`` (interpreter, imports, until the first step starts),
``ingest``, ``preprocess``, ``embed``, ``layers`` (every ``layer_n``), ``stability``,
``evaluate``, ``write_run`` and ``other`` (the small glue steps). The growth exponent of a
stage is the slope of log(seconds) over log(records) between the smallest and the largest
size (1.0 = linear).

``--quality-at N`` also fits the same N records with the large-input path turned off
(``embed.sampling.enabled: false``: MiniLM embeds every record) and compares both with
the truth (NMI per level against ``true_l1..3``) and with each other (level-1 agreement
after matching topics one to one, Hungarian). That baseline's MiniLM vectors may come
from ``--baseline-cache`` (the ``cache_dir`` of an earlier ``embed_texts`` call with the
same embedder on the same records): it is there for its quality, not its time.
The two fits learn different trees (different samples, and the k search is not stable
across them: see ``--seed-noise``), so the comparison also routes every record through
the default's own tree once with the vectors that run used and once with MiniLM vectors
for all (``same_tree_routing``): what differs there is only what the student changed.
``--seed-noise`` refits both sides with ``ensemble.random_state: 1`` on their cached
vectors: how far two fits of the very same vectors land apart is the floor under the
two-fit comparison.
``--executors local,ray`` fits every size a second time with ``--executor ray`` (a local
Ray started by the command, in a fresh root) and prints the stages side by side, the
time ``connect()`` takes to start Ray, and whether the two runs' ``assignments.parquet``
are byte-identical.
Results: markdown tables on stdout, JSON in ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import yaml
from sklearn.metrics import normalized_mutual_info_score

from _common import matched_agreement, step_output

REPO = Path(__file__).resolve().parents[1]
STRATA = str(Path(sys.executable).with_name("strata"))
STAGES = (
    "startup",
    "ingest",
    "preprocess",
    "embed",
    "layers",
    "stability",
    "evaluate",
    "write_run",
    "other",
)
TRUTH = ("true_l1", "true_l2", "true_l3")


class TreeMemory:
    """Samples the summed RSS and PSS of a process and its descendants in a thread.

    A sum of RSS counts a page once per process that maps it (the memory-mapped embeddings
    the layer step and its fan-out workers all read, the libraries a forked worker shares
    with its parent), so it overstates what the tree holds; the sum of PSS (each shared
    page split among the processes that map it) is the tree's share of physical memory.
    Both are kept: RSS is what earlier tables report.
    """

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (time, RSS MiB, PSS MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = pss = 0
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    full = proc.memory_full_info()  # /proc/PID/smaps_rollup on Linux
                    rss += full.rss
                    pss += getattr(full, "pss", full.rss)
            self.samples.append((time.time(), rss / 2**20, pss / 2**20))
            self._stop.wait(self.interval)

    def peak(self, start: float = 0.0, end: float = math.inf, kind: str = "rss") -> float:
        column = {"rss": 1, "pss": 2}[kind]
        inside = [sample[column] for sample in self.samples if start <= sample[0] <= end]
        return max(inside, default=0.0)


def synth(rows: int, path: Path) -> None:
    if not path.exists():
        subprocess.run(
            [STRATA, "synth", "--rows", str(rows), "--seed", "0", "-o", str(path)],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def stage_of(step: str) -> str:
    if step.startswith("layer_"):
        return "layers"
    return step if step in STAGES else "other"


def run_fit(
    data: Path,
    root: Path,
    config: dict[str, Any] | None,
    log: Path,
    cache: Path | None = None,
    executor: str = "local",
) -> dict[str, Any]:
    """One ``strata fit`` in ``root`` (cold unless ``cache`` is an earlier root's cache);
    per-stage seconds and peak RSS (MiB)."""
    root.mkdir(parents=True, exist_ok=True)
    cmd = [STRATA, "fit", str(data), "-o", str(root / "run"), "--root", str(root)]
    cmd += ["--cache-dir", str(cache or root / "cache"), "--verbose", "--executor", executor]
    if config:
        cfg = root / "config.yaml"
        cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
        cmd += ["--config", str(cfg)]
    started = time.time()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid) as memory:
            code = proc.wait()
    ended = time.time()
    if code != 0:
        raise SystemExit(f"strata fit failed ({code}); see {log}")
    with sqlite3.connect(root / ".strata" / "strata.db") as db:
        rows = db.execute(
            "SELECT step, started_at, ended_at FROM steps WHERE started_at IS NOT NULL"
        ).fetchall()
    seconds = dict.fromkeys(STAGES, 0.0)
    peaks = dict.fromkeys(STAGES, 0.0)
    pss = dict.fromkeys(STAGES, 0.0)
    first = min(start for _, start, _ in rows)
    seconds["startup"] = first - started
    peaks["startup"] = memory.peak(started, first)
    pss["startup"] = memory.peak(started, first, "pss")
    for step, start, end in rows:
        stage = stage_of(step)
        seconds[stage] += (end or ended) - start
        peaks[stage] = max(peaks[stage], memory.peak(start, end or ended))
        pss[stage] = max(pss[stage], memory.peak(start, end or ended, "pss"))
    return {
        "seconds": seconds,
        "peak_rss_mb": peaks,
        "total_s": ended - started,
        "total_peak_rss_mb": memory.peak(),
        "peak_pss_mb": pss,
        "total_peak_pss_mb": memory.peak(kind="pss"),
        "metrics": json.loads((root / "run" / "metrics.json").read_text(encoding="utf-8")),
    }


def level_nmi(data: Path, run: Path) -> list[float]:
    truth = pd.read_parquet(data, columns=["id", *TRUTH])
    got = pd.read_parquet(run / "assignments.parquet").set_index("id").loc[truth["id"]]
    return [
        round(float(normalized_mutual_info_score(truth[t], got[f"path_l{i}"])), 4)
        for i, t in enumerate(TRUTH, start=1)
    ]


def same_tree_routing(data: Path, default_root: Path, teacher_root: Path) -> dict[str, Any]:
    """Route every record through the large-input default's own tree twice: with the
    vectors that run used (teacher sample + student) and with MiniLM vectors for every
    record (taken from the all-teacher run's embed step). The tree is the same, so what
    differs is only what the student changed: per-level NMI of both against the truth and
    the share of records on the same path at each level (no matching needed)."""
    from topicstrata.ensemble import load_ensemble

    ids = pd.Index(step_output(default_root, "ingest", "ids")).astype(str)
    teacher_ids = pd.Index(step_output(teacher_root, "ingest", "ids")).astype(str)
    minilm = np.asarray(step_output(teacher_root, "embed", "embeddings"))
    minilm = minilm[teacher_ids.get_indexer(ids)]
    used = np.asarray(step_output(default_root, "embed", "embeddings"))
    teacher_rows = np.asarray(step_output(default_root, "embed", "teacher_rows"))
    student = np.ones(len(ids), dtype=bool)
    student[teacher_rows] = False
    ensemble = load_ensemble(default_root / "run" / "model")
    by_student = ensemble.predict(used)
    by_minilm = ensemble.predict(minilm)
    truth = pd.read_parquet(data, columns=["id", *TRUTH]).set_index("id")
    truth.index = truth.index.astype(str)
    truth = truth.loc[ids]
    out: dict[str, Any] = {"records": len(ids), "student_routed": int(student.sum())}
    for i, col in enumerate(TRUTH, start=1):
        a, b = by_student[f"path_l{i}"].to_numpy(), by_minilm[f"path_l{i}"].to_numpy()
        out[f"l{i}"] = {
            "nmi_student": round(float(normalized_mutual_info_score(truth[col], a)), 4),
            "nmi_minilm": round(float(normalized_mutual_info_score(truth[col], b)), 4),
            "agreement_all": round(float((a == b).mean()), 4),
            "agreement_student_routed": round(float((a[student] == b[student]).mean()), 4),
        }
    return out


def print_routing(routing: dict[str, Any]) -> None:
    print(
        f"\nsame tree (the default's), {routing['records']:,} records, "
        f"{routing['student_routed']:,} of them routed by student vectors:\n"
    )
    print("| level | NMI, MiniLM vectors | NMI, default vectors | difference | same path |")
    print("|---|---:|---:|---:|---:|")
    for i in range(1, len(TRUTH) + 1):
        r = routing[f"l{i}"]
        print(
            f"| {i} | {r['nmi_minilm']:.4f} | {r['nmi_student']:.4f} | "
            f"{r['nmi_student'] - r['nmi_minilm']:+.4f} | {r['agreement_all']:.2%} "
            f"({r['agreement_student_routed']:.2%} of student-routed) |"
        )


def seed_noise(data: Path, work: Path, fits: dict[str, Path]) -> dict[str, Any]:
    """Refit each of ``fits`` (name -> root of a seed-0 fit) with ``ensemble.random_state: 1``
    on its own cached vectors, so only the fit reruns: how far two fits of the same
    vectors land apart (NMI per level, matched level-1 agreement) is the floor under any
    comparison of two independently fitted trees."""
    out: dict[str, Any] = {}
    seed1: dict[str, pd.DataFrame] = {}
    for name, root in fits.items():
        cfg = root / "config.yaml"
        config = yaml.safe_load(cfg.read_text(encoding="utf-8")) if cfg.exists() else {}
        config = {**(config or {}), "ensemble": {"random_state": 1}}
        again = work / f"{root.name}-seed1"
        print(f"refitting {name} with random_state 1 ...", file=sys.stderr)
        run_fit(data, again, config, work / f"{again.name}.log", cache=root / "cache")
        a = pd.read_parquet(root / "run" / "assignments.parquet").set_index("id")
        b = pd.read_parquet(again / "run" / "assignments.parquet").set_index("id").loc[a.index]
        seed1[name] = b
        out[name] = {
            "nmi_seed0": level_nmi(data, root / "run"),
            "nmi_seed1": level_nmi(data, again / "run"),
            "agreement_l1": matched_agreement(a["path_l1"], b["path_l1"]),
        }
    names = list(fits)
    if len(names) == 2:
        x, y = seed1[names[0]], seed1[names[1]]
        out["across_fits_seed1_agreement_l1"] = matched_agreement(x["path_l1"], y["path_l1"])
    print("\nseed noise (the same vectors, random_state 0 vs 1):\n")
    print("| fit | NMI l1 / l2 / l3, seed 0 | seed 1 | largest |difference| | l1 agreement |")
    print("|---|---|---|---:|---:|")
    for name in names:
        r = out[name]
        gap = max(abs(p - q) for p, q in zip(r["nmi_seed0"], r["nmi_seed1"], strict=True))
        print(
            f"| {name} | {' / '.join(f'{v:.3f}' for v in r['nmi_seed0'])} | "
            f"{' / '.join(f'{v:.3f}' for v in r['nmi_seed1'])} | {gap:.3f} | "
            f"{r['agreement_l1']:.2%} |"
        )
    if "across_fits_seed1_agreement_l1" in out:
        print(
            "level-1 agreement between the two fits at seed 1: "
            f"{out['across_fits_seed1_agreement_l1']:.2%}"
        )
    return out


def ray_start_seconds() -> float:
    """Seconds ``topicstrata.raycluster.connect()`` takes to start a local Ray in a fresh
    interpreter (imports excluded): the fixed cost ``--executor ray`` adds to a run."""
    code = (
        "import time, ray\n"
        "from topicstrata.raycluster import connect\n"
        "t = time.perf_counter(); connect(); print(time.perf_counter() - t)\n"
        "ray.shutdown()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return float(done.stdout.strip().splitlines()[-1])


def print_executors(results: dict[str, Any], sizes: list[int]) -> None:
    """Per stage, the Ray executor's wall time beside the local one's, at each size."""
    print("\n## strata fit --executor ray vs local (cold caches; wall s, ratio ray/local)\n")
    print(f"Starting a local Ray (connect(), fresh interpreter): {results['ray_start_s']:.1f} s\n")
    print("| stage | " + " | ".join(f"{n:,} local | {n:,} ray | ratio" for n in sizes) + " |")
    print("|---|" + "---:|---:|---:|" * len(sizes))
    for stage in (*STAGES, "total"):
        cells = []
        for n in sizes:
            local, ray = results["sizes"][n], results["ray"][n]
            a = local["total_s"] if stage == "total" else local["seconds"][stage]
            b = ray["total_s"] if stage == "total" else ray["seconds"][stage]
            cells.append(f"{a:,.1f} | {b:,.1f} | {b / a:.2f}" if a > 0 else f"{a} | {b:,.1f} | -")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    peaks = "; ".join(
        f"{n:,}: local {results['sizes'][n]['total_peak_rss_mb']:,.0f} MiB, "
        f"ray {results['ray'][n]['total_peak_rss_mb']:,.0f} MiB"
        for n in sizes
    )
    print(f"\nPeak RSS of the whole process tree (Ray's own processes included): {peaks}")
    for n in sizes:
        with contextlib.suppress(KeyError):
            same = results["ray"][n]["same_assignments"]
            print(f"{n:,}: assignments.parquet byte-identical to the local run: {same}")


def exponent(sizes: list[int], times: list[float]) -> float | None:
    if len(sizes) < 2 or min(times[0], times[-1]) <= 0:
        return None
    return round(math.log(times[-1] / times[0]) / math.log(sizes[-1] / sizes[0]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--quality-at", type=int, default=0, help="0: no quality comparison")
    parser.add_argument("--baseline-cache", type=Path, default=None)
    parser.add_argument(
        "--seed-noise",
        action="store_true",
        help="with --quality-at: refit both sides with random_state 1 (fit only, cached vectors)",
    )
    parser.add_argument(
        "--executors",
        default="local",
        help="local,ray: also fit every size with --executor ray (a local Ray) and compare",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / ".strata" / "bench-scale.json")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="strata-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# bench/scale.py, {os.cpu_count()} cores, workdir {work}", file=sys.stderr)
    results: dict[str, Any] = {"sizes": {}, "cores": os.cpu_count()}
    for n in sizes:
        data = work / f"synth-{n}.parquet"
        synth(n, data)
        print(f"fitting {n:,} records ...", file=sys.stderr)
        res = run_fit(data, work / f"fit-{n}", None, work / f"fit-{n}.log")
        res["nmi"] = level_nmi(data, work / f"fit-{n}" / "run")
        results["sizes"][n] = res
        print(
            f"  {n:,}: {res['total_s']:.0f} s, peak {res['total_peak_rss_mb']:.0f} MiB, "
            f"NMI {res['nmi']}",
            file=sys.stderr,
        )
        if "ray" in args.executors.split(","):
            print(f"fitting {n:,} records with --executor ray ...", file=sys.stderr)
            root = work / f"fit-{n}-ray"
            on_ray = run_fit(data, root, None, work / f"fit-{n}-ray.log", executor="ray")
            on_ray["same_assignments"] = (root / "run" / "assignments.parquet").read_bytes() == (
                work / f"fit-{n}" / "run" / "assignments.parquet"
            ).read_bytes()
            results.setdefault("ray", {})[n] = on_ray
            print(f"  {n:,} on Ray: {on_ray['total_s']:.0f} s", file=sys.stderr)
    print("\n## strata fit per stage (cold caches; wall s / docs per s / peak RSS MiB)\n")
    header = "| stage | " + " | ".join(f"{n:,}" for n in sizes) + " | exponent |"
    print(header)
    print("|---|" + "---:|" * (len(sizes) + 1))
    for stage in (*STAGES, "total"):
        cells, times = [], []
        for n in sizes:
            res = results["sizes"][n]
            sec = res["total_s"] if stage == "total" else res["seconds"][stage]
            mb = res["total_peak_rss_mb"] if stage == "total" else res["peak_rss_mb"][stage]
            times.append(sec)
            rate = f"{n / sec:,.0f}/s" if sec > 0 else "-"
            cells.append(f"{sec:,.1f} s / {rate} / {mb:,.0f}")
        print(f"| {stage} | " + " | ".join(cells) + f" | {exponent(sizes, times)} |")
    pss = []
    for n in sizes:
        res = results["sizes"][n]
        layers = res.get("peak_pss_mb", {}).get("layers", math.nan)
        pss.append(f"{n:,}: {res.get('total_peak_pss_mb', math.nan):,.0f} (layers {layers:,.0f})")
    print(
        "\nPeak PSS of the process tree (MiB; shared pages split among the processes that map "
        "them): " + "; ".join(pss)
    )
    print(
        "\nNMI per level (true_l1/l2/l3): "
        + "; ".join(f"{n:,}: {results['sizes'][n]['nmi']}" for n in sizes)
    )
    for n in sizes:
        emb = results["sizes"][n]["metrics"].get("embedding", {})
        print(f"embedding at {n:,}: {json.dumps(emb)}")
    if "ray" in results:
        results["ray_start_s"] = ray_start_seconds()
        print_executors(results, sizes)

    if args.quality_at:
        n = args.quality_at
        data = work / f"synth-{n}.parquet"
        synth(n, data)
        root = work / f"fit-{n}-all-teacher"
        if args.baseline_cache is not None:
            # An embed_texts cache dir (holding embeddings/<backend>/...), where the
            # pipeline's embed step looks: <cache-dir>/embeddings.
            shutil.copytree(args.baseline_cache, root / "cache" / "embeddings", dirs_exist_ok=True)
        print(f"fitting {n:,} records with every record embedded by MiniLM ...", file=sys.stderr)
        base = run_fit(data, root, {"embed": {"sampling": {"enabled": False}}}, work / "b.log")
        base["nmi"] = level_nmi(data, root / "run")
        if n not in results["sizes"]:
            res = run_fit(data, work / f"fit-{n}", None, work / f"fit-{n}.log")
            res["nmi"] = level_nmi(data, work / f"fit-{n}" / "run")
            results["sizes"][n] = res
        ours = results["sizes"][n]
        a = pd.read_parquet(root / "run" / "assignments.parquet").set_index("id")
        b = pd.read_parquet(work / f"fit-{n}" / "run" / "assignments.parquet").set_index("id")
        agree = matched_agreement(a["path_l1"], b.loc[a.index, "path_l1"])
        results["quality"] = {"all_teacher": base, "agreement_l1": agree}
        print(f"\n## quality at {n:,}: every record MiniLM vs the large-input default\n")
        print("| fit | NMI l1 | NMI l2 | NMI l3 | embed s | total s |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, res in (("all MiniLM", base), ("large-input default", ours)):
            l1, l2, l3 = res["nmi"]
            print(
                f"| {name} | {l1:.3f} | {l2:.3f} | {l3:.3f} | "
                f"{res['seconds']['embed']:.0f} | {res['total_s']:.0f} |"
            )
        deltas = [round(o - b_, 4) for o, b_ in zip(ours["nmi"], base["nmi"], strict=True)]
        print(f"\nNMI default - all MiniLM per level: {deltas} (target >= -0.01)")
        print(f"level-1 agreement between the two fits (topics matched 1:1): {agree:.3f}")
        student = ours["metrics"].get("embedding", {}).get("student_agreement")
        print(f"student routing agreement on held-out teacher records: {student}")
        routing = same_tree_routing(data, work / f"fit-{n}", root)
        results["quality"]["same_tree"] = routing
        print_routing(routing)
        if args.seed_noise:
            results["quality"]["seed_noise"] = seed_noise(
                data, work, {"all MiniLM": root, "large-input default": work / f"fit-{n}"}
            )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(f"\nJSON: {args.out}", file=sys.stderr)
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
