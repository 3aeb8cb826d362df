"""Malformed input at length (issue 13): the fuzz targets of ``tests/fuzz``, 10,000+ inputs.

    python bench/fuzz.py                          # 2,000 inputs per target, 12,000 in all
    python bench/fuzz.py --examples 300 --targets csv,mapping --seed 1
    python bench/fuzz.py --max-field-bytes 20000  # no multi-megabyte fields

Each target draws ``--examples`` inputs from its strategy in ``tests/strategies.py``
(CSV, JSON Lines, Parquet, Salesforce exports, mapping files, configs and ``--param``
overrides) and runs its oracle: no exception but ``TopicStrataError``, a message that
names the input (and line or key) and says what to do, and for an ingest that
succeeds every record accounted for (rows in = ok + rejected, each rejection with a
reason; where the input's record count is known, rows in equals it). Unlike the CI
run, a failure does not stop the target: it is counted, its first lines kept, and
the run goes on. Fields reach ``--max-field-bytes`` (10 MB), one per input at most.

Prints a markdown table (target, inputs, errors, crashes, rows in / ok / rejected /
unaccounted, seconds) and the distinct failures; exits 1 on any crash or
unaccounted record.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from strategies import BENCH_FIELD_BYTES, TARGETS, Outcome  # noqa: E402


@dataclass
class Tally:
    """What one target's inputs did."""

    target: str
    inputs: int = 0
    errors: int = 0  # clean TopicStrataError: the intended answer to a bad file
    crashes: int = 0
    rows_in: int = 0
    ok: int = 0
    rejected: int = 0
    unaccounted: int = 0
    seconds: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)


def run_target(name: str, examples: int, run_seed: int, max_field_bytes: int) -> Tally:
    """Draw ``examples`` inputs for target ``name`` and tally what the oracle says."""
    factory, oracle = TARGETS[name]
    tally = Tally(name)

    @seed(run_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: failures are tallied, not raised
        suppress_health_check=list(HealthCheck),
    )
    @given(factory(max_field_bytes))
    def fuzz(case: Any) -> None:
        outcome = Outcome(name)
        tally.inputs += 1
        with tempfile.TemporaryDirectory(prefix="strata-fuzz-") as tmp:
            try:
                oracle(case, Path(tmp), outcome)
            except Exception as exc:  # tallied: the point is to see every failure
                lines = (str(exc) or type(exc).__name__).splitlines()
                key = f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"
                tally.failures[key] += 1
                tally.examples.setdefault(key, repr(case)[:600])
                if not outcome.unaccounted:
                    tally.crashes += 1
        tally.errors += outcome.error is not None
        tally.rows_in += outcome.rows_in
        tally.ok += outcome.ok
        tally.rejected += outcome.rejected
        tally.unaccounted += outcome.unaccounted

    started = time.perf_counter()
    fuzz()
    tally.seconds = time.perf_counter() - started
    return tally


def table(tallies: list[Tally]) -> str:
    head = (
        "| target | inputs | clean errors | crashes | rows in | ok | rejected | unaccounted "
        "| seconds |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [
        f"| {t.target} | {t.inputs:,} | {t.errors:,} | {t.crashes} | {t.rows_in:,} | {t.ok:,} "
        f"| {t.rejected:,} | {t.unaccounted} | {t.seconds:.0f} |"
        for t in tallies
    ]
    total = Tally(
        "**total**",
        inputs=sum(t.inputs for t in tallies),
        errors=sum(t.errors for t in tallies),
        crashes=sum(t.crashes for t in tallies),
        rows_in=sum(t.rows_in for t in tallies),
        ok=sum(t.ok for t in tallies),
        rejected=sum(t.rejected for t in tallies),
        unaccounted=sum(t.unaccounted for t in tallies),
        seconds=sum(t.seconds for t in tallies),
    )
    rows.append(
        f"| {total.target} | {total.inputs:,} | {total.errors:,} | {total.crashes} "
        f"| {total.rows_in:,} | {total.ok:,} | {total.rejected:,} | {total.unaccounted} "
        f"| {total.seconds:.0f} |"
    )
    return "\n".join([head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="inputs per target")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-field-bytes", type=int, default=BENCH_FIELD_BYTES)
    args = parser.parse_args()
    # The library's warnings (e.g. unmatched Account links) would flood the output.
    logging.getLogger("topicstrata").setLevel(logging.ERROR)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    tallies = []
    for name in names:
        tally = run_target(name, args.examples, args.seed, args.max_field_bytes)
        print(
            f"{name}: {tally.inputs} inputs, {tally.crashes} crashes, "
            f"{tally.unaccounted} unaccounted, {tally.seconds:.0f}s",
            file=sys.stderr,
            flush=True,
        )
        tallies.append(tally)
    print(table(tallies))
    failed = [t for t in tallies if t.failures]
    for t in failed:
        print(f"\n### {t.target}: failures\n")
        for key, count in t.failures.most_common():
            print(f"- {count}x {key}\n  - e.g. {t.examples[key]}")
    if any(t.crashes or t.unaccounted for t in tallies):
        sys.exit(1)


if __name__ == "__main__":
    main()
