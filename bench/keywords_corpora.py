"""Keywords of the default tree per level on the hierarchical corpora, before and after.

    python bench/keywords_corpora.py [--datasets amazon,20ng,synthetic]

One in-process fit of ``strata fit``'s default ensemble per corpus on the cached MiniLM
vectors of ``bench/_common.py`` (as ``quality.py --modes defaults``). Each topic then
carries both keyword lists: ``keywords`` (the default, ``distinct``) and ``vocabulary``
(its c-TF-IDF top words, the lists shown before ``distinct``; the tree is the same under
both settings). Prints per level NPMI (whole-record co-occurrence in the corpus's keyword
view, as ``strata evaluate``), the topics NPMI averages, diversity and mean list length
of each. Skips a corpus whose data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_CACHE, load_corpus
from topicstrata.errors import InputError


def measure(name: str, cache_dir: Path) -> dict[str, Any]:
    from topicstrata.config import StrataConfig
    from topicstrata.ensemble import Ensemble
    from topicstrata.evaluate.metrics import keyword_levels

    corpus = load_corpus(name, cache_dir)
    ensemble = Ensemble(StrataConfig().ensemble).fit(
        corpus.embeddings, corpus.keyword_texts, ids=corpus.ids
    )
    paths = ensemble.assignments_["path"].astype(str).to_numpy()
    tokens = [t.split() for t in corpus.keyword_texts]
    nodes = ensemble.tree_.nodes
    out: dict[str, Any] = {"corpus": name, "n_docs": len(paths)}
    for key, lists in (
        ("ctfidf", {p: n.vocabulary for p, n in nodes.items()}),
        ("distinct", {p: n.keywords for p, n in nodes.items()}),
    ):
        rows = keyword_levels(paths, lists, tokens)
        for row in rows:
            cut = {".".join(p.split(".")[: row["level"]]) for p in paths}
            row["mean_len"] = float(np.mean([len(lists[p]) for p in cut if p in lists] or [0]))
        out[key] = rows
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="amazon,20ng,synthetic")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for name in args.datasets.split(","):
        try:
            result = measure(name, args.cache_dir)
        except InputError as exc:  # the shared data folder is absent
            print(f"skipped {name}: {exc}", file=sys.stderr)
            continue
        results.append(result)
        print(f"\n{name}, {result['n_docs']:,} records, strata fit's default ensemble")
        print(
            "| level | topics | NPMI c-TF-IDF → distinct | topics NPMI averages | "
            "diversity c-TF-IDF → distinct | words per topic |"
        )
        print("|---:|---:|---|---|---|---|")
        for old, new in zip(result["ctfidf"], result["distinct"], strict=True):
            print(
                f"| {new['level']} | {new['n_topics']} | {old['npmi']:.3f} → {new['npmi']:.3f} "
                f"| {old['n_npmi']} / {new['n_npmi']} | {old['diversity']:.3f} → "
                f"{new['diversity']:.3f} | {old['mean_len']:.1f} → {new['mean_len']:.1f} |",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
