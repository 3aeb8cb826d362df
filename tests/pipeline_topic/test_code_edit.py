"""An edit of the clustering code reruns the steps that run it, and only those.

The default pipeline runs in a child process from a copy of the package
(``PYTHONPATH`` points at it), on the same ``.strata`` root, before and after
the k search in the copy's ``layers/cluster.py`` is changed.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import topicstrata
from _support.runs import CHEAP_CONFIG, write_dirty_opportunities
from topicstrata.config import StrataConfig

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import topicstrata
    from topicstrata.pipeline import run_pipeline
    from topicstrata.pipeline.topic import build_pipeline

    params = json.loads(sys.argv[1])
    result = run_pipeline(build_pipeline(2), params, root=sys.argv[2])
    print(json.dumps({
        "package": topicstrata.__file__,
        "executed": result.executed,
        "hits": result.cache_hits,
    }))
    """
)


def _fit(copy: Path, root: Path, params: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(copy)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(params), str(root)],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(copy), result["package"]
    return result


def _change_k_search(cluster: Path) -> None:
    """Insert a statement at the top of ``search_k``'s body (after its docstring)."""
    source = cluster.read_text(encoding="utf-8")
    func = next(
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "search_k"
    )
    body = func.body
    has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    anchor = body[1] if has_doc and len(body) > 1 else body[0]
    lines = source.splitlines(keepends=True)
    indent = " " * anchor.col_offset
    lines.insert(anchor.lineno - 1, f"{indent}score_sample = max(2, score_sample - 1)\n")
    cluster.write_text("".join(lines), encoding="utf-8")


@pytest.mark.timeout(1200)
def test_editing_the_k_search_reruns_the_layers_but_not_ingest_or_embedding(tmp_path):
    source = Path(topicstrata.__file__).parent
    copy = tmp_path / "src"
    shutil.copytree(source, copy / "topicstrata", ignore=shutil.ignore_patterns("__pycache__"))
    root = tmp_path / "root"
    root.mkdir()
    write_dirty_opportunities(root / "opps.csv", rows=300)
    params = {
        "data": str(root / "opps.csv"),
        "output": str(root / "run"),
        "config": StrataConfig.from_dict(CHEAP_CONFIG).model_dump(mode="json"),
        "cache_dir": str(root / "cache"),
        "auto_approve": True,
    }

    first = _fit(copy, root, params)
    assert {"ingest", "preprocess", "embed", "layer_1", "layer_2"} <= set(first["executed"])

    _change_k_search(copy / "topicstrata" / "layers" / "cluster.py")
    edited = _fit(copy, root, params)
    assert {"ingest", "preprocess", "embed"} <= set(edited["hits"])
    assert {"layer_1", "layer_2", "stability"} <= set(edited["executed"])
