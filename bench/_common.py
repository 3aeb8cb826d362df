"""Shared helpers for the benchmarks: corpora as (texts, keyword texts, embeddings, labels).

Every corpus goes through the library's own path: ``preprocess`` (``embed_text`` for the
encoder, ``keyword_tokens`` for c-TF-IDF) and ``embed_texts`` with the MiniLM ONNX
embedder, both cached under ``cache_dir`` so a rerun only reads the caches.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / ".strata" / "bench-cache"
SYNTH_ROWS = 50_000
SYNTH_SEED = 0
SAMPLE_SEED = 0
EMBEDDER = "minilm-onnx"


@dataclass
class Corpus:
    """One benchmark corpus, rows aligned across every field."""

    name: str
    ids: list[str]
    texts: list[str]  # what a user would hand to BERTopic (raw text)
    keyword_texts: list[str]  # space-joined lemmas for c-TF-IDF
    embeddings: NDArray[np.float32]
    levels: dict[str, list[str]] = field(default_factory=dict)  # label column -> labels
    tokens: list[list[str]] | None = None  # reference corpus for NPMI (OCTIS corpora)


def busy_processes(min_cpu: float = 20.0) -> list[str]:
    """Other processes using a noticeable share of a core (benchmarks share the machine)."""
    out = subprocess.run(
        ["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu", "--no-headers"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    busy = []
    for line in out.splitlines():
        pid, cpu, cmd = line.split(None, 2)
        if float(cpu) >= min_cpu and int(pid) != os.getpid():
            busy.append(f"{cpu}% {cmd[:160]}")
    return busy


def step_output(root: Path, step: str, name: str | None = None) -> Any:
    """An output of the newest pipeline run under ``root`` (e.g. a finished ``strata fit``)."""
    from topicstrata.pipeline import list_runs, run_status

    run = run_status(root, list_runs(root, limit=1)[0].run_id)
    return run.output(step, name)


def matched_agreement(a: ArrayLike, b: ArrayLike) -> float:
    """Share of records on the same topic after matching the two labelings' topics 1:1
    (the assignment that maximises the shared records: scipy's Hungarian solver)."""
    left, right = np.asarray(a), np.asarray(b)
    table = pd.crosstab(left, right).to_numpy()
    rows, cols = linear_sum_assignment(-table)
    return round(float(table[rows, cols].sum() / len(left)), 4)


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB.

    ``VmHWM`` from ``/proc/self/status``: the high-water mark of this process's own
    address space. ``ru_maxrss`` is not used because Linux carries it over ``fork`` +
    ``exec``, so a spawned child would report its parent's size whenever that is larger.
    Falls back to ``ru_maxrss`` where ``/proc`` is missing.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sample_rows(n: int, sample: int | None) -> NDArray[np.intp]:
    if sample is None or sample >= n:
        return np.arange(n)
    rng = np.random.default_rng(SAMPLE_SEED)
    return np.sort(rng.choice(n, size=sample, replace=False))


def _embed(texts: list[str], cache_dir: Path) -> NDArray[np.float32]:
    from topicstrata.embed import embed_texts, get_embedder

    return embed_texts(texts, get_embedder(EMBEDDER), cache_dir=cache_dir)


def _preprocess(texts: list[str], cache_dir: Path, mode: str) -> tuple[list[str], list[str]]:
    from topicstrata.preprocess import PreprocessConfig, preprocess

    views = preprocess(texts, PreprocessConfig(mode=mode), cache_dir=cache_dir / "preprocess")
    return views["embed_text"].tolist(), views["keyword_tokens"].tolist()


def _synthetic_frame(cache_dir: Path):
    import pandas as pd

    from topicstrata.synth import write_opportunities

    path = cache_dir / f"synthetic-{SYNTH_ROWS}-seed{SYNTH_SEED}.parquet"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_opportunities(path, SYNTH_ROWS, seed=SYNTH_SEED)
    return pd.read_parquet(path)


def _synthetic_texts(frame) -> list[str]:
    """The record text as ingest builds it: non-empty text fields joined by newlines."""
    from topicstrata.synth._generate import TEXT_FIELDS

    columns = [frame[c].tolist() for c in TEXT_FIELDS]
    out = []
    for parts in zip(*columns, strict=True):
        out.append("\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip()))
    return out


def load_corpus(
    name: str, cache_dir: Path, sample: int | None = None, preprocess_mode: str = "fast"
) -> Corpus:
    """Load, preprocess and embed one corpus: ``20ng``, ``amazon``, ``synthetic`` or ``bbc``."""
    from topicstrata.evaluate.datasets import load_20newsgroups, load_amazon, load_bbc_octis

    cache_dir = Path(cache_dir)
    if name == "bbc":
        octis = load_bbc_octis()
        rows = _sample_rows(len(octis.docs), sample)
        tokens = [octis.docs[i] for i in rows]
        joined = [" ".join(t) for t in tokens]
        return Corpus(
            name=name,
            ids=[str(i) for i in rows],
            texts=joined,
            keyword_texts=joined,
            embeddings=_embed(joined, cache_dir),
            levels={"label": [octis.labels[i] for i in rows]},
            tokens=tokens,
        )
    if name == "20ng":
        frame = load_20newsgroups(strip=True)
        level_cols = ["label_l1", "label"]
        raw = frame["text"].tolist()
    elif name == "amazon":
        frame = load_amazon()
        level_cols = ["Cat1", "Cat2", "Cat3"]
        raw = frame["text"].tolist()
    elif name == "synthetic":
        frame = _synthetic_frame(cache_dir)
        level_cols = ["true_l1", "true_l2", "true_l3"]
        raw = _synthetic_texts(frame)
    else:
        raise ValueError(f"unknown corpus {name!r}")
    rows = _sample_rows(len(frame), sample)
    frame = frame.iloc[rows].reset_index(drop=True)
    raw = [raw[i] for i in rows]
    embed_text, keyword_texts = _preprocess(raw, cache_dir, preprocess_mode)
    return Corpus(
        name=name,
        ids=frame["id"].astype(str).tolist(),
        texts=raw,
        keyword_texts=keyword_texts,
        embeddings=_embed(embed_text, cache_dir),
        levels={c: frame[c].astype(str).tolist() for c in level_cols},
    )


if __name__ == "__main__":  # warm the caches: python bench/_common.py [names...]
    import logging
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for corpus_name in sys.argv[1:] or ["bbc", "amazon", "20ng", "synthetic"]:
        t0 = time.perf_counter()
        c = load_corpus(corpus_name, DEFAULT_CACHE)
        print(
            f"{corpus_name}: {len(c.ids)} rows, embeddings {c.embeddings.shape} "
            f"in {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
