"""BERTopic baselines for issue 12: fit cost and a naive 3-layer BERTopic loop, side by side.

    python bench/bertopic_baselines.py --data FILE.parquet --embeddings FILE.npy
        [--rows N] [--skip-fit] [--skip-loop] [--skip-hierarchy] [--embed-seconds S]
        [--warmup-rows 5000] [--loop-min-rows 30] [--umap-seed INT] [--out JSON]

Inputs: a synthetic-opportunities file (``strata synth --rows N --seed 0 -o FILE``;
columns ``id``, the text fields, ``true_l1``..``true_l3``) and a ``.npy`` of precomputed
embeddings, one row per record in the file's order. The record text is the text fields
joined by newlines (as ingest builds it), preprocessed once with
``PreprocessConfig(mode="fast")``: BERTopic gets the ``embed_text`` view as its documents,
topicstrata the ``keyword_tokens`` view as its keyword texts. Every method sees the same
embeddings. ``--rows N`` takes a seeded sample of N records (``_common.SAMPLE_SEED``).

Everything runs in this one process, in this order:

0. warm-up: one BERTopic fit and one topicstrata fit on the first ``--warmup-rows`` records
   (default 5,000: above UMAP's 4,096-row switch from exact neighbours to pynndescent, so
   both code paths compile; at most half the records, at least 2,000), so
   numba/UMAP/pynndescent compilation is paid before any clock below starts. topicstrata
   fans the per-topic fits of a layer out to worker processes from
   ``parallel_min_rows`` (20,000) records up; those processes compile again, inside its
   timed fit, as they do in every real run;
1. fit cost: ``BERTopic(calculate_probabilities=False).fit_transform(docs, embeddings)``
   with BERTopic's defaults (UMAP + HDBSCAN, CountVectorizer; UMAP unseeded unless
   ``--umap-seed``) vs ``Ensemble(EnsembleConfig()).fit(embeddings, keyword_texts, ids)``;
   wall seconds, the ratio topicstrata / BERTopic (issue 12: <= 2 at 20k-100k), and NMI
   against ``true_l1``..``true_l3``: BERTopic's flat topics against every level, BERTopic's
   ``hierarchical_topics`` tree cut to each level's class count (``quality.cut_hierarchy``,
   its time reported apart), topicstrata's ``path_l1``..``path_l3``;
2. the naive 3-layer BERTopic loop: layer 1 is a BERTopic fit on all records (the fit of
   step 1 is reused, its time counted, unless ``--skip-fit``), then one BERTopic per
   layer-1 topic on that topic's records and embeddings, then one per layer-2 topic.
   A group with fewer than ``--loop-min-rows`` records, an outlier group (-1) and a group
   whose fit raises (UMAP/HDBSCAN on too few points) are kept whole: their records keep
   the parent path at the deeper levels. Outliers of a fit are their own child (``p.-1``).
   NMI per level is the path cut at depth i against ``true_li``. With
   ``--embed-seconds S`` (the time the caller measured for embedding all records with
   MiniLM) it adds the loop's end-to-end estimate S + loop fit time.

Outliers (-1) count as their own class in every NMI (scikit-learn, arithmetic mean).
Prints a markdown table on stdout, progress on stderr, JSON at ``--out``. No timing is
asserted anywhere: the machine may be shared, so compare times within one run only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_CACHE, _sample_rows, _synthetic_texts, peak_rss_mb

LEVEL_COLS = ("true_l1", "true_l2", "true_l3")
OUTLIER = "-1"

_T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- inputs
def load_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """Records (sampled), both text views, embeddings and the label levels."""
    import pandas as pd

    from topicstrata.preprocess import PreprocessConfig, preprocess

    frame = pd.read_parquet(args.data)
    try:
        embeddings = np.load(args.embeddings, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{args.embeddings}: not a readable .npy array: {exc}") from None
    if embeddings.ndim != 2:
        raise SystemExit(f"{args.embeddings}: expected a 2-d array, got {embeddings.shape}")
    if len(embeddings) != len(frame):
        raise SystemExit(
            f"{args.embeddings}: {len(embeddings):,} rows, but {args.data} has "
            f"{len(frame):,} records; the embeddings must be one row per record, same order."
        )
    missing = [c for c in ("id", *LEVEL_COLS) if c not in frame.columns]
    if missing:
        raise SystemExit(f"{args.data}: missing column(s) {missing}")
    rows = _sample_rows(len(frame), args.rows)
    frame = frame.iloc[rows].reset_index(drop=True)
    emb = np.ascontiguousarray(embeddings[rows], dtype=np.float32)
    log(f"{len(frame):,} records, embeddings {emb.shape}; preprocessing (fast mode)")
    started = time.perf_counter()
    cache = None if args.no_cache else args.cache_dir / "preprocess"
    views = preprocess(_synthetic_texts(frame), PreprocessConfig(mode="fast"), cache_dir=cache)
    log(f"preprocessed in {time.perf_counter() - started:.1f}s")
    return {
        "ids": frame["id"].astype(str).tolist(),
        "docs": views["embed_text"].tolist(),
        "keyword_texts": views["keyword_tokens"].tolist(),
        "embeddings": emb,
        "levels": {c: frame[c].astype(str).to_numpy() for c in LEVEL_COLS},
    }


# --------------------------------------------------------------------------- methods
def new_bertopic(umap_seed: int | None) -> Any:
    """BERTopic with its defaults; with ``umap_seed``, its default UMAP seeded."""
    from bertopic import BERTopic

    if umap_seed is None:
        return BERTopic(calculate_probabilities=False)
    from umap import UMAP

    umap_model = UMAP(
        n_neighbors=15,
        n_components=5,
        min_dist=0.0,
        metric="cosine",
        low_memory=False,
        random_state=umap_seed,
    )
    return BERTopic(umap_model=umap_model, calculate_probabilities=False)


def fit_bertopic(
    docs: list[str], embeddings: NDArray[np.float32], umap_seed: int | None
) -> tuple[Any, NDArray[np.int64], float]:
    model = new_bertopic(umap_seed)
    started = time.perf_counter()
    topics, _ = model.fit_transform(docs, embeddings)
    return model, np.asarray(topics, dtype=np.int64), time.perf_counter() - started


def fit_topicstrata(
    embeddings: NDArray[np.float32],
    keyword_texts: list[str],
    ids: list[str],
    fit_rows: NDArray[np.intp] | None = None,
) -> tuple[list[NDArray[np.object_]], float]:
    from topicstrata.ensemble import Ensemble, EnsembleConfig

    started = time.perf_counter()
    ensemble = Ensemble(EnsembleConfig()).fit(embeddings, keyword_texts, ids=ids, fit_rows=fit_rows)
    seconds = time.perf_counter() - started
    frame = ensemble.assignments_
    cuts = []
    for level in range(1, len(LEVEL_COLS) + 1):
        deepest = min(level, ensemble.n_layers_)  # EnsembleConfig() has 3 layers
        cuts.append(frame[f"path_l{deepest}"].astype(str).to_numpy(dtype=object))
    return cuts, seconds


def naive_loop(
    docs: list[str],
    embeddings: NDArray[np.float32],
    umap_seed: int | None,
    min_rows: int,
    first: tuple[NDArray[np.int64], float] | None,
    depth: int = len(LEVEL_COLS),
) -> dict[str, Any]:
    """The naive loop: BERTopic on all records, then per topic, then per child topic."""
    n = len(docs)
    if first is None:
        log("loop layer 1: BERTopic on all records")
        _, topics, seconds = fit_bertopic(docs, embeddings, umap_seed)
        reused = False
    else:
        topics, seconds = first
        reused = True
    labels = np.array([str(t) for t in topics.tolist()], dtype=object)
    cuts = [labels]
    final = {OUTLIER}  # groups kept whole from here on: outliers, too small, failed
    layers = [
        {
            "layer": 1,
            "seconds": round(seconds, 2),
            "reused_flat_fit": reused,
            "fits": 1,
            "carried": 0,
            "kept_small": 0,
            "failed": 0,
            "groups": len(set(labels.tolist())),
        }
    ]
    log(f"loop layer 1: {layers[0]['groups']} groups in {seconds:.1f}s")
    for layer in range(2, depth + 1):
        parent = cuts[-1]
        child = parent.copy()
        stats = {"layer": layer, "fits": 0, "carried": 0, "kept_small": 0, "failed": 0}
        errors: dict[str, int] = {}
        groups = sorted(set(parent.tolist()))
        started = time.perf_counter()
        for g_no, group in enumerate(groups, 1):
            if group in final:  # decided at an earlier layer: the records keep this path
                stats["carried"] += 1
                continue
            rows = np.flatnonzero(parent == group)
            if len(rows) < min_rows:
                stats["kept_small"] += 1
                final.add(group)
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, sub, _ = fit_bertopic([docs[i] for i in rows], embeddings[rows], umap_seed)
            except Exception as exc:  # UMAP/HDBSCAN/vectorizer on too few or odd points
                stats["failed"] += 1
                key = f"{type(exc).__name__}: {str(exc)[:80]}"
                errors[key] = errors.get(key, 0) + 1
                final.add(group)
                continue
            stats["fits"] += 1
            child[rows] = [f"{group}.{t}" for t in sub.tolist()]
            for name in {f"{group}.{t}" for t in sub.tolist()}:
                if name.endswith("." + OUTLIER):
                    final.add(name)
            if g_no % 25 == 0 or g_no == len(groups):
                log(
                    f"loop layer {layer}: {g_no}/{len(groups)} groups, {stats['fits']} fits, "
                    f"{time.perf_counter() - started:.1f}s"
                )
        stats["seconds"] = round(time.perf_counter() - started, 2)
        stats["groups"] = len(set(child.tolist()))
        stats["errors"] = errors
        layers.append(stats)
        cuts.append(child)
        log(
            f"loop layer {layer}: {stats['groups']} groups, {stats['fits']} fits, "
            f"{stats['kept_small']} kept (small), {stats['failed']} failed, "
            f"{stats['seconds']:.1f}s"
        )
    total = sum(layer["seconds"] for layer in layers)
    assert len(cuts) == depth and all(len(c) == n for c in cuts)
    return {"cuts": cuts, "seconds": total, "layers": layers}


# --------------------------------------------------------------------------- scoring
def nmi_levels(cuts: list[NDArray[Any]], levels: dict[str, NDArray[Any]]) -> list[dict[str, Any]]:
    from sklearn.metrics import normalized_mutual_info_score

    out = []
    for cut, (col, truth) in zip(cuts, levels.items(), strict=True):
        labels = np.asarray(cut).astype(str)
        out.append(
            {
                "label_col": col,
                "nmi": float(normalized_mutual_info_score(truth, labels)),
                "groups": len(set(labels.tolist())),
            }
        )
    return out


def row(method: str, seconds: float | None, cuts: list[Any], levels: Any, **extra: Any) -> dict:
    return {
        "method": method,
        "fit_s": None if seconds is None else round(seconds, 2),
        "levels": nmi_levels(cuts, levels),
        **extra,
    }


# --------------------------------------------------------------------------- report
def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    ks = meta["class_counts"]
    base = next((r["fit_s"] for r in result["rows"] if r["method"].startswith("BERTopic,")), None)
    lines = [
        f"{meta['rows']:,} records, embeddings {meta['dim']}-d from `{meta['embeddings']}`; "
        f"{meta['cpus']} CPU(s), load average {meta['load_before']} before; {meta['when']}; "
        f"BERTopic {meta['versions']['bertopic']}, UMAP {meta['versions']['umap']}; "
        f"warm-up {meta['warmup']}.",
        "",
        f"| method | fit s | × BERTopic fit | NMI L1 ({ks[0]}) | NMI L2 ({ks[1]}) "
        f"| NMI L3 ({ks[2]}) | groups L1/L2/L3 | notes |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in result["rows"]:
        ratio = "" if base in (None, 0) or r["fit_s"] is None else f"{r['fit_s'] / base:.2f}"
        if r.get("no_ratio"):
            ratio = ""
        nmis = [f"{lv['nmi']:.3f}" for lv in r["levels"]] if r["levels"] else [""] * 3
        groups = "/".join(str(lv["groups"]) for lv in r["levels"])
        lines.append(
            f"| {r['method']} | {_fmt(r['fit_s'])} | {ratio} | "
            + " | ".join(nmis)
            + f" | {groups} | {r.get('notes', '')} |"
        )
    ts = next((r for r in result["rows"] if r["method"].startswith("topicstrata")), None)
    if ts is not None and base:
        lines += [
            "",
            f"topicstrata / BERTopic fit: **{ts['fit_s'] / base:.2f}×** "
            "(issue 12 target: <= 2× at 20k-100k records).",
        ]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="strata synth Parquet file")
    parser.add_argument(
        "--embeddings", type=Path, required=True, help=".npy, one row per record, file order"
    )
    parser.add_argument("--rows", type=int, default=None, help="seeded sample of N records")
    parser.add_argument("--skip-fit", action="store_true", help="no fit-cost comparison")
    parser.add_argument("--skip-loop", action="store_true", help="no naive BERTopic loop")
    parser.add_argument("--skip-hierarchy", action="store_true", help="no hierarchical_topics cut")
    parser.add_argument(
        "--embed-seconds",
        type=float,
        default=None,
        metavar="S",
        help="seconds MiniLM took to embed all records (measured elsewhere)",
    )
    parser.add_argument(
        "--fit-rows",
        type=int,
        default=0,
        help="also fit topicstrata with its layers learning from a seeded sample of N rows",
    )
    parser.add_argument("--warmup-rows", type=int, default=5000)
    parser.add_argument("--loop-min-rows", type=int, default=30)
    parser.add_argument(
        "--umap-seed", type=int, default=None, help="seed BERTopic's UMAP (default: unseeded)"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-cache", action="store_true", help="no preprocess cache")
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    return parser.parse_args(argv)


def warm_up(data: dict[str, Any], args: argparse.Namespace) -> str:
    # At most half the records (at least 2,000): the warm-up only has to compile.
    n = min(args.warmup_rows, max(2000, len(data["docs"]) // 2), len(data["docs"]))
    if n < 100:
        return "none"
    sl = slice(0, n)
    log(f"warm-up: BERTopic and topicstrata on {n:,} records (compilation, not timed)")
    _, _, bt_s = fit_bertopic(data["docs"][sl], data["embeddings"][sl], args.umap_seed)
    log(f"warm-up: BERTopic {bt_s:.1f}s")
    if args.skip_fit:
        return f"BERTopic on {n:,} rows {bt_s:.1f}s"
    _, ts_s = fit_topicstrata(data["embeddings"][sl], data["keyword_texts"][sl], data["ids"][sl])
    log(f"warm-up: topicstrata {ts_s:.1f}s")
    return f"on {n:,} rows: BERTopic {bt_s:.1f}s, topicstrata {ts_s:.1f}s"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for name in ("numba", "bertopic", "topicstrata"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import bertopic
    import umap

    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    data = load_inputs(args)
    levels = data["levels"]
    meta = {
        "data": str(args.data),
        "embeddings": str(args.embeddings),
        "rows": len(data["docs"]),
        "dim": int(data["embeddings"].shape[1]),
        "class_counts": [len(set(v.tolist())) for v in levels.values()],
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "python": platform.python_version(),
        "versions": {"bertopic": bertopic.__version__, "umap": umap.__version__},
        "umap_seed": args.umap_seed,
        "loop_min_rows": args.loop_min_rows,
        "embed_seconds": args.embed_seconds,
    }
    meta["warmup"] = warm_up(data, args)
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {"meta": meta, "rows": rows}
    first: tuple[NDArray[np.int64], float] | None = None
    docs, emb = data["docs"], data["embeddings"]

    if not args.skip_fit:
        log("fit: BERTopic (defaults, calculate_probabilities=False)")
        model, topics, bt_s = fit_bertopic(docs, emb, args.umap_seed)
        first = (topics, bt_s)
        n_topics = len(set(topics.tolist()) - {-1})
        outliers = float(np.mean(topics == -1))
        log(f"fit: BERTopic {bt_s:.1f}s, {n_topics} topics, {outliers:.1%} outliers")
        flat = np.array([str(t) for t in topics.tolist()], dtype=object)
        rows.append(
            row(
                "BERTopic, defaults (flat topics vs every level)",
                bt_s,
                [flat] * len(LEVEL_COLS),
                levels,
                n_topics=n_topics,
                outlier_share=outliers,
                notes=f"{n_topics} topics + -1 ({outliers:.1%} of records)",
            )
        )
        if not args.skip_hierarchy and n_topics >= 2:
            from quality import cut_hierarchy

            started = time.perf_counter()
            hier = model.hierarchical_topics(docs)
            hier_s = time.perf_counter() - started
            log(f"fit: hierarchical_topics {hier_s:.1f}s")
            cuts = [cut_hierarchy(topics, hier, k) for k in meta["class_counts"]]
            rows.append(
                row(
                    "BERTopic + `hierarchical_topics` cut to each level's class count",
                    bt_s + hier_s,
                    cuts,
                    levels,
                    hierarchy_s=round(hier_s, 2),
                    notes=f"fit + hierarchical_topics {hier_s:.1f}s",
                )
            )
        del model
        log("fit: topicstrata Ensemble(EnsembleConfig())")
        ts_cuts, ts_s = fit_topicstrata(emb, data["keyword_texts"], data["ids"])
        log(f"fit: topicstrata {ts_s:.1f}s")
        rows.append(row("topicstrata `Ensemble(EnsembleConfig()).fit`", ts_s, ts_cuts, levels))
        if args.fit_rows:
            # What `strata fit` does on large inputs: the layers learn from the rows the
            # teacher embedded (a seeded sample) and assign the rest.
            n = min(args.fit_rows, len(emb))
            learn = np.sort(np.random.default_rng(0).choice(len(emb), n, replace=False))
            log(f"fit: topicstrata, layers learn from {n:,} rows")
            ts_cuts, ts_s = fit_topicstrata(emb, data["keyword_texts"], data["ids"], learn)
            log(f"fit: topicstrata (fit rows) {ts_s:.1f}s")
            rows.append(
                row(
                    f"topicstrata `Ensemble.fit(..., fit_rows={n:,} rows)` (large-input path)",
                    ts_s,
                    ts_cuts,
                    levels,
                )
            )

    if not args.skip_loop:
        loop = naive_loop(docs, emb, args.umap_seed, args.loop_min_rows, first)
        lay = loop["layers"]
        n_fits = sum(layer["fits"] for layer in lay)
        kept = sum(layer["kept_small"] for layer in lay)
        failed = sum(layer["failed"] for layer in lay)
        per_layer = " + ".join(f"{layer['seconds']:.1f}" for layer in lay)
        notes = (
            f"{n_fits} BERTopic fits; {kept} groups kept whole (< {args.loop_min_rows} rows), "
            f"{failed} failed fits kept whole; s per layer {per_layer}"
            + ("; layer 1 = the fit above" if lay[0]["reused_flat_fit"] else "")
        )
        rows.append(
            row(
                "naive 3-layer BERTopic loop (fit)",
                loop["seconds"],
                loop["cuts"],
                levels,
                loop_layers=lay,
                notes=notes,
            )
        )
        if args.embed_seconds is not None:
            rows.append(
                {
                    "method": "naive loop end to end, estimate (embed S + loop fit)",
                    "fit_s": round(args.embed_seconds + loop["seconds"], 2),
                    "levels": rows[-1]["levels"],
                    "no_ratio": True,
                    "notes": f"S = {args.embed_seconds:,.1f}s (--embed-seconds, MiniLM, "
                    "measured elsewhere); compare with `strata fit` end to end",
                }
            )

    meta["peak_rss_mb"] = round(peak_rss_mb(), 1)
    meta["total_s"] = round(time.perf_counter() - _T0, 1)
    table = markdown(result)
    print(table, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(table, encoding="utf-8")
        log(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    log(f"done in {meta['total_s']:.0f}s, peak RSS {meta['peak_rss_mb']:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
