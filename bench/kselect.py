"""How layer 1 could choose its number of topics without being told (issue 14).

    python bench/kselect.py [--datasets amazon,20ng,synthetic] [--k-max 60]
                            [--cache-dir .strata/bench-cache] [--out bench/results/kselect.json]

One layer-1 fit per corpus with the product's defaults (UMAP 5-d on up to 50,000 rows,
BIRCH with the auto threshold, Ward over the subcluster centroids), except that the Ward
tree is cut at **every** k from 2 to ``--k-max`` instead of inside ``k_range`` (15..25
today). For every k it records, on one fixed sample of 5,000 points:

* the silhouette in the clustering (UMAP) space: today's criterion;
* the silhouette of the same labels in the embedding space (cosine);
* the Ward merge height that the cut at k undoes (``ward_tree(return_distance=True)``),
  for a gap criterion: k where the next merge costs the most relative to the previous;
* NMI and ARI against every label level of the corpus (the truth the criteria are not
  shown);
* unless ``--no-raw-kmeans``: KMeans on the L2-normalised embeddings at the same k (the
  space of the per-level KMeans baseline), its cosine silhouette and its NMI per level.

It then prints, per corpus, the k each criterion chooses (inside 15..25 and inside
2..k-max), the NMI at that k against each level, and the best NMI any k reaches, so a
criterion can be judged by how close its choice comes to the best cut. Nothing here
changes the product; it measures before the defaults are chosen.

Uses the cached MiniLM embeddings of ``bench/_common.py`` (warm them with
``python bench/_common.py amazon 20ng synthetic``); without the shared data folder it
says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_CACHE, REPO, load_corpus

SCORE_SAMPLE = 5_000
SEED = 0
TODAY = (15, 25)


def _silhouettes(
    Z: np.ndarray, X: np.ndarray, labels_by_k: dict[int, np.ndarray]
) -> tuple[dict[int, float], dict[int, float]]:
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(SEED)
    sample = rng.choice(len(Z), min(len(Z), SCORE_SAMPLE), replace=False)
    umap_s, raw_s = {}, {}
    for k, labels in labels_by_k.items():
        lab = labels[sample]
        if len(np.unique(lab)) < 2:
            umap_s[k] = raw_s[k] = -1.0
            continue
        umap_s[k] = float(silhouette_score(Z[sample], lab))
        raw_s[k] = float(silhouette_score(X[sample], lab, metric="cosine"))
    return umap_s, raw_s


def _gap_choice(heights: dict[int, float], lo: int, hi: int) -> int:
    """k whose next merge (to k-1) costs most relative to the merge before it (k+1 -> k)."""
    best, best_ratio = lo, -1.0
    for k in range(max(lo, 2), hi + 1):
        if k + 1 not in heights or k not in heights:
            continue
        ratio = heights[k] / max(heights[k + 1], 1e-12)
        if ratio > best_ratio:
            best, best_ratio = k, ratio
    return best


def _raw_kmeans(
    X: np.ndarray, ks: list[int], levels: dict[str, list[str]], per_k: list[dict[str, Any]]
) -> None:
    """Add KMeans on the L2-normalised embeddings at every k (the per-level baseline's
    space): its silhouette (cosine, same sample) and NMI per level, ``km_*`` columns."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score, silhouette_score

    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(SEED)
    sample = rng.choice(len(X), min(len(X), SCORE_SAMPLE), replace=False)
    for row, k in zip(per_k, ks, strict=True):
        labels = KMeans(n_clusters=k, n_init=3, random_state=SEED).fit(unit).labels_
        row["km_sil_raw"] = float(silhouette_score(X[sample], labels[sample], metric="cosine"))
        for col, truth in levels.items():
            row[f"km_nmi_{col}"] = float(normalized_mutual_info_score(truth, labels))


