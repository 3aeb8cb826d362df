"""strata fit's default ensemble with each split mode, against the truth (issue 14).

    python bench/split_rule.py [--datasets amazon,20ng,synthetic]
                               [--modes flagged,structure,all] [--k-ranges 15-25,2-6,2-4]
                               [--cache-dir .strata/bench-cache]
                               [--out bench/results/split_rule.json]

Everything but ``split.mode`` (and, with ``--k-ranges``, each layer's ``k_range``) is the
ensemble ``strata fit`` builds from an empty config (layer-1 ``k_range`` 15..25, no class
counts), fitted on the cached MiniLM (ONNX)
embeddings of ``bench/_common.py``. Per mode and level: NMI of the label level with the
tree cut at that depth, and the number of topics there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import DEFAULT_CACHE, load_corpus
from topicstrata.config import StrataConfig
from topicstrata.ensemble import Ensemble
from topicstrata.evaluate import level_agreement


def run(
    name: str, modes: list[str], cache_dir: Path, k_ranges: list[tuple[int, int]] | None = None
) -> list[dict]:
    corpus = load_corpus(name, cache_dir)
    levels = list(corpus.levels)
    classes = [len(set(corpus.levels[c])) for c in levels]
    shape = " / ".join(f"{lo}-{hi}" for lo, hi in k_ranges) if k_ranges else "15-25 / 2-6 / 2-4"
    print(
        f"\n### {name} ({len(corpus.ids):,} records, classes {' / '.join(map(str, classes))}; "
        f"k_range per layer {shape})"
    )
    print(
        "| split mode | "
        + " | ".join(
            f"L{i} ({c}, {k}) NMI (topics)"
            for i, (c, k) in enumerate(zip(levels, classes, strict=True), 1)
        )
        + " | fit s |"
    )
    print("|---|" + "---:|" * (len(levels) + 1), flush=True)
    rows = []
    for mode in modes:
        base = StrataConfig().ensemble
        update: dict = {"split": base.split.model_copy(update={"mode": mode})}
        if k_ranges:
            update["layers"] = [
                layer.model_copy(update={"k_range": k})
                for layer, k in zip(base.layers, k_ranges, strict=True)
            ]
        config = base.model_copy(update=update)
        started = time.perf_counter()
        ensemble = Ensemble(config).fit(corpus.embeddings, corpus.keyword_texts, ids=corpus.ids)
        seconds = time.perf_counter() - started
        scores = level_agreement(
            ensemble.assignments_["path"].astype(str).to_numpy(), corpus.levels
        )
        row = {
            "mode": mode,
            "k_ranges": [list(layer.k_range) for layer in config.layers],
            "nmi": [s["nmi"] for s in scores],
            "topics": [s["n_topics"] for s in scores],
            "fit_s": seconds,
        }
        rows.append(row)
        print(
            f"| {mode} | "
            + " | ".join(f"{n:.3f} ({t})" for n, t in zip(row["nmi"], row["topics"], strict=True))
            + f" | {seconds:.0f} |",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="amazon,20ng,synthetic")
    parser.add_argument("--modes", default="flagged,structure,all")
    parser.add_argument(
        "--k-ranges",
        default=None,
        help="each layer's k_range, e.g. 5-10,2-8,2-4 (default: the product's 15-25,2-6,2-4)",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=Path("bench/results/split_rule.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    modes = [m for m in args.modes.split(",") if m]
    k_ranges = None
    if args.k_ranges:
        pairs = [part.split("-") for part in args.k_ranges.split(",")]
        k_ranges = [(int(lo), int(hi)) for lo, hi in pairs]
    results = {}
    for name in [d for d in args.datasets.split(",") if d]:
        results[name] = run(name, modes, args.cache_dir, k_ranges)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
