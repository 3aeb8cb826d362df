"""How many rows layer 1 must learn from (issue 12): the tree at 100k against fitting on all.

    python bench/fit_sample.py --data synth-100000.parquet --root fit-100000-all-teacher \
        [--sizes 8000,20000,50000,100000] [--seeds 0,1] [--out results.json]

Takes the MiniLM vectors and keyword views of a finished ``strata fit`` of the same records
with every record embedded by MiniLM (``bench/scale.py --quality-at``'s all-MiniLM root),
and fits the whole ensemble (``Ensemble(EnsembleConfig())``, the defaults, three layers) on
them once per layer-1 ``max_fit_samples`` and seed; the deeper layers keep their default.
A size at least the number of records is "fitting on everything". Per fit: NMI against
``true_l1..3``, topics per level, wall seconds of the fit, and the level-1 agreement (topics
matched one to one) with the fit on everything at the same seed. All fits run in this
process, one after the other (UMAP compiles once, in the first); the order is sizes within
seeds, so a slower machine at one moment does not favour one size. Markdown on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from _common import matched_agreement, step_output
from topicstrata.ensemble import Ensemble, EnsembleConfig
from topicstrata.io.schema import KEYWORD_TOKENS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True, help="the all-MiniLM fit's --root")
    parser.add_argument("--sizes", default="8000,20000,50000,100000")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    vectors = np.asarray(step_output(args.root, "embed", "embeddings"), dtype=np.float32)
    views = step_output(args.root, "preprocess")
    ids = pd.Index(step_output(args.root, "ingest", "ids")).astype(str)
    truth = pd.read_parquet(args.data, columns=["id", "true_l1", "true_l2", "true_l3"])
    truth = truth.assign(id=truth["id"].astype(str)).set_index("id").loc[ids]
    keywords = views[KEYWORD_TOKENS].tolist()
    n = len(vectors)
    print(f"{n:,} records, {vectors.shape[1]}-d vectors from {args.root}", file=sys.stderr)

    rows: list[dict[str, Any]] = []
    for seed in seeds:
        full_l1: np.ndarray | None = None
        for size in sorted(sizes, key=lambda s: -min(s, n)):  # everything first: the reference
            base = EnsembleConfig(random_state=seed)
            layers = [base.layers[0].model_copy(update={"max_fit_samples": size})]
            config = base.model_copy(update={"layers": layers + base.layers[1:]})
            started = time.perf_counter()
            ensemble = Ensemble(config).fit(vectors, keywords)
            seconds = time.perf_counter() - started
            paths = ensemble.assignments_
            row: dict[str, Any] = {"size": min(size, n), "seed": seed, "fit_s": round(seconds, 1)}
            for level in (1, 2, 3):
                cut = paths[f"path_l{level}"].astype(str).to_numpy()
                row[f"nmi_l{level}"] = round(
                    float(normalized_mutual_info_score(truth[f"true_l{level}"], cut)), 4
                )
                row[f"topics_l{level}"] = int(pd.unique(cut).size)
            l1 = paths["path_l1"].astype(str).to_numpy()
            if full_l1 is None:
                full_l1 = l1
            row["l1_agreement_with_all"] = matched_agreement(full_l1, l1)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)

    print(
        "| layer-1 rows | seed | NMI l1 / l2 / l3 | topics l1 / l2 / l3 | l1 agreement "
        "with all rows | fit s |"
    )
    print("|---:|---:|---|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['seed']} | {r['nmi_l1']:.4f} / {r['nmi_l2']:.4f} / "
            f"{r['nmi_l3']:.4f} | {r['topics_l1']} / {r['topics_l2']} / {r['topics_l3']} | "
            f"{r['l1_agreement_with_all']:.2%} | {r['fit_s']:,.1f} |"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
