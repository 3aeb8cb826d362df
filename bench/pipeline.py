"""What the pipeline's content cache costs and saves (issue 5), in one process.

    python bench/pipeline.py                                   # 50,000 rows, minilm-onnx
    python bench/pipeline.py --rows 3000 --embedder tfidf-svd  # quick look

On ``--rows`` synthetic opportunities (``topicstrata.synth``, seed 0), with a 3-layer
ensemble shaped like the demo config, it times, one after the other:

1. **baseline**: ``run_fit(data, run_dir, config, cache_dir=None)``: the same pipeline with
   caching off (``run_pipeline(..., cache=False)``, no text caches, a temporary root): the
   same work with no cache reads or writes at all;
2. **first run** of the default topic pipeline (``auto_approve=True``) in a fresh root
   (cold artefact store) with a fresh ``cache_dir`` (cold text caches);
3. **unchanged rerun**: same parameters, same root (target <= 5% of the first run);
4. **parameter change** downstream of embedding, same root: ``--change top_n_words``
   (``ensemble.representation.top_n_words`` 10 -> 12) and/or ``--change layer2``
   (layer 2's ``k_range`` upper bound - 1); which steps reran is reported;
5. **mapping edit**, same root: the first run's ``mapping.v1.yaml`` with one layer-1
   topic's action flipped (keep -> split when a kept topic exists, else split -> keep),
   passed as the ``mapping`` parameter (target <= 25% of the first run); the per-topic
   items recomputed vs read from the cache come from the layer steps' logs.

Before any of that a small warm-up fit (``--warmup-rows``) pays the one-off costs
(numba compilation of UMAP in this process, loading the embedder) so that neither the
baseline nor the first run carries them alone. Everything lives in a temp folder under
``/tmp`` (``--workdir``), removed at the end unless ``--keep``. Results: a markdown table
on stdout and JSON in ``--out``; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "src" / "topicstrata" / "run" / "configs" / "demo.yaml"
DEFAULT_OUT = REPO / "bench" / "results" / "pipeline.json"
TARGET_UNCHANGED = 0.05  # unchanged rerun <= 5% of the first run
TARGET_MAPPING = 0.25  # one mapping edit <= 25% of the first run
N_LAYERS = 3
LAYER_LOG = re.compile(r"layer (\d+) topics: (\d+) item\(s\) from cache, (\d+) computed")

#: Steps that run on every invocation by design (cache disabled, or a review callback).
NEVER_CACHED = re.compile(r"^(locate|publish_\d+|review_\d+|write_run|register)$")

T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - T0:8.1f}s] {message}", file=sys.stderr, flush=True)


def rss_mb() -> dict[str, float]:
    """Peak RSS so far (``ru_maxrss``, KiB on Linux) of this process and of its reaped
    children (the loky workers of the per-topic fits), in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": round(own, 1), "children": round(children, 1)}


# ------------------------------------------------------------------------- config
def make_config(embedder: str, preprocess_mode: str, split_mode: str) -> dict[str, Any]:
    """The demo config's ensemble (k ranges, UMAP, seed), with the benchmark's knobs."""
    from topicstrata.config import StrataConfig

    demo = StrataConfig.from_yaml(DEMO_CONFIG).model_dump(mode="json")
    demo["preprocess"] = {"mode": preprocess_mode}
    demo["embed"]["backend"] = embedder
    demo["ensemble"]["split"]["mode"] = split_mode
    return StrataConfig.from_dict(demo).model_dump(mode="json")


def changed_config(config: dict[str, Any], change: str) -> tuple[dict[str, Any], str]:
    new = copy.deepcopy(config)
    ens = new["ensemble"]
    if change == "top_n_words":
        old = ens["representation"]["top_n_words"]
        ens["representation"]["top_n_words"] = old + 2
        return new, f"ensemble.representation.top_n_words {old} -> {old + 2}"
    if change == "layer2":
        low, high = ens["layers"][1]["k_range"]
        new_high = high - 1 if high - 1 >= low else high + 1
        ens["layers"][1]["k_range"] = [low, new_high]
        return new, f"ensemble.layers[1].k_range [{low}, {high}] -> [{low}, {new_high}]"
    raise SystemExit(f"unknown --change {change!r}; use top_n_words or layer2")


