"""Issue 15: the default pipeline on a two-node Ray cluster simulated on one machine.

    python bench/ray_cluster.py --rows 20000

``ray.cluster_utils.Cluster`` (Ray's own multi-node test harness) starts a head node and
a second node on this machine, each with ``--cpus-per-node`` CPUs (default 1, so the two
nodes split a 2-core machine). ``strata fit --executor ray --address HEAD`` then runs on
that cluster as a separate process, as a user's command would, and ``strata fit`` (local
executor) runs on the same records in another root. Printed: wall time of each, the
cluster's nodes, how many embedding actors the run started (one per node), and whether
the two ``assignments.parquet`` files are byte-identical.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STRATA = str(Path(sys.executable).with_name("strata"))


def fit(data: Path, root: Path, *extra: str) -> float:
    root.mkdir(parents=True, exist_ok=True)
    cmd = [STRATA, "fit", str(data), "-o", str(root / "run"), "--root", str(root)]
    cmd += ["--cache-dir", str(root / "cache"), "--verbose", *extra]
    started = time.perf_counter()
    with open(root / "log", "w", encoding="utf-8") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise SystemExit(f"strata fit failed ({code}); see {root / 'log'}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cpus-per-node", type=float, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        raise SystemExit(
            "bench/ray_cluster.py needs Ray: pip install 'topicstrata[ray]' (make install does)"
        ) from None

    work = Path(tempfile.mkdtemp(prefix="strata-ray-cluster-"))
    data = work / "data.parquet"
    subprocess.run(
        [STRATA, "synth", "--rows", str(args.rows), "--seed", "0", "-o", str(data)], check=True
    )
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": args.cpus_per_node, "include_dashboard": False},
    )
    cluster.add_node(num_cpus=args.cpus_per_node)
    cluster.wait_for_nodes()
    try:
        import ray

        ray.init(address=cluster.address)
        nodes = [
            {"node": n["NodeID"][:8], "cpus": n["Resources"].get("CPU")}
            for n in ray.nodes()
            if n["Alive"]
        ]
        ray.shutdown()
        on_ray = fit(data, work / "ray", "--executor", "ray", "--address", cluster.address)
    finally:
        cluster.shutdown()
    local = fit(data, work / "local")
    log = (work / "ray" / "log").read_text(encoding="utf-8")
    actors = re.findall(r"on Ray Data: (\d+) actor", log)
    same = (work / "ray" / "run" / "assignments.parquet").read_bytes() == (
        work / "local" / "run" / "assignments.parquet"
    ).read_bytes()
    result = {
        "rows": args.rows,
        "nodes": nodes,
        "ray_s": round(on_ray, 1),
        "local_s": round(local, 1),
        "embedding_actors": actors,
        "byte_identical_assignments": same,
    }
    print(f"\n## two Ray nodes on one machine, {args.rows:,} synthetic records\n")
    print("| executor | nodes | wall s |")
    print("|---|---|---:|")
    print(f"| ray, two nodes | {len(nodes)} x {args.cpus_per_node:g} CPU | {on_ray:.0f} |")
    print(f"| local | this machine | {local:.0f} |")
    print(f"\nembedding actors started: {actors}; assignments byte-identical: {same}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"work dir: {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
