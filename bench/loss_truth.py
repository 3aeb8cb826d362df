"""Does the label-free tuning loss rank configurations the way the truth does? (issue 14)

    python bench/loss_truth.py [--datasets amazon,20ng,synthetic] [--trials 40] [--rows 3000]
                               [--folds 3] [--jobs 2] [--cache-dir .strata/bench-cache]
                               [--out bench/results/loss_truth.json]

Per corpus: a random-search study of ``--trials`` configurations drawn from the product's
own search space (``default_space`` of the default config; the default config itself is
trial 0), on ``--rows`` records sampled from the corpus, each configuration scored by
``--folds``-fold cross-validation exactly as ``strata tune`` scores it, with the label
weight at 0: the loss is what a user without labels optimises. The label columns are
still given, so every fold also measures, on its held-out records, the NMI of each label
level with the tree cut at that depth (``nmi_l1``, ``nmi_l2``, ...; the loss never sees
them). Pruning is off and no label-informed start is enqueued, so every trial is a full,
label-free measurement.

Reported per corpus: the Spearman correlation between ``-loss`` and the held-out mean NMI
over levels (the issue's target: >= 0.6), the same against each level, and the
correlation of each term of the loss with the mean NMI (which term misleads). Then, from
the recorded terms alone (no refit), the correlation each corpus would get with other term
weights, so a change of the loss can be judged on all three corpora before it is made.

Uses the cached MiniLM (ONNX) embeddings of ``bench/_common.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import DEFAULT_CACHE, load_corpus
from topicstrata.config import StrataConfig
from topicstrata.tune import LossWeights, TuneData, TuneSettings, tune
from topicstrata.tune.space import default_space
from topicstrata.tune.study import open_study

BACKEND = "minilm-onnx"
TERMS = ("coherence", "diversity", "balance", "outliers", "stability", "word_gain")
#: Sign of each term in ``-loss`` (a higher value lowers the loss, except outliers).
SIGN = {
    "coherence": 1,
    "diversity": 1,
    "balance": 1,
    "outliers": -1,
    "stability": 1,
    "word_gain": 1,
}
#: Term weights tried offline on the recorded terms (name: weights of TERMS). The loss
#: gained ``word_gain`` (weight 4) after the runs of 2026-12-07 (bench/README).
VARIANTS = {
    "before word gain (1, .5, .5, 1, .5, 0)": (1.0, 0.5, 0.5, 1.0, 0.5, 0.0),
    "no coherence": (0.0, 0.5, 0.5, 1.0, 0.5, 0.0),
    "no diversity": (1.0, 0.0, 0.5, 1.0, 0.5, 0.0),
    "no balance": (1.0, 0.5, 0.0, 1.0, 0.5, 0.0),
    "no stability": (1.0, 0.5, 0.5, 1.0, 0.0, 0.0),
    "stability x4": (1.0, 0.5, 0.5, 1.0, 2.0, 0.0),
    "balance x4": (1.0, 0.5, 2.0, 1.0, 0.5, 0.0),
    "stability + balance only": (0.0, 0.0, 0.5, 1.0, 0.5, 0.0),
    "word gain only": (0.0, 0.0, 0.0, 1.0, 0.0, 1.0),
    "before + word gain": (1.0, 0.5, 0.5, 1.0, 0.5, 1.0),
    "the loss now (1, .5, .5, 1, .5, 4)": (1.0, 0.5, 0.5, 1.0, 0.5, 4.0),
    "word gain + stability": (0.0, 0.0, 0.0, 1.0, 0.5, 1.0),
}


def study_rows(name: str, args) -> list[dict]:
    corpus = load_corpus(name, args.cache_dir)
    n = len(corpus.ids)
    rows_seed = args.seed if args.rows_seed is None else args.rows_seed
    rows = np.sort(np.random.default_rng(rows_seed).permutation(n)[: args.rows])
    levels = list(corpus.levels)
    base = StrataConfig.from_dict({"embed": {"backend": BACKEND}, "ensemble": {"n_jobs": 1}})
    data = TuneData(
        [corpus.ids[i] for i in rows],
        [corpus.texts[i] for i in rows],
        [corpus.keyword_texts[i] for i in rows],
        labels={c: [corpus.levels[c][i] for i in rows] for c in levels},
        embeddings={BACKEND: corpus.embeddings[rows]},
    )
    space = default_space(base).model_copy(update={"embedders": [BACKEND]})
    settings = TuneSettings(
        trials=args.trials,
        sampler="random",
        folds=args.folds,
        seed=args.seed,
        sample=None,
        n_jobs=args.jobs,
        pruning=False,
        enqueue_base=True,
        enqueue_labels=False,
        storage=f"sqlite:///{args.storage_dir}/loss-truth.db",
        study_name=f"{name}-{args.rows}-{args.trials}t-{args.run_id}",
        weights=LossWeights(labels=0.0),
        space=space,
    )
    print(
        f"\n## {name}: {len(rows):,} of {n:,} records, classes "
        + " / ".join(f"{c} {len(set(corpus.levels[c]))}" for c in levels)
        + f"; {args.trials} random configurations, {args.folds}-fold CV, label weight 0",
        flush=True,
    )
    if args.replay is not None:
        # The same configurations on other records (``--rows-seed``): enqueue every trial
        # of the earlier run, so how well the truth itself repeats can be measured.
        runs = json.loads(args.replay.read_text())
        if name not in runs:
            raise SystemExit(f"--replay {args.replay}: no {name} run in it (has {sorted(runs)})")
        earlier = runs[name]["trials"]
        study = open_study(settings, settings.study_name)
        for trial in earlier:
            study.enqueue_trial(trial["params"], user_attrs={"replay_of": trial["trial"]})
        settings = settings.model_copy(update={"trials": len(earlier), "n_jobs": 1})
    started = time.perf_counter()
    result = tune(data, base, settings)
    wall = time.perf_counter() - started
    out = []
    for trial in result.study.trials:
        attrs = trial.user_attrs
        if trial.value is None or not math.isfinite(trial.value):
            continue
        nmi = [float(attrs[f"nmi_l{i}"]) for i in range(1, len(levels) + 1)]
        out.append(
            {
                "trial": trial.number,
                "loss": float(trial.value),
                "nmi": nmi,
                "mean_nmi": float(np.mean(nmi)),
                "n_topics": attrs.get("n_topics"),
                **{t: float(attrs.get(t, 0.0)) for t in TERMS},
                "params": trial.params,
                "replay_of": attrs.get("replay_of"),
            }
        )
    states = [t.state.name for t in result.study.trials]
    print(
        f"{len(out)} complete, {states.count('FAIL')} failed, in {wall:.0f} s "
        f"({len(out) / wall * 3600:.0f} trials/hour)",
        flush=True,
    )
    return out


def rho(x, y) -> float:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(x, y).statistic)


def report(name: str, trials: list[dict]) -> dict:
    truth = np.array([t["mean_nmi"] for t in trials])
    neg_loss = -np.array([t["loss"] for t in trials])
    n_levels = len(trials[0]["nmi"])
    per_level = [rho(neg_loss, [t["nmi"][i] for t in trials]) for i in range(n_levels)]
    terms = {term: rho(SIGN[term] * np.array([t[term] for t in trials]), truth) for term in TERMS}
    variants = {}
    for label, weights in VARIANTS.items():
        score = sum(
            w * SIGN[term] * np.array([t[term] for t in trials])
            for w, term in zip(weights, TERMS, strict=True)
        )
        variants[label] = rho(score, truth)
    overall = rho(neg_loss, truth)
    print(f"\n### {name}: Spearman with held-out NMI over {len(trials)} configurations")
    print("| what is ranked | against | Spearman |")
    print("|---|---|---:|")
    print(f"| -loss (label weight 0) | mean NMI over levels | **{overall:+.2f}** |")
    for i, value in enumerate(per_level, start=1):
        print(f"| -loss | NMI level {i} | {value:+.2f} |")
    for term, value in terms.items():
        sign = "-" if SIGN[term] < 0 else "+"
        print(f"| {sign}{term} alone | mean NMI | {value:+.2f} |")
    best = max(trials, key=lambda t: -t["loss"])
    top = max(trials, key=lambda t: t["mean_nmi"])
    base = next((t for t in trials if t["trial"] == 0), None)
    print(
        f"\nNMI range {truth.min():.3f}..{truth.max():.3f}; the loss's best trial "
        f"({best['trial']}) has mean NMI {best['mean_nmi']:.3f}, the truth's best "
        f"({top['trial']}) {top['mean_nmi']:.3f}"
        + (f", the default config (trial 0) {base['mean_nmi']:.3f}" if base else "")
    )
    return {
        "n": len(trials),
        "spearman": overall,
        "per_level": per_level,
        "terms": terms,
        "variants": variants,
        "trials": trials,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="amazon,20ng,synthetic")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rows-seed", type=int, default=None, help="sample the records (default: --seed)"
    )
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        help="JSON of an earlier run: score its configurations again (with --rows-seed)",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=Path("bench/results/loss_truth.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.run_id = time.strftime("%Y%m%d-%H%M%S")
    results = {}
    with tempfile.TemporaryDirectory(prefix="loss-truth-") as tmp:
        args.storage_dir = tmp
        for name in [d for d in args.datasets.split(",") if d]:
            try:
                trials = study_rows(name, args)
            except FileNotFoundError as exc:
                print(f"skipping {name}: {exc}", flush=True)
                continue
            results[name] = report(name, trials)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1, default=str))
    if not results:
        return
    print("\n### Other term weights, ranked on the recorded terms (no refit)")
    names = list(results)
    print("| weights (C, D, B, O, S, W) | " + " | ".join(names) + " | min |")
    print("|---|" + "---:|" * (len(names) + 1))
    for label in VARIANTS:
        values = [results[n]["variants"][label] for n in names]
        print(
            f"| {label} | " + " | ".join(f"{v:+.2f}" for v in values) + f" | {min(values):+.2f} |"
        )
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
