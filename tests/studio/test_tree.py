"""The topic tree and topic pages agree with assignments.parquet; Plotly is served locally."""

from __future__ import annotations

import json
from html import escape

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs


@pytest.fixture(scope="module")
def assignments(studio_root) -> pd.DataFrame:
    return pd.read_parquet(studio_root.run_dir / "assignments.parquet")


def _under(paths: pd.Series, path: str) -> pd.Series:
    return (paths == path) | paths.str.startswith(path + ".")


def test_tree_sizes_sum_to_the_records(client, studio_root, assignments):
    tree = client.get(f"/runs/{studio_root.succeeded}/tree.json").json()
    nodes = {n["path"]: n for n in tree["nodes"]}
    top = [n for n in nodes.values() if n["parent"] == ""]
    assert tree["n_records"] == len(assignments)
    assert sum(n["size"] for n in top) == len(assignments)
    paths = assignments["path"].astype(str)
    for path, node in nodes.items():
        assert node["size"] == int(_under(paths, path).sum()), path
        assert node["size"] >= sum(nodes[c]["size"] for c in node["children"])
    assert set(paths) <= set(nodes)


def test_tree_page_draws_both_charts_with_local_plotly(client, studio_root, assignments):
    page = client.get(f"/runs/{studio_root.succeeded}/tree")
    assert page.status_code == 200
    assert '<script src="/static/plotly.min.js"></script>' in page.text
    assert "cdn" not in page.text.lower()
    for kind in ("sunburst", "treemap"):
        assert f'id="{kind}-chart"' in page.text
    start = page.text.index('"values":[') + len('"values":')
    values = json.loads(page.text[start : page.text.index("]", start) + 1])
    tree = client.get(f"/runs/{studio_root.succeeded}/tree.json").json()
    assert values == [n["size"] for n in tree["nodes"]]


def test_plotly_js_comes_from_the_installed_package(client):
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("application/javascript")
    assert js.content == get_plotlyjs().encode("utf-8")
    assert "plotly.js v" in js.text[:200]


def test_topic_page_shows_size_revenue_keywords_and_children(client, studio_root, assignments):
    topics = pd.read_parquet(studio_root.run_dir / "topics.parquet")
    hierarchy = json.loads((studio_root.run_dir / "hierarchy.json").read_text())
    parent = next(n for n in hierarchy["topics"] if n["children"])
    path = parent["path"]
    page = client.get(f"/runs/{studio_root.succeeded}/topics/{path}")
    assert page.status_code == 200
    mine = assignments[_under(assignments["path"].astype(str), path)]
    assert f'<strong id="topic-size">{len(mine):,}</strong>' in page.text
    assert f'id="revenue-sum">{mine["annualized_revenue"].sum():,.0f}<' in page.text
    assert escape(parent["label"]) in page.text
    row = topics[topics["path"] == path].iloc[0]
    for word in list(row["keywords"])[:3]:
        assert f"<td>{escape(word)}</td>" in page.text
    for child in parent["children"]:
        assert f'href="/runs/{studio_root.succeeded}/topics/{child["path"]}"' in page.text
    top_industry = mine["industry"].value_counts()
    assert f"<td>{escape(top_industry.index[0])}</td>" in page.text
    rep = str(row["representative_ids"][0])
    assert f"<strong>{rep}</strong>" in page.text


def test_unknown_topic_and_unfinished_run_are_404_pages(client, studio_root):
    page = client.get(f"/runs/{studio_root.succeeded}/topics/99.99")
    assert page.status_code == 404
    assert "99.99" in page.text
    waiting = client.get(f"/runs/{studio_root.waiting}/tree")
    assert waiting.status_code == 404
    assert "waiting for a review" in waiting.text