def analyse(
    name: str,
    cache_dir: Path,
    k_max: int,
    raw_kmeans: bool = True,
    layer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from sklearn.cluster import ward_tree
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from topicstrata.layers.cluster import cut_tree, nearest_subcluster
    from topicstrata.layers.model import LayerModel

    corpus = load_corpus(name, cache_dir)
    X = np.asarray(corpus.embeddings, dtype=np.float32)
    started = time.perf_counter()
    # The defaults' reducer and CF-tree (k_range only bounds a search not used here).
    model = LayerModel(random_state=SEED, k_range=(2, 3), **(layer or {})).fit(X)
    Z = model.reducer_.transform(X)
    sub = nearest_subcluster(model.birch_, Z)  # every row's subcluster, as predict does
    centers = np.asarray(model.birch_.subcluster_centers_, dtype=np.float64)
    children, _, n_leaves, _, distances = ward_tree(centers, return_distance=True)
    ks = list(range(2, min(k_max, n_leaves - 1) + 1))
    cuts = cut_tree(children, n_leaves, ks)
    labels_by_k = {k: cuts[k][sub] for k in ks}
    # The merge that takes the tree from k+1 to k clusters is merge n_leaves - k - 1.
    heights = {k: float(distances[n_leaves - k - 1]) for k in range(2, k_max + 2)}
    umap_s, raw_s = _silhouettes(Z, X, labels_by_k)
    levels = corpus.levels
    per_k = []
    for k in ks:
        row: dict[str, Any] = {"k": k, "sil_umap": umap_s[k], "sil_raw": raw_s[k]}
        row["merge_height"] = heights[k]
        for col, truth in levels.items():
            row[f"nmi_{col}"] = float(normalized_mutual_info_score(truth, labels_by_k[k]))
            row[f"ari_{col}"] = float(adjusted_rand_score(truth, labels_by_k[k]))
        per_k.append(row)
    if raw_kmeans:
        _raw_kmeans(X, ks, levels, per_k)
    by_k = {r["k"]: r for r in per_k}
    choices = {}
    for crit, scores in (("sil_umap", umap_s), ("sil_raw", raw_s)):
        for span_name, (lo, hi) in (("15-25", TODAY), (f"2-{ks[-1]}", (2, ks[-1]))):
            inside = {k: s for k, s in scores.items() if lo <= k <= hi}
            choices[f"{crit} {span_name}"] = max(inside, key=lambda k: (inside[k], -k))
    if raw_kmeans:
        km = {r["k"]: r["km_sil_raw"] for r in per_k}
        choices[f"kmeans raw, sil_raw 2-{ks[-1]}"] = max(km, key=lambda k: (km[k], -k))
        choices[f"kmeans raw, sil_raw 4-{ks[-1]}"] = max(
            (k for k in km if k >= 4), key=lambda k: (km[k], -k)
        )
    choices[f"ward gap 2-{ks[-1]}"] = _gap_choice(heights, 2, ks[-1])
    choices[f"ward gap 4-{ks[-1]}"] = _gap_choice(heights, 4, ks[-1])
    summary = {}
    for crit, k in choices.items():
        prefix = "km_nmi_" if crit.startswith("kmeans") else "nmi_"
        summary[crit] = {"k": k, **{c: by_k[k][f"{prefix}{c}"] for c in levels}}
    best = {c: max(per_k, key=lambda r, c=c: r[f"nmi_{c}"]) for c in levels}
    return {
        "corpus": name,
        "layer": layer or {},
        "n_docs": len(X),
        "class_counts": {c: len(set(v)) for c, v in levels.items()},
        "n_subclusters": int(n_leaves),
        "fit_s": round(time.perf_counter() - started, 1),
        "choices": summary,
        "best": {c: {"k": r["k"], "nmi": r[f"nmi_{c}"]} for c, r in best.items()},
        "per_k": per_k,
    }


def markdown(result: dict[str, Any]) -> str:
    cols = list(result["class_counts"])
    head = " / ".join(f"{c} ({n})" for c, n in result["class_counts"].items())
    settings = ", ".join(f"{k}={v}" for k, v in result["layer"].items()) or "layer defaults"
    lines = [
        f"### {result['corpus']}: {result['n_docs']:,} docs, {result['n_subclusters']} "
        f"subclusters, classes {head} ({settings})",
        "",
        "| criterion | k | " + " | ".join(f"NMI {c}" for c in cols) + " |",
        "|---|---:|" + "---:|" * len(cols),
    ]
    for crit, row in result["choices"].items():
        nmis = " | ".join(f"{row[c]:.3f}" for c in cols)
        lines.append(f"| {crit} | {row['k']} | {nmis} |")
    best = " | ".join(f"{result['best'][c]['nmi']:.3f} (k={result['best'][c]['k']})" for c in cols)
    lines.append(f"| best k per level | | {best} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="amazon,20ng,synthetic")
    parser.add_argument("--k-max", type=int, default=60)
    parser.add_argument("--n-neighbors", type=int, default=None, help="UMAP (default 15)")
    parser.add_argument("--n-components", type=int, default=None, help="UMAP (default 5)")
    parser.add_argument(
        "--no-raw-kmeans", action="store_true", help="skip KMeans on the embeddings at every k"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "kselect.json")
    args = parser.parse_args(argv)
    from topicstrata.errors import InputError
    from topicstrata.evaluate.datasets import shared_data_root

    try:
        shared_data_root()
    except InputError as exc:
        print(f"bench/kselect.py: skipped, no benchmark data: {exc}")
        return 0
    results = []
    for name in args.datasets.split(","):
        try:
            layer = {
                key: value
                for key, value in (
                    ("n_neighbors", args.n_neighbors),
                    ("n_components", args.n_components),
                )
                if value is not None
            }
            result = analyse(name, args.cache_dir, args.k_max, not args.no_raw_kmeans, layer)
        except InputError as exc:
            print(f"bench/kselect.py: {name} skipped: {exc}")
            continue
        results.append(result)
        print(markdown(result), flush=True)
        print(flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
