"""Quality benchmark (issues 4, 14): topicstrata vs BERTopic + hierarchy cut vs KMeans per level.

    python bench/quality.py [--datasets 20ng,amazon,synthetic,bbc] [--sample N]
                            [--cache-dir .strata/bench-cache] [--shapes a,b,...]
                            [--modes defaults,oracle] [--out bench/results/quality.json]

All methods see the same MiniLM (ONNX) embeddings of the same texts, in one run:

* Hierarchical corpora (20 Newsgroups 7/20, Amazon 6/62/~290, synthetic 50k 8/33/80): NMI
  and ARI of each label level against
  - ``defaults`` mode: topicstrata's ``Ensemble`` with the ensemble section ``strata fit``
    uses when a user gives no config (``StrataConfig().ensemble``: three layers, layer 1's
    ``k_range`` 15..25, the ``flagged`` split mode), given no class count; its tree is cut
    at depth i for label level i, and the number of topics it found is reported beside
    the class count;
  - ``oracle`` mode: topicstrata's ``Ensemble`` with one layer per level. Layer 1 gets
    ``k_range=(k1, k1)`` (the level-1 class count, as the baselines get the class
    counts); every deeper layer splits every topic (``SplitRule(mode="all",
    min_size=20)``) with a per-topic ``k_range=(2, ceil(2 * k_level / k_parent))``
    searched by silhouette, except the ``*-kfix`` shapes, which fix each topic's k to
    ``round(k_level / k_parent)``. Several shapes (reducer and global step per layer)
    are run as separate rows;
  - BERTopic as a user runs it: defaults (UMAP + HDBSCAN) with UMAP seeded
    (``random_state=42``), ``fit_transform(raw_texts, embeddings)``, then
    ``hierarchical_topics(raw_texts)`` cut to the class count of each level (merges applied
    in the order of the tree until k topic groups remain; outliers -1 are their own
    cluster);
  - BERTopic with BIRCH as its clusterer, the way its documentation swaps clusterers:
    ``hdbscan_model=Birch(n_clusters=k)`` with k the finest level's class count, everything
    else as above, and the same tree cut per level;
  - ``KMeans(k, n_init=10, random_state=0)`` fitted separately for each level's class count.
* BBC News (OCTIS): NPMI (``window=10``, gensim ``c_npmi`` as the BERTopic paper) and topic
  diversity of the top-10 words, averaged over 10, 20, 30, 40 and 50 topics, for
  topicstrata (one layer, ``k_range=(k, k)``, its c-TF-IDF keywords) and BERTopic
  (``nr_topics=k``, ``get_topic(t)`` without -1), with the paper's 0.170 / 0.802.

Fit time and peak memory: every method's fit runs in a fresh ``spawn`` child process that
loads the inputs (embeddings, texts), records its RSS, fits, and reports its own
``ru_maxrss``. ``peak RSS`` is that peak (Python, libraries, inputs and the fit);
``base RSS`` the RSS just before the fit, so the difference is what the fit added. Fit
time is wall time of the fit alone (``perf_counter``), JIT compilation of numba (UMAP)
included; the machine may be shared, so compare times within one run only.

Results: a markdown table on stdout (also ``<out>.md``) and JSON at ``--out``. Without the
shared data folder (``../shared/data``) the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_CACHE, REPO, Corpus, load_corpus, peak_rss_mb

ALL_DATASETS = ("bbc", "amazon", "20ng", "synthetic")  # fastest first
BBC_KS = (10, 20, 30, 40, 50)
PAPER_BBC = {"npmi": 0.170, "diversity": 0.802}
SPLIT_MIN_SIZE = 20
SEED = 0
BERTOPIC_UMAP_SEED = 42

# Shape name -> (layer-1 reducer, layer-1 global step, deeper reducer, deeper step, fixed k).
SHAPES: dict[str, tuple[str, str, str, str, bool]] = {
    "umap-kmeans": ("umap", "kmeans", "umap", "kmeans", False),
    "raw-kmeans": ("none", "kmeans", "umap", "kmeans", False),
    "umap-ward": ("umap", "ward", "umap", "ward", False),
    "raw-ward": ("none", "ward", "umap", "ward", False),
    "umap-wardknn": ("umap", "ward-knn", "umap", "ward-knn", False),
    "raw-kmeans-rawdeep": ("none", "kmeans", "none", "kmeans", False),
    "umap-kmeans-kfix": ("umap", "kmeans", "umap", "kmeans", True),
}
# The default run: reducer umap vs none at layer 1, global step kmeans vs ward. The other
# shapes are there for --shapes (each costs a full ensemble fit per corpus).
DEFAULT_SHAPES = ("umap-kmeans", "raw-kmeans", "umap-ward", "raw-ward")
#: ``defaults``: the ensemble ``strata fit`` runs without a config; ``oracle``: the shapes
#: above, given the class counts.
MODES = ("defaults", "oracle")
#: How far the defaults must lead the best baseline at every level (issue 14).
DEFAULTS_MARGIN = 0.03


# --------------------------------------------------------------------------- children
def _load_inputs(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def _child(task: str, inputs_path: str, params: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh spawned process: load inputs, fit, report result, time and RSS."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    for name in ("numba", "bertopic", "topicstrata"):
        logging.getLogger(name).setLevel(logging.WARNING)
    data = _load_inputs(inputs_path)
    # Import the method's libraries before the clock starts: import time is not fit time.
    if task.startswith("bertopic"):
        import bertopic  # noqa: F401
        import umap  # noqa: F401
    elif task.startswith("topicstrata"):
        import topicstrata.ensemble  # noqa: F401
    else:
        import sklearn.cluster  # noqa: F401
    base = peak_rss_mb()
    started = time.perf_counter()
    result = TASKS[task](data, params)
    result["fit_s"] = round(time.perf_counter() - started, 2) - result.pop("excluded_s", 0.0)
    result["base_rss_mb"] = round(base, 1)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return result


def _ensemble_config(params: dict[str, Any]) -> Any:
    from topicstrata.ensemble import EnsembleConfig, LayerConfig, RepresentationConfig, SplitRule

    layers = [LayerConfig(**layer) for layer in params["layers"]]
    return EnsembleConfig(
        layers=layers,
        representation=RepresentationConfig(**params.get("representation", {})),
        split=SplitRule(mode="all", min_size=SPLIT_MIN_SIZE),
        random_state=SEED,
    )


def _task_topicstrata(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from topicstrata.ensemble import Ensemble

    ensemble = Ensemble(_ensemble_config(params)).fit(
        data["embeddings"], data["keyword_texts"], ids=data["ids"]
    )
    return {"paths": ensemble.assignments_["path"].astype(str).tolist()}


def _task_topicstrata_defaults(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The ensemble ``strata fit`` builds from an empty config: the product's defaults."""
    from topicstrata.config import StrataConfig
    from topicstrata.ensemble import Ensemble

    ensemble = Ensemble(StrataConfig().ensemble).fit(
        data["embeddings"], data["keyword_texts"], ids=data["ids"]
    )
    return {"paths": ensemble.assignments_["path"].astype(str).tolist()}


