"""The document map: a seeded sample of the run's records, placed by UMAP of the run's vectors.

Most checks read a map computed once, synchronously (``build_map``); one test goes
through the page's background computation and one plants failures in it.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pandas as pd
import pytest

from topicstrata.pipeline.artifacts import ArtifactStore
from topicstrata.pipeline.store import RunStore
from topicstrata.studio import docmap
from topicstrata.studio.docmap import MAP_SAMPLE, build_map, map_key, read_map, sample_vectors
from topicstrata.studio.errors import StudioError

#: Bound on waiting for a background computation (UMAP compiles on first use).
WAIT_S = 180


@pytest.fixture(scope="module")
def built(studio_root):
    """The default map of the succeeded run, its key and the seconds it took."""
    key = map_key(studio_root.succeeded, studio_root.run_dir)
    started = time.perf_counter()
    file = build_map(studio_root.root, key, studio_root.run_dir)
    return key, file, time.perf_counter() - started


@pytest.fixture(scope="module")
def assignments(studio_root) -> pd.DataFrame:
    return pd.read_parquet(studio_root.run_dir / "assignments.parquet").set_index("id")


def _poll(client, url: str, params: dict[str, object]):
    """GET ``url`` until it stops answering 202 (computing), at most ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while True:
        response = client.get(url, params=params)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def _check_points(data: dict, assignments: pd.DataFrame, level: int, n: int) -> None:
    points = data["points"]
    ids = points["id"]
    assert len(ids) == data["n_sample"] == n
    assert len(set(ids)) == n
    assert set(ids) <= set(assignments.index)
    assert all(len(p) == n for p in points.values())
    paths = [data["topics"][t]["path"] for t in points["topic"]]
    assert paths == assignments.loc[ids, f"path_l{level}"].astype(str).tolist()
    assert points["path"] == assignments.loc[ids, "path"].astype(str).tolist()
    assert sum(t["count"] for t in data["topics"]) == n
    assert all(0 < len(text) <= docmap.HOVER_CHARS for text in points["text"])


@pytest.mark.parametrize("level", [1, 2])
def test_map_has_every_sampled_record_once_at_its_assigned_topic(
    client, studio_root, built, assignments, level
):
    response = client.get(f"/runs/{studio_root.succeeded}/map.json", params={"level": level})
    assert response.status_code == 200, response.text
    data = response.json()
    _check_points(data, assignments, level, min(MAP_SAMPLE, len(assignments)))
    assert data["n_records"] == len(assignments)
    assert data["source"] == "stored by the run's embed step"
    labels = {t["path"]: t["label"] for t in data["topics"]}
    assert any(label != path for path, label in labels.items())  # labels from hierarchy.json


def test_points_of_one_topic_lie_nearer_each_other_than_other_topics(built):
    frame, _ = read_map(built[1])
    xy = frame[["x", "y"]].to_numpy(np.float64)
    distance = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    others = ~np.eye(len(xy), dtype=bool)

    def intra_over_inter(labels: np.ndarray) -> float:
        same = labels[:, None] == labels[None]
        return float(distance[same & others].mean() / distance[~same].mean())

    labels = frame["path_l1"].to_numpy()
    assert intra_over_inter(labels) < 0.8
    # The same points with their topics shuffled: no structure, so the check can fail.
    assert intra_over_inter(np.random.default_rng(0).permutation(labels)) > 0.9


def test_the_cached_map_is_read_again_not_recomputed(client, studio_root, built, monkeypatch):
    _, file, _ = built
    before = file.stat().st_mtime_ns

    def planted(*args, **kwargs):
        raise AssertionError("the map was computed again")

    monkeypatch.setattr(docmap, "project", planted)
    page = client.get(f"/runs/{studio_root.succeeded}/map")
    points = client.get(f"/runs/{studio_root.succeeded}/map.json", params={"level": 2})
    assert page.status_code == 200 and points.status_code == 200
    assert "400 of 400 records shown" in page.text
    assert file.stat().st_mtime_ns == before
    assert list(file.parent.glob(f"{studio_root.succeeded}-*-s400.parquet")) == [file]


def test_the_page_draws_a_webgl_scatter_with_a_level_switch_and_search(client, studio_root, built):
    page = client.get(f"/runs/{studio_root.succeeded}/map", params={"q": "migration"})
    assert page.status_code == 200
    text = page.text
    assert '<script src="/static/plotly.min.js"></script>' in text
    assert 'type: "scattergl"' in text
    assert 'id="map-search"' in text and 'value="migration"' in text
    assert 'id="map-matches"' in text
    assert f'"/runs/{studio_root.succeeded}/map.json?level=1"' in text
    assert f'href="/runs/{studio_root.succeeded}/map?level=2&q=migration"' in text
    assert "400 of 400 records shown" in text