# ------------------------------------------------------------------------ mapping
def edit_mapping(source: Path, target: Path, kind: str) -> str:
    """Edit one layer-1 topic of ``source``; write ``target``; describe the edit.

    ``flip``: keep -> split on the largest kept topic (a refit of one new subtree); when
    every topic is split already, split -> keep on the smallest split topic (its subtree
    goes, nothing is refitted). ``merge``: the smallest topic merges into the next
    smallest (that one's subtree is refitted on the merged records)."""
    from topicstrata.mapping import dump_mapping, load_mapping

    mapping = load_mapping(source)
    level1 = [e for e in mapping.topics_at(1) if not e.path.startswith("-")]
    kept = [e for e in level1 if e.action == "keep"]
    split = [e for e in level1 if e.action == "split"]
    counts = f"{len(kept)} kept, {len(split)} split of {len(level1)} layer-1 topics"
    if kind == "flip" and kept:
        entry = max(kept, key=lambda e: e.size)
        entry.action = "split"
        what = f"topic {entry.path} ({entry.size} records): keep -> split"
    elif kind == "flip" and split:
        entry = min(split, key=lambda e: e.size)
        entry.action = "keep"
        what = f"topic {entry.path} ({entry.size} records): split -> keep"
    elif kind == "merge" and len(level1) >= 2:
        small, into = sorted(level1, key=lambda e: e.size)[:2]
        small.action = "merge"
        small.merge_into = into.path
        what = f"topic {small.path} ({small.size}) merged into {into.path} ({into.size})"
    else:
        raise SystemExit(f"{source}: no layer-1 topic for a {kind!r} edit ({counts})")
    target.parent.mkdir(parents=True, exist_ok=True)
    dump_mapping(mapping, target)
    return f"{what} [{counts}]"


# ---------------------------------------------------------------------- scenarios
def progress_hooks() -> list[Any]:
    from topicstrata.pipeline import PipelineHooks

    class Progress(PipelineHooks):
        def on_step_start(self, run_id: str, step: str, kind: str) -> None:
            say(f"  {step} ...")

        def on_cache_hit(self, run_id: str, step: str) -> None:
            say(f"  {step}: cache hit")

    return [Progress()]


def layer_items(described: dict[str, Any], first_items: dict[str, int]) -> dict[str, Any]:
    """Per-topic items from the layer steps' logs; a layer step that was a cache hit as a
    whole counts its first-run items as cached."""
    per_layer: dict[str, dict[str, int]] = {}
    for step in described["steps"]:
        name = step["step"]
        if not name.startswith("layer_"):
            continue
        if step.get("cache_hit"):
            per_layer[name] = {"cached": first_items.get(name, 0), "computed": 0, "step_hit": 1}
            continue
        match = LAYER_LOG.search(step.get("log") or "")
        if match:
            cached, computed = int(match.group(2)), int(match.group(3))
            per_layer[name] = {"cached": cached, "computed": computed, "step_hit": 0}
    return {
        "per_layer": per_layer,
        "computed": sum(v["computed"] for v in per_layer.values()),
        "cached": sum(v["cached"] for v in per_layer.values()),
    }


def run_scenario(
    name: str,
    pipeline: Any,
    params: dict[str, Any],
    root: Path,
    first_items: dict[str, int],
    note: str = "",
) -> dict[str, Any]:
    from topicstrata.pipeline import describe_run, run_pipeline

    say(f"{name}: start {note}")
    t = time.perf_counter()
    result = run_pipeline(pipeline, params, root=root, hooks=progress_hooks())
    seconds = time.perf_counter() - t
    described = describe_run(root, result.run_id)
    steps = {
        s["step"]: {
            "status": s["status"],
            "cache_hit": bool(s["cache_hit"]),
            "duration_s": s["duration_s"],
        }
        for s in described["steps"]
    }
    record = {
        "scenario": name,
        "note": note,
        "seconds": seconds,
        "status": result.status,
        "run_id": result.run_id,
        "executed": result.executed,
        "cache_hits": result.cache_hits,
        "items": layer_items(described, first_items),
        "steps": steps,
        "logs": {s["step"]: s["log"] for s in described["steps"] if s["step"].startswith("layer_")},
        "peak_rss_mb": rss_mb(),
    }
    say(
        f"{name}: {seconds:.1f} s, status {result.status}, executed "
        f"{', '.join(result.executed)}; cache hits {', '.join(result.cache_hits) or '-'}"
    )
    if result.status != "succeeded":
        raise SystemExit(f"{name}: run {result.run_id} ended {result.status}: {result.error}")
    return record


