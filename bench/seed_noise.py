"""Where layer 1's seed noise comes from (issue 12): one source of randomness at a time.

    python bench/seed_noise.py --data synth-100000.parquet \
        --default-root fit-100000 --teacher-root fit-100000-all-teacher

Takes the vectors of two finished ``bench/scale.py --quality-at`` fits of the same records
(the large-input default: MiniLM on a teacher sample, the student elsewhere; and MiniLM on
every record) from their runs' ``embed`` steps, and fits layer 1 alone
(``LayerModel`` with the defaults of ``EnsembleConfig().layers[0]``) on them:

* both vector sets at ``random_state`` 0 and 1 (the default path with its teacher rows
  preferred, as ``strata fit`` does): the matched level-1 agreement of every pair, i.e.
  the two-fit comparison of issue 12 and its noise floor;
* MiniLM vectors at ``random_state`` 1 with one source of randomness pinned back to seed 0
  (the rows the fit learns from, UMAP's seed, the BIRCH threshold's sample): how much of
  the seed-0/seed-1 disagreement each source carries alone;
* the seed-0 and seed-1 MiniLM trees cut at fixed k (the true class counts of levels 1
  and 2): whether the disagreement is the k search's choice or the merges themselves.

Agreement is the share of records on the same topic after matching the two fits' topics
one to one (Hungarian), as in ``bench/scale.py``. Markdown on stdout, JSON in ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

import topicstrata.layers.model as layer_module
from _common import matched_agreement, step_output
from topicstrata.ensemble.config import EnsembleConfig
from topicstrata.layers.cluster import global_steps
from topicstrata.layers.model import LayerModel

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def pinned(source: str | None) -> Iterator[None]:
    """Pin one source of randomness of ``LayerModel.fit`` to seed 0."""
    if source is None:
        yield
        return
    saved: dict[str, Any] = {}
    if source == "fit sample":
        saved["_fit_sample"] = LayerModel._fit_sample

        def fit_sample(self: LayerModel, n: int, fit_rows: Any) -> Any:
            seed, self.random_state = self.random_state, 0
            try:
                return saved["_fit_sample"](self, n, fit_rows)
            finally:
                self.random_state = seed

        LayerModel._fit_sample = fit_sample  # type: ignore[method-assign]
    elif source == "UMAP seed":
        saved["make_reducer"] = layer_module.make_reducer
        layer_module.make_reducer = lambda kind, **kw: saved["make_reducer"](  # type: ignore[assignment]
            kind, **{**kw, "random_state": 0}
        )
    elif source == "BIRCH threshold sample":
        saved["scaled_threshold"] = layer_module.scaled_threshold
        layer_module.scaled_threshold = lambda Z, **kw: saved["scaled_threshold"](  # type: ignore[assignment]
            Z, **{**kw, "random_state": 0}
        )
    try:
        yield
    finally:
        if "_fit_sample" in saved:
            LayerModel._fit_sample = saved["_fit_sample"]  # type: ignore[method-assign]
        for name in ("make_reducer", "scaled_threshold"):
            if name in saved:
                setattr(layer_module, name, saved[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--default-root", type=Path, required=True)
    parser.add_argument("--teacher-root", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / ".strata" / "bench-seed-noise.json")
    args = parser.parse_args()

    ids = pd.Index(step_output(args.default_root, "ingest", "ids")).astype(str)
    teacher_ids = pd.Index(step_output(args.teacher_root, "ingest", "ids")).astype(str)
    vectors = {
        "MiniLM": np.asarray(step_output(args.teacher_root, "embed", "embeddings"))[
            teacher_ids.get_indexer(ids)
        ],
        "default": np.asarray(step_output(args.default_root, "embed", "embeddings")),
    }
    teacher_rows = np.asarray(step_output(args.default_root, "embed", "teacher_rows"))
    truth = pd.read_parquet(args.data, columns=["id", "true_l1", "true_l2"]).set_index("id")
    truth.index = truth.index.astype(str)
    truth = truth.loc[ids]
    params = EnsembleConfig().layers[0].model_dump()

    fits: dict[str, dict[str, Any]] = {}

    def fit(name: str, which: str, seed: int, pin: str | None = None) -> None:
        started = time.monotonic()
        with pinned(pin):
            model = LayerModel(**params, random_state=seed)
            model.fit(vectors[which], fit_rows=teacher_rows if which == "default" else None)
        fits[name] = {"model": model, "labels": model.labels_}
        nmi = normalized_mutual_info_score(truth["true_l1"], model.labels_)
        print(
            f"{name}: k={model.n_topics_} NMI l1 {nmi:.3f} ({time.monotonic() - started:.0f} s)",
            file=sys.stderr,
        )

    for which in ("MiniLM", "default"):
        for seed in (0, 1):
            fit(f"{which} s{seed}", which, seed)
    for pin in ("fit sample", "UMAP seed", "BIRCH threshold sample"):
        fit(f"MiniLM s1, {pin} at s0", "MiniLM", 1, pin)

    result: dict[str, Any] = {"records": len(ids), "k": {}, "pairs": {}, "pinned": {}}
    for name, f in fits.items():
        result["k"][name] = int(f["model"].n_topics_)
    pairs = [
        ("MiniLM s0", "MiniLM s1"),
        ("default s0", "default s1"),
        ("default s0", "MiniLM s0"),
        ("default s1", "MiniLM s1"),
        ("default s0", "MiniLM s1"),
        ("default s1", "MiniLM s0"),
    ]
    print(f"\n## Layer-1 seed noise, {len(ids):,} records\n")
    print("| fit A | fit B | k A / k B | level-1 agreement |")
    print("|---|---|---|---:|")
    for a, b in pairs:
        value = matched_agreement(fits[a]["labels"], fits[b]["labels"])
        result["pairs"][f"{a} | {b}"] = value
        print(f"| {a} | {b} | {result['k'][a]} / {result['k'][b]} | {value:.2%} |")
    print("\n| MiniLM, seed 1 with this pinned to seed 0 | agreement with s0 | with s1 |")
    print("|---|---:|---:|")
    for pin in ("fit sample", "UMAP seed", "BIRCH threshold sample"):
        labels = fits[f"MiniLM s1, {pin} at s0"]["labels"]
        with_0 = matched_agreement(labels, fits["MiniLM s0"]["labels"])
        with_1 = matched_agreement(labels, fits["MiniLM s1"]["labels"])
        result["pinned"][pin] = {"s0": with_0, "s1": with_1}
        print(f"| {pin} | {with_0:.2%} | {with_1:.2%} |")
    print("\n| MiniLM trees cut at a fixed k | agreement s0 / s1 |")
    print("|---|---:|")
    result["fixed_k"] = {}
    for k in (truth["true_l1"].nunique(), truth["true_l2"].nunique(), 25):
        labels = []
        for seed in (0, 1):
            model = fits[f"MiniLM s{seed}"]["model"]
            cut = global_steps(model.birch_.subcluster_centers_, np.empty(0), [k], "ward")[k]
            labels.append(cut[model.birch_.predict(model.reducer_.transform(vectors["MiniLM"]))])
        value = matched_agreement(labels[0], labels[1])
        result["fixed_k"][int(k)] = value
        print(f"| k = {k} | {value:.2%} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