def _task_topicstrata_bbc(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from topicstrata.ensemble import Ensemble

    per_k = {}
    for k in params["ks"]:
        layer = dict(params["layer"], k_range=(k, k))
        config = {"layers": [layer], "representation": params.get("representation", {})}
        ensemble = Ensemble(_ensemble_config(config)).fit(
            data["embeddings"], data["keyword_texts"], ids=data["ids"]
        )
        topics = [node.keywords[:10] for node in ensemble.tree_.at_level(1)]
        per_k[k] = topics
    return {"topics": per_k}


def _umap_for_bertopic() -> Any:
    from umap import UMAP

    return UMAP(
        n_neighbors=15,
        n_components=5,
        min_dist=0.0,
        metric="cosine",
        random_state=BERTOPIC_UMAP_SEED,
    )


def _task_bertopic(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from bertopic import BERTopic

    docs = data["texts"]
    extra: dict[str, Any] = {}
    if params.get("birch_k"):
        from sklearn.cluster import Birch

        # BERTopic's documented way to use another clusterer: pass it as hdbscan_model.
        extra["hdbscan_model"] = Birch(n_clusters=params["birch_k"])
    model = BERTopic(embedding_model=None, umap_model=_umap_for_bertopic(), **extra)
    t0 = time.perf_counter()
    topics, _ = model.fit_transform(docs, data["embeddings"])
    flat_s = time.perf_counter() - t0
    hier = model.hierarchical_topics(docs)
    topics = np.asarray(topics)
    cuts = {str(k): cut_hierarchy(topics, hier, k).tolist() for k in params["ks"]}
    return {
        "cuts": cuts,
        "n_flat_topics": len(set(topics.tolist()) - {-1}),
        "outlier_share": float(np.mean(topics == -1)),
        "flat_fit_s": round(flat_s, 2),
    }


def _task_bertopic_bbc(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from bertopic import BERTopic

    per_k = {}
    n_found = {}
    for k in params["ks"]:
        model = BERTopic(embedding_model=None, umap_model=_umap_for_bertopic(), nr_topics=k)
        model.fit_transform(data["texts"], data["embeddings"])
        ids = sorted(t for t in model.get_topics() if t != -1)
        per_k[k] = [[word for word, _ in model.get_topic(t)][:10] for t in ids]
        n_found[k] = len(ids)
    return {"topics": per_k, "n_topics": n_found}


def _task_kmeans(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    cuts = {}
    for k in params["ks"]:
        model = KMeans(n_clusters=k, n_init=10, random_state=SEED).fit(data["embeddings"])
        cuts[str(k)] = model.labels_.astype(str).tolist()
    return {"cuts": cuts}


TASKS = {
    "topicstrata": _task_topicstrata,
    "topicstrata-defaults": _task_topicstrata_defaults,
    "topicstrata-bbc": _task_topicstrata_bbc,
    "bertopic": _task_bertopic,
    "bertopic-bbc": _task_bertopic_bbc,
    "kmeans": _task_kmeans,
}


def cut_hierarchy(topics: np.ndarray, hier: Any, k: int) -> np.ndarray:
    """Each document's group when BERTopic's topic tree is cut to ``k`` groups.

    ``hier`` is ``hierarchical_topics``' frame: topics ``0..T-1`` are the leaves, merge
    ``i`` (in linkage order) creates node ``T + i`` (``Parent_ID``) from
    ``Child_Left_ID``/``Child_Right_ID``. The first ``T - k`` merges are applied; outliers
    (-1) stay their own group ``"-1"``. With fewer than ``k`` topics nothing is merged.
    """
    members: dict[int, list[int]] = {t: [t] for t in range(int(topics.max()) + 1)}
    n_leaves = len(members)
    merges = sorted(
        (int(p), int(left), int(right))
        for p, left, right in zip(
            hier["Parent_ID"], hier["Child_Left_ID"], hier["Child_Right_ID"], strict=True
        )
    )
    for parent, left, right in merges[: max(0, n_leaves - k)]:
        members[parent] = members.pop(left) + members.pop(right)
    group = {}
    for g, leaves in enumerate(sorted(members.values(), key=min)):
        for leaf in leaves:
            group[leaf] = str(g)
    return np.array([group[t] if t != -1 else "-1" for t in topics.tolist()], dtype=object)


# --------------------------------------------------------------------------- parent side
def run_child(task: str, inputs_path: Path, params: dict[str, Any]) -> dict[str, Any]:
    """``_child`` in a fresh spawned process; an error becomes ``{"error": ...}``."""
    ctx = get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(_child, task, str(inputs_path), params).result()
    except BrokenProcessPool as exc:  # killed (out of memory) or crashed
        return {"error": f"child process died: {exc}"}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def write_inputs(corpus: Corpus, folder: Path) -> Path:
    path = folder / f"{corpus.name}.pkl"
    payload = {
        "ids": corpus.ids,
        "texts": corpus.texts,
        "keyword_texts": corpus.keyword_texts,
        "embeddings": corpus.embeddings,
    }
    with open(path, "wb") as handle:
        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def class_counts(corpus: Corpus) -> list[int]:
    return [len(set(labels)) for labels in corpus.levels.values()]


def shape_layers(shape: str, ks: list[int]) -> tuple[list[dict[str, Any]], str]:
    """Layer configs for ``shape`` and the class counts ``ks``; and a readable summary."""
    r1, s1, rn, sn, fixed = SHAPES[shape]
    layers = [{"k_range": (ks[0], ks[0]), "reducer": r1, "global_step": s1}]
    desc = [f"L1 {r1}/{s1} k={ks[0]}"]
    for level in range(1, len(ks)):
        ratio = ks[level] / ks[level - 1]
        if fixed:
            k = max(2, round(ratio))
            k_range = (k, k)
        else:
            k_range = (2, max(2, math.ceil(2 * ratio)))
        layers.append({"k_range": k_range, "reducer": rn, "global_step": sn})
        span = f"{k_range[0]}" if k_range[0] == k_range[1] else f"{k_range[0]}-{k_range[1]}"
        desc.append(f"L{level + 1} {rn}/{sn} k={span}")
    return layers, "; ".join(desc)


def agreement(labels: dict[str, list[str]], cuts: list[list[str]]) -> list[dict[str, Any]]:
    """NMI/ARI of each level's labels against one flat labelling per level."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rows = []
    for (column, truth), cut in zip(labels.items(), cuts, strict=True):
        rows.append(
            {
                "label_col": column,
                "nmi": float(normalized_mutual_info_score(truth, cut)),
                "ari": float(adjusted_rand_score(truth, cut)),
                "n_topics": len(set(cut) - {"-1"}),
            }
        )
    return rows


def _timing(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in ("fit_s", "base_rss_mb", "peak_rss_mb") if k in result}


def _topicstrata_row(result: dict[str, Any], corpus: Corpus, **fields: Any) -> dict[str, Any]:
    from topicstrata.evaluate.metrics import level_agreement

    row = {"method": "topicstrata", **fields, **_timing(result)}
    if "error" in result:
        row["error"] = result["error"]
    else:
        row["levels"] = level_agreement(result["paths"], corpus.levels)
    return row


def _bertopic_row(result: dict[str, Any], corpus: Corpus, shape: str) -> dict[str, Any]:
    ks = class_counts(corpus)
    row = {"method": "BERTopic", "shape": shape, **_timing(result)}
    if "error" in result:
        row["error"] = result["error"]
    else:
        row["levels"] = agreement(corpus.levels, [result["cuts"][str(k)] for k in ks])
        row.update({k: result[k] for k in ("n_flat_topics", "outlier_share", "flat_fit_s")})
        outliers = f", {result['outlier_share']:.0%} outliers" if result["outlier_share"] else ""
        row["layers"] = f"{result['n_flat_topics']} flat topics{outliers}"
    return row


def bench_hierarchical(
    corpus: Corpus,
    inputs: Path,
    shapes: list[str],
    log: Any,
    baselines: bool = True,
    modes: tuple[str, ...] = MODES,
) -> dict[str, Any]:
    ks = class_counts(corpus)
    out: dict[str, Any] = {"n_docs": len(corpus.ids), "class_counts": ks, "rows": []}
    if "defaults" in modes:
        log(f"{corpus.name}: topicstrata with strata fit's defaults (no class counts)")
        result = run_child("topicstrata-defaults", inputs, {})
        row = _topicstrata_row(
            result, corpus, mode="defaults", shape="defaults", layers="strata fit's defaults"
        )
        out["rows"].append(row)
        log(f"  -> {_brief(row)}")
    for shape in shapes if "oracle" in modes else []:
        layers, desc = shape_layers(shape, ks)
        log(f"{corpus.name}: topicstrata {shape} ({desc})")
        result = run_child("topicstrata", inputs, {"layers": layers})
        row = _topicstrata_row(result, corpus, mode="oracle", shape=shape, layers=desc)
        out["rows"].append(row)
        log(f"  -> {_brief(row)}")

    if baselines:
        for shape, params in (
            ("umap+hdbscan, hierarchy cut", {"ks": ks}),
            (f"umap+Birch(n_clusters={ks[-1]}), hierarchy cut", {"ks": ks, "birch_k": ks[-1]}),
        ):
            log(f"{corpus.name}: BERTopic {shape} at {ks}")
            row = _bertopic_row(run_child("bertopic", inputs, params), corpus, shape)
            out["rows"].append(row)
            log(f"  -> {_brief(row)}")

        log(f"{corpus.name}: KMeans per level {ks}")
        result = run_child("kmeans", inputs, {"ks": ks})
        row = {"method": "KMeans", "shape": "per level, raw space", **_timing(result)}
        row["layers"] = f"KMeans(k={'/'.join(map(str, ks))}, n_init=10) fitted separately"
        if "error" in result:
            row["error"] = result["error"]
        else:
            row["levels"] = agreement(corpus.levels, [result["cuts"][str(k)] for k in ks])
        out["rows"].append(row)
        log(f"  -> {_brief(row)}")
    out["winners"] = winners(out["rows"], ks)
    return out


def winners(rows: list[dict[str, Any]], ks: list[int]) -> list[dict[str, Any]]:
    """Per level: the best oracle shape, the best baseline, and how the defaults compare.

    The defaults ``pass`` a level when they lead the best baseline by
    :data:`DEFAULTS_MARGIN` NMI with at most 3x the class count of topics (issue 14).
    """
    best = []
    scored = [r for r in rows if "levels" in r]

    def top(candidates: list[dict[str, Any]], level: int) -> dict[str, Any] | None:
        return max(candidates, key=lambda r: r["levels"][level]["nmi"], default=None)

    def mode(row: dict[str, Any]) -> str | None:
        # Result files from before the defaults mode have topicstrata rows without one.
        return row.get("mode", "oracle" if row["method"] == "topicstrata" else None)

    for level in range(len(ks)):
        oracle = top([r for r in scored if mode(r) == "oracle"], level)
        baseline = top([r for r in scored if r["method"] != "topicstrata"], level)
        defaults = top([r for r in scored if mode(r) == "defaults"], level)
        entry: dict[str, Any] = {
            "level": level + 1,
            "best_topicstrata": oracle and oracle["shape"],
            "best_topicstrata_nmi": oracle and oracle["levels"][level]["nmi"],
            "best_baseline": baseline and f"{baseline['method']} {baseline['shape']}",
            "best_baseline_nmi": baseline and baseline["levels"][level]["nmi"],
        }
        if defaults is not None:
            found = defaults["levels"][level]
            entry["defaults_nmi"] = found["nmi"]
            entry["defaults_topics"] = found["n_topics"]
            if baseline is not None:
                margin = found["nmi"] - baseline["levels"][level]["nmi"]
                entry["defaults_margin"] = margin
                entry["defaults_pass"] = bool(
                    margin >= DEFAULTS_MARGIN and found["n_topics"] <= 3 * ks[level]
                )
        best.append(entry)
    return best


def bench_bbc(corpus: Corpus, inputs: Path, log: Any) -> dict[str, Any]:
    from topicstrata.evaluate.coherence import npmi_coherence
    from topicstrata.evaluate.metrics import topic_diversity

    assert corpus.tokens is not None
    out: dict[str, Any] = {"n_docs": len(corpus.ids), "ks": list(BBC_KS), "rows": []}
    # The product's default representation (``distinct`` keywords), and beside it the
    # c-TF-IDF lists it replaced, on the same layer settings.
    ctfidf = {"keyword_score": "ctfidf"}
    runs = [
        ("topicstrata", "umap-kmeans", "topicstrata-bbc", {"reducer": "umap"}, {}),
        (
            "topicstrata",
            "umap-kmeans, c-TF-IDF keywords",
            "topicstrata-bbc",
            {"reducer": "umap"},
            ctfidf,
        ),
        ("topicstrata", "raw-kmeans", "topicstrata-bbc", {"reducer": "none"}, {}),
        ("BERTopic", "umap+hdbscan, nr_topics=k", "bertopic-bbc", {}, {}),
    ]
    for method, shape, task, layer, representation in runs:
        log(f"bbc: {method} {shape} for k in {BBC_KS}")
        params = {
            "ks": list(BBC_KS),
            "layer": {"global_step": "kmeans", **layer},
            "representation": representation,
        }
        result = run_child(task, inputs, params)
        row: dict[str, Any] = {"method": method, "shape": shape, **_timing(result)}
        if "error" in result:
            row["error"] = result["error"]
        else:
            per_k = []
            for k in BBC_KS:
                topics = result["topics"][k]
                per_k.append(
                    {
                        "k": k,
                        "n_topics": len(topics),
                        "npmi": npmi_coherence(topics, corpus.tokens, topk=10, window=10),
                        "npmi_doc": npmi_coherence(topics, corpus.tokens, topk=10, window=None),
                        "diversity": topic_diversity(topics, topk=10),
                    }
                )
            row["per_k"] = per_k
            for key in ("npmi", "npmi_doc", "diversity"):
                row[key] = float(np.mean([p[key] for p in per_k]))
        out["rows"].append(row)
        log(f"  -> {_brief(row)}")
    return out


def _brief(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"ERROR {row['error']}"
    if "levels" in row:
        scores = " ".join(f"{lv['nmi']:.3f}/{lv['ari']:.3f}" for lv in row["levels"])
    else:
        scores = f"npmi {row['npmi']:.3f} div {row['diversity']:.3f}"
    return f"{scores}  fit {row.get('fit_s')}s  peak {row.get('peak_rss_mb')} MB"


# --------------------------------------------------------------------------- report
def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    meta = results["meta"]
    lines.append(
        f"MiniLM (ONNX) embeddings; sample={meta['sample'] or 'all'}; "
        f"{meta['cpus']} CPU(s); {meta['when']}."
    )
    for name, res in results["datasets"].items():
        if name == "bbc":
            continue
        ks = res["class_counts"]
        cols = list(results["datasets"][name]["rows"][0].get("levels") or [])
        heads = [
            f"L{i + 1} ({c['label_col'] if cols else ''}, {k}) NMI / ARI (topics)"
            for i, (k, c) in enumerate(zip(ks, cols or [{}] * len(ks), strict=True))
        ]
        lines += ["", f"### {name} ({res['n_docs']:,} docs, classes {'/'.join(map(str, ks))})", ""]
        lines.append("| method | shape | " + " | ".join(heads) + " | fit s | peak RSS MB |")
        lines.append("|---" * (len(heads) + 4) + "|")
        for row in res["rows"]:
            if "error" in row:
                cells = ["error: " + row["error"][:60]] + [""] * (len(heads) - 1)
            else:
                cells = [
                    f"{lv['nmi']:.3f} / {lv['ari']:.3f} ({lv['n_topics']})" for lv in row["levels"]
                ]
            label = f"{row['shape']}: {row['layers']}" if row.get("layers") else row["shape"]
            lines.append(
                f"| {row['method']} | {label} | "
                + " | ".join(cells)
                + f" | {_fmt(row.get('fit_s'))} | {_fmt(row.get('peak_rss_mb'), 0)} |"
            )
        lines.append("")
        for w in winners(res["rows"], ks):
            if w.get("best_topicstrata") is not None:
                lines.append(
                    f"- L{w['level']}: best oracle-k shape **{w['best_topicstrata']}** "
                    f"(NMI {w['best_topicstrata_nmi']:.3f}); best baseline {w['best_baseline']} "
                    f"({w['best_baseline_nmi']:.3f})"
                )
            if "defaults_margin" in w:
                verdict = "ahead" if w["defaults_pass"] else "NOT ahead"
                lines.append(
                    f"- L{w['level']}: defaults NMI {w['defaults_nmi']:.3f} with "
                    f"{w['defaults_topics']} topics for {ks[w['level'] - 1]} classes, "
                    f"{w['defaults_margin']:+.3f} against the best baseline: **{verdict}** "
                    f"(needs >= +{DEFAULTS_MARGIN:.2f} and at most 3x the class count)"
                )
    if "bbc" in results["datasets"]:
        res = results["datasets"]["bbc"]
        lines += [
            "",
            f"### BBC News, OCTIS ({res['n_docs']:,} docs), mean over k = "
            f"{', '.join(map(str, res['ks']))}",
            "",
            "| method | shape | NPMI (window 10) | NPMI (document) | diversity | topics per k "
            "| fit s (all k) | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in res["rows"]:
            if "error" in row:
                lines.append(f"| {row['method']} | {row['shape']} | error: {row['error'][:60]} |")
                continue
            found = "/".join(str(p["n_topics"]) for p in row["per_k"])
            lines.append(
                f"| {row['method']} | {row['shape']} | {row['npmi']:.3f} | {row['npmi_doc']:.3f} "
                f"| {row['diversity']:.3f} | {found} | {_fmt(row.get('fit_s'))} "
                f"| {_fmt(row.get('peak_rss_mb'), 0)} |"
            )
        lines.append(
            f"| BERTopic (paper, MiniLM) | reported | {PAPER_BBC['npmi']:.3f} | | "
            f"{PAPER_BBC['diversity']:.3f} | | | |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value: Any, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(ALL_DATASETS))
    parser.add_argument(
        "--sample",
        default=None,
        help="subsample N docs of every corpus (N), or per corpus (20ng=5000,synthetic=10000)",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--shapes", default=",".join(DEFAULT_SHAPES))
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="topicstrata runs on the hierarchical corpora: defaults (strata fit's, no class "
        "counts), oracle (the --shapes, given the class counts), or both",
    )
    parser.add_argument("--preprocess-mode", choices=("fast", "full"), default="fast")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "quality.json")
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="topicstrata shapes only (no BERTopic, no KMeans) on the hierarchical corpora",
    )
    parser.add_argument(
        "--report",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="print the markdown table of earlier result files (merged in order) and exit",
    )
    args = parser.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = set(args.datasets) - set(ALL_DATASETS)
    if unknown:
        parser.error(f"unknown dataset(s) {sorted(unknown)}; choose from {ALL_DATASETS}")
    args.samples = parse_sample(args.sample, parser)
    args.shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    if set(args.shapes) - set(SHAPES):
        parser.error(f"unknown shape(s); choose from {sorted(SHAPES)}")
    args.modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes {','.join(args.modes)!r}: choose from {','.join(MODES)}")
    return args


def parse_sample(spec: str | None, parser: argparse.ArgumentParser) -> dict[str, int | None]:
    """``None`` -> no sampling; ``"N"`` -> N for every corpus; ``"a=N,b=M"`` -> per corpus."""
    samples: dict[str, int | None] = dict.fromkeys(ALL_DATASETS)
    if not spec:
        return samples
    try:
        if "=" not in spec:
            return dict.fromkeys(ALL_DATASETS, int(spec))
        for part in spec.split(","):
            name, _, value = part.partition("=")
            if name.strip() not in samples:
                parser.error(f"--sample: unknown corpus {name.strip()!r}")
            samples[name.strip()] = int(value)
    except ValueError:
        parser.error(f"--sample {spec!r}: give N or corpus=N,corpus=N")
    return samples


def merge_results(paths: list[Path]) -> dict[str, Any]:
    """Several result files as one: datasets from later files replace earlier ones."""
    merged: dict[str, Any] = {"meta": {}, "datasets": {}}
    runs = []
    for path in paths:
        part = json.loads(path.read_text(encoding="utf-8"))
        merged["datasets"].update(part["datasets"])
        runs.append(part["meta"])
    merged["meta"] = dict(runs[-1])
    samples: dict[str, Any] = {}
    for meta in runs:
        samples.update(meta.get("sample") or {})
    merged["meta"]["sample"] = {k: v for k, v in samples.items() if k in merged["datasets"]}
    merged["meta"]["when"] = ", ".join(sorted({m["when"] for m in runs}))
    return merged


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print(markdown(merge_results(args.report)), end="")
        return 0
    from topicstrata.errors import InputError
    from topicstrata.evaluate.datasets import shared_data_root

    try:
        shared_data_root()
    except InputError as exc:
        print(f"bench/quality.py: skipped, no benchmark data: {exc}")
        return 0

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "meta": {
            "sample": {k: v for k, v in args.samples.items() if v is not None} or None,
            "datasets": args.datasets,
            "shapes": args.shapes,
            "modes": list(args.modes),
            "embedder": "minilm-onnx",
            "preprocess_mode": args.preprocess_mode,
            "split_min_size": SPLIT_MIN_SIZE,
            "seed": SEED,
            "bertopic_umap_seed": BERTOPIC_UMAP_SEED,
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "when": time.strftime("%Y-%m-%d %H:%M"),
        },
        "datasets": {},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="quality-bench-") as tmp:
        for name in args.datasets:
            log(f"{name}: loading, preprocessing and embedding (cached)")
            try:
                corpus = load_corpus(name, args.cache_dir, args.samples[name], args.preprocess_mode)
            except InputError as exc:
                print(f"bench/quality.py: {name} skipped: {exc}")
                continue
            inputs = write_inputs(corpus, Path(tmp))
            if name == "bbc":
                results["datasets"][name] = bench_bbc(corpus, inputs, log)
            else:
                results["datasets"][name] = bench_hierarchical(
                    corpus,
                    inputs,
                    args.shapes,
                    log,
                    baselines=not args.no_baselines,
                    modes=args.modes,
                )
            # Write after every corpus so a long run leaves what it finished.
            args.out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    results["meta"]["total_s"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    table = markdown(results)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    log(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