def baseline(data: Path, run_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    from topicstrata import run_fit
    from topicstrata.config import StrataConfig

    say("baseline: the pipeline with caching off (run_fit, cache_dir=None)")
    t = time.perf_counter()
    fit = run_fit(data, run_dir, StrataConfig.from_dict(config), cache_dir=None)
    seconds = time.perf_counter() - t
    say(f"baseline: {seconds:.1f} s ({fit.timings})")
    return {
        "scenario": "baseline",
        "note": "run_fit, cache_dir=None: the pipeline with caching off",
        "seconds": seconds,
        "timings": fit.timings,
        "peak_rss_mb": rss_mb(),
    }


def same_assignments(a: Path, b: Path) -> bool | None:
    import pandas as pd

    fa, fb = a / "assignments.parquet", b / "assignments.parquet"
    if not (fa.exists() and fb.exists()):
        return None
    left, right = pd.read_parquet(fa), pd.read_parquet(fb)
    cols = [c for c in ("id", "path") if c in left.columns and c in right.columns]
    return bool(left[cols].reset_index(drop=True).equals(right[cols].reset_index(drop=True)))


# ------------------------------------------------------------------------ report
def verdict(ratio: float, target: float) -> str:
    return f"{'PASS' if ratio <= target else 'FAIL'} (target <= {target:.0%})"


def table(results: dict[str, Any]) -> str:
    first = results["scenarios"][1]["seconds"]
    head = (
        "| scenario | wall s | x first run | steps executed | steps from cache "
        "| per-topic items recomputed / cached | peak RSS MiB (self / children) | target |\n"
        "|---|---:|---:|---|---|---|---|---|"
    )
    rows = [head]
    for rec in results["scenarios"]:
        label = rec["scenario"] + (f": {rec['note']}" if rec.get("note") else "")
        if "error" in rec:
            rows.append(f"| {label} | failed: {rec['error']} | | | | | | |")
            continue
        ratio = rec["seconds"] / first
        rss = rec["peak_rss_mb"]
        target = rec.get("target")
        if "executed" in rec:
            work = [s for s in rec["executed"] if not NEVER_CACHED.match(s)]
            never = len(rec["executed"]) - len(work)
            executed = f"{', '.join(work) or '-'} (+{never} never cached)"
            hits = ", ".join(rec["cache_hits"]) or "-"
            items = rec["items"]
            per = " ".join(
                f"{k[-1]}:{v['computed']}/{v['cached']}" for k, v in items["per_layer"].items()
            )
            item_text = f"{items['computed']} / {items['cached']} ({per})"
        else:
            executed, hits, item_text = "all, caching off", "-", "-"
        rows.append(
            f"| {label} | {rec['seconds']:.1f} | {ratio:.3f} | {executed} | {hits} "
            f"| {item_text} | {rss['self']:.0f} / {rss['children']:.0f} "
            f"| {verdict(ratio, target) if target else ''} |"
        )
    overhead = results["overhead_ratio"]
    rows.append("")
    rows.append(
        f"Cache overhead on the first run: (first {first:.1f} s - baseline "
        f"{results['scenarios'][0]['seconds']:.1f} s) / baseline = {overhead:+.1%}"
    )
    return "\n".join(rows)


def guarded(name: str, *args: Any) -> dict[str, Any]:
    """``run_scenario``, but a failure is recorded (and the benchmark goes on)."""
    try:
        return run_scenario(name, *args)
    except Exception as exc:  # a benchmark reports failures instead of dying
        say(f"{name}: FAILED {type(exc).__name__}: {exc}")
        return {"scenario": name, "note": args[-1], "error": f"{type(exc).__name__}: {exc}"}


def summary(
    args: argparse.Namespace,
    config: dict[str, Any],
    scenarios: list[dict[str, Any]],
    agree: bool | None,
    warmup_s: float | None,
) -> dict[str, Any]:
    base_s, first_s = scenarios[0]["seconds"], scenarios[1]["seconds"]
    timed = [rec for rec in scenarios if "seconds" in rec]
    return {
        "rows": args.rows,
        "seed": args.seed,
        "embedder": args.embedder,
        "preprocess_mode": args.preprocess_mode,
        "split_mode": args.split_mode,
        "config": config,
        "warmup_rows": args.warmup_rows,
        "warmup_s": warmup_s,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "first_run_equals_baseline": agree,
        "overhead_ratio": (first_s - base_s) / base_s,
        "ratios": {rec["scenario"]: rec["seconds"] / first_s for rec in timed},
        "targets": {
            rec["scenario"]: {
                "ratio": rec["seconds"] / first_s if "seconds" in rec else None,
                "target": rec["target"],
                "pass": "seconds" in rec and rec["seconds"] / first_s <= rec["target"],
            }
            for rec in scenarios
            if rec.get("target")
        },
        "peak_rss_mb": rss_mb(),
        "scenarios": scenarios,
    }


def save(out: Path, results: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


# -------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedder", default="minilm-onnx", help="embed backend")
    parser.add_argument("--preprocess-mode", default="fast", choices=["fast", "full"])
    parser.add_argument(
        "--split-mode",
        default="all",
        choices=["flagged", "all"],
        help="which topics the next layer splits (all: the demo config's, a full 3-level "
        "tree; flagged: the product default, which on synthetic data may split nothing)",
    )
    parser.add_argument(
        "--edits",
        default="flip,merge",
        help="mapping edits to time, comma-separated: flip (keep <-> split), merge",
    )
    parser.add_argument(
        "--change",
        default="top_n_words,layer2",
        help="parameter changes to time, comma-separated: top_n_words, layer2",
    )
    parser.add_argument("--warmup-rows", type=int, default=400, help="0: no warm-up")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from topicstrata import run_fit
    from topicstrata.mapping import load_mapping  # noqa: F401  (fail early on imports)
    from topicstrata.pipeline.topic import build_pipeline
    from topicstrata.synth import write_opportunities

    work = args.workdir or Path(tempfile.mkdtemp(prefix="strata-bench-pipeline-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"work folder {work}")
    config = make_config(args.embedder, args.preprocess_mode, args.split_mode)
    try:
        data = work / "opportunities.parquet"
        t = time.perf_counter()
        write_opportunities(data, args.rows, seed=args.seed)
        say(f"wrote {args.rows} rows to {data} in {time.perf_counter() - t:.1f} s")

        warmup_s = None
        if args.warmup_rows:
            from topicstrata.config import StrataConfig

            small = work / "warmup.parquet"
            write_opportunities(small, args.warmup_rows, seed=args.seed + 1)
            t = time.perf_counter()
            run_fit(small, work / "warmup_run", StrataConfig.from_dict(config), cache_dir=None)
            warmup_s = time.perf_counter() - t
            say(f"warm-up fit on {args.warmup_rows} rows: {warmup_s:.1f} s")

        scenarios: list[dict[str, Any]] = [baseline(data, work / "baseline_run", config)]

        pipeline = build_pipeline(N_LAYERS)
        root = work / "root"  # fresh: cold artefact store and run records
        params: dict[str, Any] = {
            "data": str(data),
            "output": str(work / "run"),
            "config": config,
            "mapping": "",
            "labels": "",
            "cache_dir": str(work / "cache"),  # fresh: cold text caches
            "auto_approve": True,
            "min_npmi": -1.0,
            "model_name": "",
        }
        first = run_scenario("first run", pipeline, params, root, {}, "cold store and caches")
        first_items = {
            k: v["computed"] + v["cached"] for k, v in first["items"]["per_layer"].items()
        }
        scenarios.append(first)
        agree = same_assignments(work / "baseline_run", work / "run")
        say(f"first run's assignments equal the baseline's: {agree}")
        # Keep the first run's reviewed layer-1 mapping before later runs rewrite the run dir.
        original_v1 = work / "mapping.v1.first-run.yaml"
        shutil.copyfile(work / "run" / "mapping.v1.yaml", original_v1)

        rerun = run_scenario("unchanged rerun", pipeline, params, root, first_items)
        rerun["target"] = TARGET_UNCHANGED
        scenarios.append(rerun)
        save(args.out, summary(args, config, scenarios, agree, warmup_s))

        for change in [c.strip() for c in args.change.split(",") if c.strip()]:
            new_config, what = changed_config(config, change)
            changed = {**params, "config": new_config, "output": str(work / f"run-{change}")}
            scenarios.append(
                guarded(f"param change ({change})", pipeline, changed, root, first_items, what)
            )
            save(args.out, summary(args, config, scenarios, agree, warmup_s))

        for kind in [e.strip() for e in args.edits.split(",") if e.strip()]:
            edited = work / f"edited-{kind}" / "mapping.v1.yaml"
            what = edit_mapping(original_v1, edited, kind)
            with_edit = {**params, "mapping": str(edited), "output": str(work / f"run-{kind}")}
            rec = guarded(f"mapping edit ({kind})", pipeline, with_edit, root, first_items, what)
            rec["target"] = TARGET_MAPPING
            scenarios.append(rec)
            save(args.out, summary(args, config, scenarios, agree, warmup_s))

        results = summary(args, config, scenarios, agree, warmup_s)
        text = table(results)
        header = (
            f"Pipeline benchmark: {args.rows} rows, embedder {args.embedder}, preprocess "
            f"{args.preprocess_mode}, split {args.split_mode}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}; first run equals baseline: {agree}\n"
        )
        print(header)
        print(text)
        save(args.out, results)
        args.out.with_suffix(".md").write_text(header + "\n" + text + "\n", encoding="utf-8")
        say(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
