"""Prediction strength of layer 1's Ward cuts: a resampling criterion for k (issue 14).

    python bench/prediction_strength.py amazon      # or 20ng, synthetic
    python bench/prediction_strength.py synthetic --repeats 3 --k-max 40

Issue 14 names "stability across resamples" as a candidate for choosing the number of
layer-1 topics without labels. This measures Tibshirani and Walther's (2005) prediction
strength on the product's layer 1: one default layer-1 fit (UMAP 5-d, BIRCH with the auto
threshold) gives the reduced space and the BIRCH threshold; then, ``--repeats`` times, the
records are split in two random halves A and B, each half gets its own CF-tree (same
threshold) and Ward tree over its subclusters, and for every k the Ward cut of A predicts
B's records (each through its nearest A subcluster, as ``predict`` routes). For each of
B's own clusters, the share of its record pairs that A's prediction also puts together;
``ps_min`` is the smallest share over B's clusters (the paper's statistic; its rule picks
the largest k with ``ps_min`` >= 0.8), ``ps_mean`` the size-weighted mean. Beside them,
the NMI of the full fit's Ward cut at k against every label level (the truth the
criterion is not shown). Prints one row per k; ``--out`` writes JSON. Uses the cached
MiniLM embeddings of ``bench/_common.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_CACHE, load_corpus
from topicstrata.errors import InputError


def main() -> int:
    from sklearn.cluster import Birch, ward_tree
    from sklearn.metrics import normalized_mutual_info_score

    from topicstrata.layers.cluster import cut_tree, nearest_subcluster
    from topicstrata.layers.model import LayerModel

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", choices=["amazon", "20ng", "synthetic"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k-max", type=int, default=40)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    try:
        corpus = load_corpus(args.corpus, args.cache_dir)
    except InputError as exc:  # the shared data folder is absent
        print(f"skipped: {args.corpus} not available ({exc})", file=sys.stderr)
        return 0
    ks = list(range(2, args.k_max + 1))
    X = np.asarray(corpus.embeddings, dtype=np.float32)
    model = LayerModel(random_state=0, k_range=(2, 3)).fit(X)
    Z = model.reducer_.transform(X)
    threshold, branching = model.birch_.threshold, model.birch_.branching_factor
    centers = np.asarray(model.birch_.subcluster_centers_, dtype=np.float64)
    children, _, n_leaves, _ = ward_tree(centers)
    full = cut_tree(children, n_leaves, ks)
    sub = nearest_subcluster(model.birch_, Z)

    def half_tree(rows: np.ndarray) -> tuple[Birch, dict[int, np.ndarray]]:
        birch = Birch(threshold=threshold, n_clusters=None, branching_factor=branching)
        birch.fit(Z[rows])
        cen = np.asarray(birch.subcluster_centers_, dtype=np.float64)
        ch, _, leaves, _ = ward_tree(cen)
        return birch, cut_tree(ch, leaves, [k for k in ks if k < leaves])

    rng = np.random.default_rng(0)
    ps_min: dict[int, list[float]] = {k: [] for k in ks}
    ps_mean: dict[int, list[float]] = {k: [] for k in ks}
    for _ in range(args.repeats):
        order = rng.permutation(len(Z))
        a, b = order[: len(Z) // 2], order[len(Z) // 2 :]
        birch_a, cuts_a = half_tree(a)
        birch_b, cuts_b = half_tree(b)
        a_sub_of_b, b_sub = nearest_subcluster(birch_a, Z[b]), nearest_subcluster(birch_b, Z[b])
        for k in ks:
            if k not in cuts_a or k not in cuts_b:
                continue
            table = np.zeros((k, k))
            np.add.at(table, (cuts_b[k][b_sub], cuts_a[k][a_sub_of_b]), 1)
            sizes = table.sum(axis=1)
            ok = sizes >= 2
            share = (table * (table - 1)).sum(axis=1)[ok] / (sizes[ok] * (sizes[ok] - 1))
            ps_min[k].append(float(share.min()))
            ps_mean[k].append(float((share * sizes[ok]).sum() / sizes[ok].sum()))
    rows = []
    cols = list(corpus.levels)
    print(f"| k | ps_min | ps_mean | {' | '.join('NMI ' + c for c in cols)} |")
    print("|---:|---:|---:|" + "---:|" * len(cols))
    for k in ks:
        row = {"k": k, "ps_min": float(np.mean(ps_min[k])), "ps_mean": float(np.mean(ps_mean[k]))}
        for col in cols:
            labels = full[k][sub]
            row[f"nmi_{col}"] = float(normalized_mutual_info_score(corpus.levels[col], labels))
        rows.append(row)
        nmis = " | ".join(f"{row[f'nmi_{c}']:.3f}" for c in cols)
        print(f"| {k} | {row['ps_min']:.3f} | {row['ps_mean']:.3f} | {nmis} |", flush=True)
    chosen = max((r["k"] for r in rows if r["ps_min"] >= 0.8), default=None)
    print(f"\nlargest k with ps_min >= 0.8 (Tibshirani and Walther's rule): {chosen}")
    if args.out:
        args.out.write_text(json.dumps({"corpus": args.corpus, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
