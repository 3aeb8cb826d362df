"""Resumable at scale (issue 12): ``strata fit`` killed mid-embedding and mid-layer, resumed.

    python bench/resume.py --rows 1000000 --workdir /tmp/resume-1m
    python bench/resume.py --rows 1000000 --data synth-1m.parquet --reference REF_RUN_DIR

On ``--rows`` synthetic opportunities with the defaults (the large-input path: a MiniLM
teacher sample and the student), in one fresh root and cache:

1. ``strata fit`` is killed (SIGKILL to its process group, ``topicstrata._faults``) while
   the teacher embeds: at the ``--embed-kill``-th embedding chunk, i.e. with that chunk's
   vectors appended to the cache but not committed;
2. ``strata pipeline resume RUN`` continues it and is killed again in the layers, as its
   ``--layer-kill``-th per-topic fan-out item was stored (not yet cached);
3. ``strata pipeline resume RUN`` finishes it.

Each phase's wall time and what it reused come from the run's own log lines: the embed
step's ``N cached, M to encode`` and each fan-out's ``N item(s) from cache, M computed``.
The checks: the resumed embedding encodes only what the killed one had not committed
(the finished chunks are not encoded again), the last resume takes the fan-out items the
killed one finished from the cache, and the run ends ``succeeded`` with every record assigned
(and, with ``--reference``, ``assignments.parquet`` byte-identical to an uninterrupted
run's). Markdown table on stdout, JSON in ``--out``; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _support.faults import run_logged, strata_env  # noqa: E402

STRATA = str(Path(sys.executable).with_name("strata"))

EMBED_LINE = re.compile(
    r"embed: ([\d,]+) texts, ([\d,]+) unique, ([\d,]+) cached, ([\d,]+) to encode"
)
TEACHER_LINE = re.compile(r"'teacher_texts': (\d+)")
MAP_LINE = re.compile(r"INFO\s+(\S[^:\n]*): (\d+) item\(s\) from cache, (\d+) computed")


def run(cmd: list[str], log: Path, fault: str | None, trace: Path) -> tuple[int, float]:
    env = {**strata_env(trace, fault), "COLUMNS": "200"}  # rich wraps the log lines
    started = time.monotonic()
    done = run_logged(cmd, env, log, timeout=None)
    return done.returncode, time.monotonic() - started


def numbers(text: str) -> dict[str, Any]:
    """What a phase's log says it reused: the embed step's cache hits, each fan-out's."""
    embed = [tuple(int(g.replace(",", "")) for g in m.groups()) for m in EMBED_LINE.finditer(text)]
    maps = [(m.group(1).strip(), int(m.group(2)), int(m.group(3))) for m in MAP_LINE.finditer(text)]
    return {"embed": embed, "maps": maps}


def resume_checks(
    second: dict[str, Any], third: dict[str, Any], embed_kill: int, flush: int
) -> list[str]:
    """What the resumes must have reused.

    Embedding: the first kill came as chunk ``embed_kill`` was written, so
    ``embed_kill - 1`` chunks were committed; the resumed embed step encodes the rest of
    the teacher sample only (from its embed log line, or else from its number of chunk
    writes). Layers: the last resume takes the fan-out items the killed one stored from
    the cache (the first fan-out it runs is the one the kill interrupted).
    """
    failures: list[str] = []
    committed = (embed_kill - 1) * flush
    teacher = second["teacher_texts"]
    lines = [e for e in second["embed"] if e[1] == teacher]
    if lines:
        _texts, unique, cached, encoded = lines[0]
        if cached < committed or cached + encoded != unique:
            failures.append(f"resumed embed: {cached} cached, {encoded} encoded of {unique}")
    elif teacher is None:
        failures.append("phase 2 logged neither its embed line nor the teacher sample size")
    else:
        expected = math.ceil((teacher - committed) / flush)
        if second["embed_chunks_written"] != expected:
            failures.append(
                f"resumed embed wrote {second['embed_chunks_written']} chunks; "
                f"{expected} were left of {teacher} teacher texts"
            )
    resumed = third["maps"][0] if third["maps"] else None
    if resumed is None or resumed[1] < 1:
        failures.append(f"the last resume reused no fan-out item: {third['maps']}")
    return failures