def test_a_sample_is_computed_in_the_background_and_the_page_reloads(
    client, studio_root, assignments
):
    url = f"/runs/{studio_root.succeeded}/map"
    first = client.get(url, params={"sample": 150})
    assert first.status_code == 202
    assert "Computing the map of 150 sampled records" in first.text
    assert '<meta http-equiv="refresh"' in first.text
    data = _poll(client, url + ".json", {"sample": 150, "level": 2})
    assert data.status_code == 200, data.text
    _check_points(data.json(), assignments, 2, 150)
    page = client.get(url, params={"sample": 150})
    assert page.status_code == 200
    assert "150 of 400 records shown" in page.text
    assert "refresh" not in page.text


def test_a_failure_in_the_background_is_shown_on_the_page(client, studio_root, monkeypatch):
    url = f"/runs/{studio_root.succeeded}/map"

    def missing(root, run_id, run_dir, ids):
        raise StudioError(404, f"no vectors to map run {run_id}", "planted: artefact gone")

    monkeypatch.setattr(docmap, "sample_vectors", missing)
    page = _poll(client, url, {"sample": 120})
    assert page.status_code == 404
    assert 'id="map-error"' in page.text and "planted: artefact gone" in page.text
    assert "retry=1" in page.text
    assert client.get(url + ".json", params={"sample": 120}).status_code == 404

    def broken(root, run_id, run_dir, ids):
        raise RuntimeError("planted bug")

    monkeypatch.setattr(docmap, "sample_vectors", broken)
    assert client.get(url, params={"sample": 120}).status_code == 404  # kept until a retry
    assert client.get(url, params={"sample": 120, "retry": 1}).status_code == 202
    page = _poll(client, url, {"sample": 120})
    assert page.status_code == 500
    assert "RuntimeError: planted bug" in page.text and "Traceback" not in page.text


def test_bad_parameters_and_unknown_runs(client, studio_root):
    run = studio_root.succeeded
    for path in (f"/runs/{run}/map", f"/runs/{run}/map.json"):
        assert client.get(path, params={"level": 9}).status_code == 422
        assert client.get(path, params={"sample": 5}).status_code == 422
        assert client.get(path, params={"sample": 60_000}).status_code == 422
    assert "levels 1 to 2" in client.get(f"/runs/{run}/map", params={"level": 9}).text
    assert client.get("/runs/no-such-run/map").status_code == 404
    assert client.get("/runs/no-such-run/map.json").status_code == 404
    assert client.get(f"/runs/{studio_root.failed}/map").status_code == 404


@pytest.fixture
def copied_root(studio_root, tmp_path):
    """A copy of the run store whose embed step's ``embeddings`` artefact is deleted."""
    root = tmp_path / "root"
    shutil.copytree(studio_root.root / ".strata", root / ".strata")
    rows = RunStore(root).lineage(studio_root.succeeded, "embed")
    (sha,) = [r["sha256"] for r in rows if r["direction"] == "write" and r["name"] == "embeddings"]
    ArtifactStore(root).delete(sha)
    return root


def test_without_the_stored_vectors_the_saved_model_embeds_the_sample_again(
    studio_root, copied_root, assignments
):
    ids = assignments.index[::7].tolist()
    stored, source = sample_vectors(
        studio_root.root, studio_root.succeeded, studio_root.run_dir, ids
    )
    assert source == "stored by the run's embed step"
    again, source = sample_vectors(copied_root, studio_root.succeeded, studio_root.run_dir, ids)
    assert source.startswith("embedded again with the run's saved model (tfidf-svd)")
    assert again.shape == stored.shape
    assert np.min((again * stored).sum(axis=1)) > 0.99  # the same vectors, row by row


def test_without_vectors_or_a_saved_model_the_error_says_what_to_do(
    studio_root, copied_root, tmp_path, assignments
):
    run_dir = tmp_path / "run"
    shutil.copytree(studio_root.run_dir, run_dir, ignore=shutil.ignore_patterns("model"))
    with pytest.raises(StudioError) as caught:
        sample_vectors(copied_root, studio_root.succeeded, run_dir, assignments.index[:5].tolist())
    error = caught.value
    assert error.status == 404
    assert error.title == f"no vectors to map run {studio_root.succeeded}"
    assert "'embeddings' output" in error.detail and "is no longer in" in error.detail
    assert f"{run_dir} has no saved model (model/)" in error.detail
    assert "run the pipeline again" in error.detail
