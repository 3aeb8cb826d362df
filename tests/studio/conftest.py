"""One small real run (the default pipeline, cheap config) fitted once per session.

The root holds a succeeded run, a run waiting for the layer-1 review (resumed
from the cache, so it costs little), and a failed run recorded in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _support.runs import CHEAP_CONFIG
from topicstrata.config import StrataConfig
from topicstrata.pipeline import run_pipeline
from topicstrata.pipeline.store import RunStore, StepRecord
from topicstrata.pipeline.topic import build_pipeline
from topicstrata.studio import create_app
from topicstrata.synth import write_opportunities

ROWS = 400
FAILED_ERROR = "ValueError: planted failure for the studio tests"


@dataclass(frozen=True)
class StudioRoot:
    root: Path
    data: Path
    run_dir: Path
    succeeded: str
    waiting: str
    failed: str


def _params(root: Path, data: Path, output: str, **extra: object) -> dict[str, object]:
    return {
        "data": str(data),
        "output": str(root / output),
        "config": StrataConfig.from_dict(CHEAP_CONFIG).model_dump(mode="json"),
        "cache_dir": str(root / "cache"),
        **extra,
    }


@pytest.fixture(scope="session")
def studio_root(tmp_path_factory: pytest.TempPathFactory) -> StudioRoot:
    root = tmp_path_factory.mktemp("studio")
    data = root / "opportunities.parquet"
    write_opportunities(data, rows=ROWS, seed=0)
    done = run_pipeline(build_pipeline(2), _params(root, data, "run", auto_approve=True), root=root)
    assert done.status == "succeeded"
    waiting = run_pipeline(
        build_pipeline(2), _params(root, data, "run-review", auto_approve=False), root=root
    )
    assert waiting.status == "waiting"
    store = RunStore(root)
    failed = store.create_run("topics", {"data": str(data), "output": str(root / "run-failed")})
    store.upsert_step(
        StepRecord(failed, "ingest", "processing", "failed", attempts=2, error=FAILED_ERROR)
    )
    store.update_run(failed, status="failed", error=f"step ingest failed: {FAILED_ERROR}")
    return StudioRoot(root, data, root / "run", done.run_id, waiting.run_id, failed)


@pytest.fixture
def client(studio_root: StudioRoot) -> TestClient:
    return TestClient(create_app(studio_root.root))