def hits(trace: Path, point: str) -> int:
    if not trace.exists():
        return 0
    return sum(1 for line in trace.read_text().splitlines() if line.strip() == point)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=None, help="reuse a strata synth file")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--embed-kill", type=int, default=4, help="kill at this embed chunk")
    parser.add_argument("--layer-kill", type=int, default=10, help="kill after this topic")
    parser.add_argument("--reference", type=Path, default=None, help="uninterrupted run dir")
    parser.add_argument("--out", type=Path, default=REPO / ".strata" / "bench-resume.json")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="strata-resume-"))
    work.mkdir(parents=True, exist_ok=True)
    data = args.data or work / f"synth-{args.rows}.parquet"
    if not data.exists():
        subprocess.run(
            [STRATA, "synth", "--rows", str(args.rows), "--seed", "0", "-o", str(data)],
            check=True,
        )
    root = work / "fit"
    # -v: the step logs say what came from the cache (the checks read them).
    fit = [STRATA, "fit", str(data), "-v", "-o", str(root / "run"), "--root", str(root)]
    fit += ["--cache-dir", str(root / "cache")]
    phases: list[dict[str, Any]] = []
    failures: list[str] = []

    def phase(name: str, cmd: list[str], fault: str | None) -> str:
        log = work / f"{name}.log"
        trace = work / f"{name}.trace"
        rc, seconds = run(cmd, log, fault, trace)
        text = log.read_text(encoding="utf-8", errors="replace")
        killed = rc == -signal.SIGKILL
        entry = {"phase": name, "fault": fault, "rc": rc, "killed": killed}
        entry |= {"seconds": round(seconds, 1), **numbers(text)}
        entry["embed_chunks_written"] = hits(trace, "embed-chunk")
        sizes = TEACHER_LINE.findall(text)
        entry["teacher_texts"] = int(sizes[0]) if sizes else None
        entry["map_items_stored"] = hits(trace, "map-item")
        phases.append(entry)
        print(f"{name}: rc {rc} in {seconds:.0f} s; {numbers(text)}", file=sys.stderr)
        if fault and not killed:
            failures.append(f"{name}: not killed at {fault} (exit {rc}); see {log}")
        return text

    phase("1-fit-killed-in-embed", fit, f"embed-chunk:{args.embed_kill}")
    from topicstrata.pipeline import list_runs

    run_id = list_runs(root, limit=1)[0].run_id
    resume = [STRATA, "pipeline", "resume", run_id, "-v", "--root", str(root)]
    phase("2-resume-killed-in-a-layer", resume, f"map-item:{args.layer_kill}")
    phase("3-resume-to-the-end", resume, None)
    _first, second, third = phases
    if phases[-1]["rc"] != 0:
        failures.append(f"the last resume exited with {phases[-1]['rc']}")

    failures += resume_checks(second, third, args.embed_kill, _flush_rows())
    assigned = 0
    assignments = root / "run" / "assignments.parquet"
    if assignments.exists():
        frame = pd.read_parquet(assignments, columns=["path_l1"])
        assigned = int(frame["path_l1"].notna().sum())
        rows = pq.ParquetFile(data).metadata.num_rows
        if assigned != rows:
            failures.append(f"{assigned} of {rows} records assigned")
    identical = None
    if args.reference is not None and assignments.exists():
        reference = (args.reference / "assignments.parquet").read_bytes()
        identical = assignments.read_bytes() == reference
        if not identical:
            failures.append("assignments.parquet differs from the uninterrupted run's")

    total = sum(p["seconds"] for p in phases)
    print(f"\n## strata fit killed twice and resumed ({args.rows:,} records)\n")
    print("| phase | exit | wall s | embedding (cached / encoded) | fan-outs (cached / computed) |")
    print("|---|---|---:|---|---|")
    for p in phases:
        emb = "; ".join(f"{c:,} / {e:,}" for _t, _u, c, e in p["embed"]) or "-"
        maps = "; ".join(f"{n} {h} / {c}" for n, h, c in p["maps"]) or "-"
        exit_ = "killed" if p["killed"] else str(p["rc"])
        print(f"| {p['phase']} | {exit_} | {p['seconds']:,.0f} | {emb} | {maps} |")
    print(f"| **total** | | **{total:,.0f}** | | |")
    print(f"\nrecords assigned: {assigned:,}; identical to the reference: {identical}")
    print("checks: " + ("all passed" if not failures else "; ".join(failures)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"rows": args.rows, "phases": phases, "assigned": assigned}
    result |= {"identical": identical, "failures": failures, "total_s": round(total, 1)}
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    sys.exit(1 if failures else 0)


def _flush_rows() -> int:
    from topicstrata.embed.api import FLUSH_ROWS

    return FLUSH_ROWS


if __name__ == "__main__":
    main()
