"""Keyword quality of the default tree per level, as a user gets it (issue 14).

    python bench/keywords.py                       # banking77 (13,083 short queries)
    python bench/keywords.py --rows 3000           # quick look on a seeded sample

Writes the corpus as a CSV (``id, text, label``), runs ``strata fit DATA --text-cols text
--id-col id --labels label`` with the product's defaults (cold: a fresh root and cache),
then ``strata evaluate RUN --json``, and prints per level of the tree: topics, NPMI and
diversity of the keywords (``keyword_levels``), and whether the level meets issue 14's
short-text target (NPMI > 0 and diversity >= .80), beside the leaf figures and NMI against
the 77 intents at level 1. Results: a markdown table on stdout, JSON in ``--out``.
Skips with a message when ``../shared/data/banking77`` is absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from topicstrata.errors import InputError
from topicstrata.evaluate import load_banking77

STRATA = str(Path(sys.executable).with_name("strata"))
#: Issue 14's target for short texts, at every level of the default tree.
MIN_NPMI, MIN_DIVERSITY = 0.0, 0.80


def run(cmd: list[str], log: Path) -> float:
    started = time.time()
    with open(log, "a", encoding="utf-8") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:2])} failed ({code}); see {log}")
    return time.time() - started


def passes(row: dict[str, Any]) -> bool:
    npmi, diversity = row.get("npmi"), row.get("diversity")
    return (
        npmi is not None
        and diversity is not None
        and npmi > MIN_NPMI
        and (diversity >= MIN_DIVERSITY)
    )


def markdown(result: dict[str, Any], n_docs: int, fit_s: float) -> str:
    lines = [
        f"banking77, {n_docs:,} queries, `strata fit` defaults ({fit_s:.0f} s, cold)",
        "",
        f"| level | topics | NPMI | topics NPMI averages (2+ words) | diversity | "
        f"NPMI > {MIN_NPMI:g} and diversity >= "
        f"{MIN_DIVERSITY:.2f} |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["keyword_levels"]:
        npmi = "n/a" if row["npmi"] is None else f"{row['npmi']:.3f}"
        div = "n/a" if row["diversity"] is None else f"{row['diversity']:.3f}"
        verdict = "yes" if passes(row) else "**no**"
        lines.append(
            f"| {row['level']} | {row['n_topics']} | {npmi} | {row.get('n_npmi', 'n/a')} | "
            f"{div} | {verdict} |"
        )
    leaf_npmi = result.get("npmi")
    leaf_div = result.get("diversity")
    lines.append("")
    lines.append(
        f"Leaf topics: NPMI {leaf_npmi if leaf_npmi is None else round(leaf_npmi, 3)}, "
        f"diversity {leaf_div if leaf_div is None else round(leaf_div, 3)}."
    )
    for level in result.get("levels", []):
        lines.append(
            f"Level {level['level']} against the 77 intents: NMI {level['nmi']:.3f} "
            f"({level['n_topics']} topics)."
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=0, help="seeded sample (0: all)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    try:
        corpus = load_banking77()
    except InputError as exc:
        print(f"skipped: banking77 not found ({exc})", file=sys.stderr)
        return 0
    if args.rows:
        corpus = corpus.sample(n=min(args.rows, len(corpus)), random_state=0)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="strata-keywords-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "banking77.csv"
    corpus[["id", "text", "label"]].to_csv(data, index=False)
    log = work / "strata.log"
    run_dir = work / "run"
    print(f"fitting {len(corpus):,} queries in {work} ...", file=sys.stderr)
    fit = [STRATA, "fit", str(data), "-o", str(run_dir), "--root", str(work)]
    fit += ["--cache-dir", str(work / "cache"), "--text-cols", "text", "--id-col", "id"]
    fit_s = run([*fit, "--labels", "label"], log)
    evaluated = subprocess.run(
        [STRATA, "evaluate", str(run_dir), "--data", str(data), "--labels", "label", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(evaluated.stdout)
    print(markdown(result, len(corpus), fit_s))
    if args.out:
        args.out.write_text(
            json.dumps({"n_docs": len(corpus), "fit_s": fit_s, "evaluate": result}, indent=1),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
