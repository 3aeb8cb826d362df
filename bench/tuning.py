"""Tuning benchmark (issue 6): tuned vs default config on data the study never saw.

    python bench/tuning.py [--parts synthetic,amazon,20ng] [--trials 12] [--seeds 0,1,2]
                           [--tune-rows 3000] [--eval-rows 5000] [--folds 3]
                           [--cache-dir .strata/bench-cache] [--out bench/results/tuning]

* ``synthetic`` (a): tune on generator seed 0 (``--tune-rows``, labels true_l1..3 in the
  loss), then fit the default and the tuned config on generator seed 1 (``--eval-rows``)
  and compare NMI at every level. TF-IDF/SVD embeddings for both (cheap on a shared CPU;
  each config's embedder is fitted on the records it clusters, as ``strata fit`` does).
* ``amazon`` / ``20ng`` (b, c): the corpus (MiniLM ONNX embeddings from the bench cache)
  is shuffled and cut in two disjoint halves. Studies run on a ``--tune-rows`` sample of
  the first half with TPE and with random search, at equal trial budget, once per seed in
  ``--seeds``; the table reports the best loss of each (c). The TPE study of the first seed
  gives the tuned config, which is fitted, with the default, on ``--eval-rows`` records of
  the second half: NMI per level and NPMI of the leaf topics (b).

Every study uses the same search space (``SPACE`` below, around the default 3-layer
config; UMAP or PCA at layer 1, PCA or none below) and 3-fold CV, and starts from the
default config (enqueued as trial 0, for random search too) and, since labels are
given, a start read off the label hierarchy (trial 1). Wall times include
the machine's other load; compare within one run only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import DEFAULT_CACHE, load_corpus
from topicstrata.config import StrataConfig
from topicstrata.embed import TfidfSvdEmbedder
from topicstrata.ensemble import Ensemble, EnsembleConfig
from topicstrata.evaluate import evaluate_assignments
from topicstrata.tune import LossWeights, SearchSpace, TuneData, TuneSettings, tune
from topicstrata.tune.space import default_space

SPACE = {
    "layers": [
        {
            "reducer": ["umap", "pca"],
            "k_low": [6, 30],
            "k_span": [0, 10],
            "n_components": [3, 20],
            "n_neighbors": [5, 50],
            "min_dist": [0.0, 0.5],
            "threshold": {"auto": True, "low": 0.02, "high": 0.5},
            "branching_factor": [20, 100],
        },
        {"reducer": ["pca", "none"], "k_low": [2, 6], "k_span": [0, 6], "n_components": [2, 10]},
        {"reducer": ["pca", "none"], "k_low": [2, 4], "k_span": [0, 4], "n_components": [2, 10]},
    ],
    # Trials whose c-TF-IDF phrase vocabulary is a single term fail (bertopic ClassTfidf
    # raises TypeError; more often with high min_df) and count against the budget.
    "representation": {"min_df": [1, 3], "bm25_weighting": [True, False]},
    "split_mode": ["flagged", "all"],
}


# (a) also lets the lower layers keep UMAP, so trial 0 is exactly the default config.
SPACE_SYNTHETIC = {
    **SPACE,
    "layers": [
        SPACE["layers"][0],
        *({**layer, "reducer": ["umap", "pca", "none"]} for layer in SPACE["layers"][1:]),
    ],
}


def default_config(backend: str) -> StrataConfig:
    return StrataConfig.from_dict({"embed": {"backend": backend}, "ensemble": {"n_jobs": 1}})


def synthetic_view(rows: int, seed: int) -> tuple[list[str], list[str], list[str], dict]:
    from topicstrata.synth import make_opportunities
    from topicstrata.synth._generate import TEXT_FIELDS

    frame = make_opportunities(rows, seed=seed)
    cols = [frame[c].tolist() for c in TEXT_FIELDS]
    texts = [
        "\n".join(p for p in parts if isinstance(p, str) and p) for parts in zip(*cols, strict=True)
    ]
    keywords = [" ".join(re.findall(r"[a-z]{3,}", t.lower())) for t in texts]
    labels = {c: frame[c].astype(str).tolist() for c in ("true_l1", "true_l2", "true_l3")}
    return frame["id"].astype(str).tolist(), texts, keywords, labels


def fit_and_score(config: EnsembleConfig, X: np.ndarray, keywords: list[str], labels: dict) -> dict:
    started = time.perf_counter()
    ensemble = Ensemble(config.model_copy(update={"n_jobs": 1})).fit(X, keywords)
    paths = ensemble.assignments_["path"].to_numpy()
    entries = ensemble.mapping_.by_path()
    words = [entries[p].keywords for p in sorted(set(paths)) if p in entries]
    scores = evaluate_assignments(
        paths,
        labels=labels,
        topic_words=[w for w in words if w] or None,
        corpus_tokens=[k.split() for k in keywords],
    )
    return {
        "nmi": [round(lv["nmi"], 3) for lv in scores["levels"]],
        "topics": [lv["n_topics"] for lv in scores["levels"]],
        "npmi": scores["npmi"],
        "fit_s": round(time.perf_counter() - started, 1),
    }


def run_study(
    data: TuneData, base: StrataConfig, args, sampler: str, seed: int, tag: str, space=None
):
    space = space or SPACE
    if args.space == "default":  # the space `strata tune` searches without a config
        space = default_space(base).model_dump(exclude_none=True)
    settings = TuneSettings(
        trials=args.trials,
        weights=LossWeights(labels=args.label_weight),
        enqueue_labels=args.label_start,
        folds=args.folds,
        sampler=sampler,
        seed=seed,
        sample=None,
        storage=f"sqlite:///{args.storage_dir}/bench-tuning.db",
        study_name=f"{tag}-{sampler}-s{seed}-{args.trials}t-{args.run_id}",
        space=SearchSpace.model_validate({**space, "embedders": [base.embed.backend]}),
    )
    started = time.perf_counter()
    result = tune(data, base, settings)
    wall = time.perf_counter() - started
    states = [t.state.name for t in result.study.trials]
    base_loss = result.study.trials[0].value  # trial 0 is the enqueued base config
    trials = result.study.trials
    start = [t.value for t in trials if t.user_attrs.get("source") == "label hierarchy"]
    print(
        f"  {tag} {sampler:<6} seed {seed}: base config {base_loss or float('nan'):+.4f}, "
        f"label start {(start[0] if start and start[0] is not None else float('nan')):+.4f}, "
        f"best loss {result.best_loss:+.4f} (trial {result.study.best_trial.number}) "
        f"({states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned, "
        f"{states.count('FAIL')} failed) in {wall:.0f}s",
        flush=True,
    )
    return result, wall


def part_synthetic(args) -> dict:
    print(f"\n## (a) synthetic: tune on seed 0 ({args.tune_rows} rows), test on seed 1", flush=True)
    ids, texts, keywords, labels = synthetic_view(args.tune_rows, seed=0)
    X = TfidfSvdEmbedder().fit(texts).encode(texts)
    base = default_config("tfidf-svd")
    data = TuneData(ids, texts, keywords, labels=labels, embeddings={"tfidf-svd": X})
    result, wall = run_study(data, base, args, "tpe", args.seeds[0], "synthetic", SPACE_SYNTHETIC)
    _, t_texts, t_keywords, t_labels = synthetic_view(args.eval_rows, seed=1)
    X_test = TfidfSvdEmbedder().fit(t_texts).encode(t_texts)
    default = fit_and_score(base.ensemble, X_test, t_keywords, t_labels)
    tuned = fit_and_score(result.best_config.ensemble, X_test, t_keywords, t_labels)
    table(
        f"synthetic seed 1, {args.eval_rows} rows (tuned: {args.trials} TPE trials on seed 0, "
        f"{wall:.0f}s, label weight {args.label_weight})",
        ["true_l1", "true_l2", "true_l3"],
        default,
        tuned,
    )
    return {"default": default, "tuned": tuned, "tune_wall_s": wall, "best": _params(result)}


def part_corpus(name: str, args) -> dict:
    corpus = load_corpus(name, args.cache_dir)
    n = len(corpus.ids)
    order = np.random.default_rng(0).permutation(n)
    tune_rows = np.sort(order[: n // 2][: args.tune_rows])
    eval_rows = np.sort(order[n // 2 :][: args.eval_rows])
    level_cols = list(corpus.levels)
    print(
        f"\n## (b, c) {name}: tune on {len(tune_rows)} rows of one half, "
        f"test on {len(eval_rows)} rows of the other",
        flush=True,
    )

    def pick(rows):
        return (
            corpus.embeddings[rows],
            [corpus.keyword_texts[i] for i in rows],
            {c: [corpus.levels[c][i] for i in rows] for c in level_cols},
        )

    X, keywords, labels = pick(tune_rows)
    base = default_config("minilm-onnx")
    data = TuneData(
        [corpus.ids[i] for i in tune_rows],
        [corpus.texts[i] for i in tune_rows],
        keywords,
        labels=labels,
        embeddings={"minilm-onnx": X},
    )
    studies: dict[str, list[dict]] = {sampler: [] for sampler in args.samplers}
    tuned_result = None
    for seed in args.seeds:
        for sampler in args.samplers:
            result, wall = run_study(data, base, args, sampler, seed, name)
            studies[sampler].append({"seed": seed, "loss": result.best_loss, "wall_s": wall})
            if tuned_result is None and sampler == "tpe":
                tuned_result, tuned_wall = result, wall
    assert tuned_result is not None
    print(f"\n### (c) {name}: best CV loss at {args.trials} trials (lower is better)")
    print("| sampler | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean | wall s |")
    print("|---|" + "---:|" * (len(args.seeds) + 2))
    for sampler, rows in studies.items():
        losses = [r["loss"] for r in rows]
        print(
            f"| {sampler} | "
            + " | ".join(f"{v:+.4f}" for v in losses)
            + f" | {np.mean(losses):+.4f} | {sum(r['wall_s'] for r in rows):.0f} |"
        )
    X_test, k_test, l_test = pick(eval_rows)
    default = fit_and_score(base.ensemble, X_test, k_test, l_test)
    tuned = fit_and_score(tuned_result.best_config.ensemble, X_test, k_test, l_test)
    table(
        f"{name} held-out half, {len(eval_rows)} rows (tuned: {args.trials} TPE trials, "
        f"seed {args.seeds[0]}, {tuned_wall:.0f}s)",
        level_cols,
        default,
        tuned,
    )
    return {
        "default": default,
        "tuned": tuned,
        "studies": studies,
        "best": _params(tuned_result),
    }


def table(title: str, level_cols: list[str], default: dict, tuned: dict) -> None:
    print(f"\n### {title}")
    print("| config | " + " | ".join(f"NMI {c}" for c in level_cols) + " | NPMI | topics | fit s |")
    print("|---|" + "---:|" * (len(level_cols) + 3))
    for name, row in (("default", default), ("tuned", tuned)):
        npmi = f"{row['npmi']:.3f}" if row["npmi"] is not None else "-"
        print(
            f"| {name} | "
            + " | ".join(f"{v:.3f}" for v in row["nmi"])
            + f" | {npmi} | {'/'.join(map(str, row['topics']))} | {row['fit_s']} |",
            flush=True,
        )


def _params(result) -> dict:
    return {"loss": result.best_loss, "params": result.study.best_trial.params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="synthetic,amazon")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tune-rows", type=int, default=3000)
    parser.add_argument("--eval-rows", type=int, default=5000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--samplers",
        default="tpe,random",
        help="studies per seed (the first seed's TPE study gives the tuned config)",
    )
    parser.add_argument(
        "--label-weight", type=float, default=1.0, help="weight of the label term of the loss"
    )
    parser.add_argument(
        "--no-label-start",
        dest="label_start",
        action="store_false",
        help="do not enqueue the start read off the label hierarchy (a label-free study)",
    )
    parser.add_argument(
        "--space",
        choices=("bench", "default"),
        default="bench",
        help="the script's SPACE, or default_space() of the default config as strata tune has",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.samplers = [s for s in args.samplers.split(",") if s]
    if "tpe" not in args.samplers:
        parser.error("--samplers must include tpe (its study gives the tuned config)")
    args.run_id = time.strftime("%Y%m%d-%H%M%S")
    logging.basicConfig(level=logging.WARNING)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = {"args": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory() as storage_dir:
        args.storage_dir = storage_dir
        started = time.perf_counter()
        for part in args.parts.split(","):
            if part == "synthetic":
                results[part] = part_synthetic(args)
            else:
                results[part] = part_corpus(part, args)
        print(f"\ntotal wall time {time.perf_counter() - started:.0f}s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
