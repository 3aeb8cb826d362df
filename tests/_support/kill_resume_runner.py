"""A ``strata fit``-style run of the default topic pipeline that a test can SIGKILL.

Run as ``python -m _support.kill_resume_runner ROOT DATA EVENTS [options]`` with
``tests/`` on ``PYTHONPATH`` (so the embedder class and the per-topic fit wrapper
pickle by an importable name). ``ROOT`` holds the run records, the caches
(``ROOT/cache``) and the run directory (``ROOT/run``).

What it changes in its own process, and nothing else:

- ``embed.api.FLUSH_ROWS`` drops to :data:`FLUSH_ROWS`, so a few hundred texts make
  several committed chunks;
- the embedding backend is :class:`CountingHashEmbedder` (registered under
  :data:`BACKEND`): deterministic, instant, and it appends one ``encode <sha1>`` line
  to ``EVENTS`` per text it has encoded;
- ``ensemble.model.cluster_group`` (the per-topic fit that ``fit_layer`` maps) is
  wrapped to append one ``fit <digest>`` line per finished fit.

``--hang-encode N`` / ``--hang-fit N`` make the N-th encode call (one
``embed_texts`` chunk) / the N-th per-topic fit of this process write a ``hang``
line and sleep until killed. The calls are sequential (a few hundred records run
``ctx.map`` in process), so at that moment exactly the N-1 earlier chunks or fits
are committed to the caches: the test kills there, with no race. ``--resume``
continues the most recent run with ``resume_run`` (``strata pipeline resume``);
without it a new run starts (``strata fit`` again). ``--summary FILE`` gets a JSON
account of how the run ended.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from _support.runs import CHEAP_CONFIG
from topicstrata.embed.base import BaseEmbedder, l2_normalize

BACKEND = "kill-resume-hash"
FLUSH_ROWS = 50

#: Like ``tests/pipeline_topic/test_large_input.py``: the large-input path (the
#: teacher embeds a sample, a student the rest), as a million records take.
CONFIG: dict[str, Any] = copy.deepcopy(CHEAP_CONFIG)
CONFIG["embed"] = {
    "backend": BACKEND,
    "sampling": {"min_rows": 300, "teacher_rows": 400, "teacher_share": 0.5, "holdout": 0.25},
}
# Layer-1 stability refits layer 1 twice in every fresh run; it has nothing to resume.
CONFIG["evaluate"] = {"stability_sample": 0}

_events: Path | None = None
_hang = {"encode": 0, "fit": 0}
_calls = {"encode": 0, "fit": 0}


def _record(lines: Sequence[str]) -> None:
    # Opened per call and closed: a line is in the file once written, whatever kills us.
    if _events is not None and lines:
        with _events.open("a", encoding="utf-8") as out:
            out.write("".join(f"{line}\n" for line in lines))


def _maybe_hang(kind: str) -> None:
    _calls[kind] += 1
    if _calls[kind] == _hang[kind]:
        _record([f"hang {kind} {_calls[kind]}"])
        while True:
            time.sleep(1)


def text_digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class CountingHashEmbedder(BaseEmbedder):
    """Hashed bag of words (256 dims): no model, no fit, the same vectors in every process."""

    name = BACKEND

    @property
    def version(self) -> str:
        return "hash256-v1"

    @property
    def dim(self) -> int:
        return 256

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        from sklearn.feature_extraction.text import HashingVectorizer

        hasher = HashingVectorizer(n_features=256, alternate_sign=False, norm=None)
        return l2_normalize(hasher.transform(texts).toarray())

    def encode(self, texts: Sequence[str], **kwargs: Any) -> NDArray[np.float32]:
        _maybe_hang("encode")
        vectors = super().encode(texts, **kwargs)
        _record([f"encode {text_digest(t)}" for t in texts])
        return vectors


def fit_digest(
    embeddings: NDArray[np.float32], layer: Any, random_state: int, fit_rows: Any = None
) -> str:
    """Which per-topic fit this is: the same in every run that fits the same rows."""
    digest = hashlib.sha1(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    rows = np.asarray([] if fit_rows is None else fit_rows, dtype=np.int64)
    digest.update(rows.tobytes())
    digest.update(repr((layer, random_state)).encode())
    return digest.hexdigest()


def logged_cluster_group(**kwargs: Any) -> Any:
    """``cluster_group``, recorded once it has finished (and able to hang first)."""
    from topicstrata.ensemble.fit import cluster_group

    _maybe_hang("fit")
    model = cluster_group(**kwargs)
    _record([f"fit {fit_digest(**kwargs)}"])
    return model


def _install() -> None:
    import topicstrata.embed.api
    import topicstrata.ensemble.model
    from topicstrata.embed import registry

    topicstrata.embed.api.FLUSH_ROWS = FLUSH_ROWS
    # The registry has no public way to add a backend; this process alone sees it.
    registry._REGISTRY[BACKEND] = CountingHashEmbedder
    topicstrata.ensemble.model.cluster_group = logged_cluster_group  # type: ignore[assignment]


def _run(root: Path, data: Path, resume: bool) -> dict[str, Any]:
    from topicstrata.config import StrataConfig
    from topicstrata.pipeline import list_runs, resume_run, run_pipeline
    from topicstrata.pipeline.topic import build_pipeline

    if resume:
        result = resume_run(root, list_runs(root)[0].run_id)
    else:
        params = {
            "data": str(data),
            "output": str(root / "run"),
            "config": StrataConfig.from_dict(CONFIG).model_dump(mode="json"),
            "cache_dir": str(root / "cache"),
            "auto_approve": True,
        }
        result = run_pipeline(build_pipeline(2), params, root=root)
    return {
        "run_id": result.run_id,
        "status": result.status,
        "cache_hits": result.cache_hits,
        "executed": result.executed,
        "logs": {name: record.log or "" for name, record in result.steps.items()},
    }


def main(argv: Sequence[str] | None = None) -> None:
    global _events
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("events", type=Path)
    parser.add_argument("--hang-encode", type=int, default=0)
    parser.add_argument("--hang-fit", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--summary", type=Path)
    args = parser.parse_args(argv)
    _events = args.events
    _hang.update(encode=args.hang_encode, fit=args.hang_fit)
    _install()
    summary = _run(args.root, args.data, args.resume)
    if args.summary is not None:
        args.summary.write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
