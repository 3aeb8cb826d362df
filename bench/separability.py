"""Is each label level in the MiniLM vectors at all, and is it their main cluster structure?

    python bench/separability.py [--datasets amazon,20ng,synthetic] [--max-rows 20000]
                                 [--cache-dir .strata/bench-cache]
                                 [--out bench/results/separability.json]

Issue 14 sets NMI targets per label level for label-free clustering. Two numbers per level
tell what such targets can ask of the vectors every method here clusters:

* **supervised**: two classifiers trained on the labels, a logistic regression and a
  25-nearest-neighbour vote (cosine, distance-weighted), their 5-fold cross-validated
  predictions scored by NMI against the labels (folds are fewer where a class has fewer
  than 5 records; classes with 1 record are left out). How much of the level a partition
  of these vectors *can* express, given the labels; not a bound, a reference.
* **KMeans(k)**: KMeans with the class count given on the L2-normalised vectors (the
  per-level baseline of ``quality.py``), best of 4 starts. How much of it the vectors'
  own cluster structure expresses.

With ``--components 3,8,20``, the first level of each corpus also gets KMeans(k) on the
top d principal components of the centred vectors, and on the vectors with those d
components removed (the "all-but-the-top" post-processing of Mu and Viswanath, 2018, for
a common direction that could hide the topical one).

A level with a high supervised score and a low KMeans score is in the vectors but is not
how they group: no label-free criterion can be expected to find it, because another
grouping of the same records is the stronger one. Without the shared data folder a
corpus is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_CACHE, REPO, load_corpus

SEED = 0


def level_scores(X: np.ndarray, labels: np.ndarray) -> dict[str, float | int]:
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    values, counts = np.unique(labels, return_counts=True)
    folds = int(max(2, min(5, counts[counts >= 2].min())))
    keep = np.isin(labels, values[counts >= folds])
    cv = StratifiedKFold(folds, shuffle=True, random_state=SEED)
    supervised = {}
    for name, model in (
        ("logreg", LogisticRegression(C=1, max_iter=500)),
        ("knn", KNeighborsClassifier(25, metric="cosine", weights="distance")),
    ):
        predicted = cross_val_predict(model, X[keep], labels[keep], cv=cv, n_jobs=2)
        supervised[name] = float(normalized_mutual_info_score(labels[keep], predicted))
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    clusters = KMeans(n_clusters=len(values), n_init=4, random_state=SEED).fit_predict(unit)
    return {
        "classes": len(values),
        "folds": folds,
        "rows": int(keep.sum()),
        **supervised,
        "supervised": max(supervised.values()),
        "kmeans": float(normalized_mutual_info_score(labels, clusters)),
    }


def _sampled(embeddings: np.ndarray, max_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The vectors, and the rows used: all, or ``max_rows`` drawn at random."""
    X = np.asarray(embeddings, dtype=np.float32)
    rows = np.arange(len(X))
    if len(X) > max_rows:
        rows = np.sort(np.random.default_rng(SEED).choice(len(X), max_rows, replace=False))
    return X, rows


def component_scores(X: np.ndarray, labels: np.ndarray, ds: list[int]) -> dict[str, float]:
    """KMeans(k) NMI on the top ``d`` principal components, and with them removed."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import normalized_mutual_info_score

    k = len(np.unique(labels))
    centred = X.astype(np.float64) - X.mean(axis=0)
    out = {}
    for d in ds:
        pca = PCA(d, random_state=SEED).fit(centred)
        top = pca.transform(centred)
        rest = centred - top @ pca.components_
        for name, Z in ((f"top {d}", top), (f"without top {d}", rest)):
            Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
            clusters = KMeans(n_clusters=k, n_init=4, random_state=SEED).fit_predict(Z)
            out[name] = float(normalized_mutual_info_score(labels, clusters))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="amazon,20ng,synthetic")
    parser.add_argument("--max-rows", type=int, default=20_000, help="sample larger corpora")
    parser.add_argument(
        "--components", default="", help="e.g. 3,8,20: KMeans on/without the top d components"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "separability.json"
    )
    args = parser.parse_args(argv)
    from topicstrata.errors import InputError

    print(
        "| corpus | level (classes) | rows | logistic regression | 25-NN | "
        "KMeans(k), no labels | best supervised - KMeans |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    results: dict[str, dict[str, dict[str, float | int]]] = {}
    first_level: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}  # for --components
    for name in [d for d in args.datasets.split(",") if d]:
        try:
            corpus = load_corpus(name, args.cache_dir)
        except InputError as exc:  # the shared data folder is absent
            print(f"skipping {name}: {exc}", flush=True)
            continue
        X, rows = _sampled(corpus.embeddings, args.max_rows)
        results[name] = {}
        column, labels = next(iter(corpus.levels.items()))
        first_level[name] = (column, X[rows], np.asarray(labels)[rows])
        for column, labels in corpus.levels.items():
            started = time.perf_counter()
            scores = level_scores(X[rows], np.asarray(labels)[rows])
            scores["seconds"] = round(time.perf_counter() - started, 1)
            results[name][column] = scores
            print(
                f"| {name} | {column} ({scores['classes']}) | {scores['rows']:,} | "
                f"{scores['logreg']:.3f} | {scores['knn']:.3f} | {scores['kmeans']:.3f} | "
                f"{scores['supervised'] - scores['kmeans']:+.3f} |",
                flush=True,
            )
    ds = [int(d) for d in args.components.split(",") if d]
    if ds:
        print(
            "\n| corpus | level (classes) | "
            + " | ".join(f"top {d} | without top {d}" for d in ds)
            + " |"
        )
        print("|---|---|" + "---:|" * (2 * len(ds)))
    for name, (column, vectors, labels) in first_level.items() if ds else []:
        scores = component_scores(vectors, labels, ds)
        results[name][column]["components"] = scores  # type: ignore[assignment]
        classes = len(np.unique(labels))
        print(
            f"| {name} | {column} ({classes}) | "
            + " | ".join(f"{scores[f'top {d}']:.3f} | {scores[f'without top {d}']:.3f}" for d in ds)
            + " |",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
