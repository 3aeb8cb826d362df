"""Crash safety at random kill points (issue 13): ``strata fit`` killed with SIGKILL, recovered.

    python bench/faults.py                       # 24 kill points, 1,500 records
    python bench/faults.py --kills 40 --rows 3000 --seed 1

One uninterrupted ``strata fit`` with the fault trace on is the reference and the census
of how often each kill point is reached (``topicstrata._faults.POINTS``: step starts and
ends, artefact writes before their rename, run-store transactions before their commit,
per-topic fan-out items, embedding chunks before their index commits). Then ``--kills``
times: draw a point (each kind equally often, cycling through them in a seeded random
order) and a hit of it uniformly from the census, run ``strata fit`` in a fresh root until
that hit kills its process group, and recover with ``strata pipeline resume`` or
``strata fit`` again (alternating). Every recovery is checked by
``tests/_support/faults.py``: byte-identical ``assignments.parquet`` and ``topics.parquet``
against the reference, every stored artefact verifies, ``PRAGMA integrity_check`` is ok,
the killed run's history shows ``interrupted``, no temporary artefact folder is left.
The config is the tests' cheap real pipeline (TF-IDF vectors, PCA reducers, every layer
split) with the large-input path on (a teacher sample and a student), so the embedding
and student steps are among the kill points. Markdown table on stdout, JSON in ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _support.faults import CONFIG, census, kill_and_recover, table, write_config  # noqa: E402
from _support.runs import write_dirty_opportunities  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / ".strata" / "bench-faults.json")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="strata-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data.csv"
    write_dirty_opportunities(data, rows=args.rows)
    config = copy.deepcopy(CONFIG)
    teacher = max(200, args.rows // 4)
    config["embed"] = {
        **config["embed"],
        "sampling": {"min_rows": 300, "teacher_rows": teacher, "teacher_share": 0.5},
    }
    cfg = write_config(work / "config.yaml", config)
    started = time.monotonic()
    hits = census(data, cfg, work / "reference")
    print(f"census ({time.monotonic() - started:.0f} s): {dict(hits)}", file=sys.stderr)
    rng = random.Random(args.seed)
    points = sorted(hits)
    results = []
    for i in range(args.kills):
        if i % len(points) == 0:
            rng.shuffle(points)
        point = points[i % len(points)]
        nth = rng.randint(1, hits[point])
        how = ("resume", "rerun")[i % 2]
        root = work / f"k{i:02d}"
        result = kill_and_recover(data, cfg, work / "reference", root, point, nth, how)
        results.append(result)
        print(
            f"{i + 1}/{args.kills} {point}:{nth} {how}: {'ok' if result.ok else 'FAILED'} "
            f"({result.seconds:.0f} s) {result.error}",
            file=sys.stderr,
        )
    print(f"\n## strata fit killed at {args.kills} random points ({args.rows:,} records)\n")
    print(f"census of one uninterrupted run: {json.dumps(dict(sorted(hits.items())))}\n")
    print(table(results))
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} recoveries passed every check")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"rows": args.rows, "census": dict(hits), "results": [asdict(r) for r in results]},
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"JSON: {args.out}; runs under {work}", file=sys.stderr)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
