"""The Compare page: planted run changes and mapping edits come out exactly; the pages agree."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from topicstrata.mapping import Mapping, Rule, TopicEntry, dump_mapping, load_mapping
from topicstrata.studio.compare import compare_mappings, compare_runs, sankey_figure
from topicstrata.studio.errors import StudioError

# -- two runs, constructed ------------------------------------------------------------------

LABELS_A = {"1": "Chatbots", "2": "Invoices", "3": "Accounts payable", "4": "Fraud"}
LABELS_B = {"1": "Virtual agents", "2": "Invoices", "3": "Card fraud", "4": "AML", "5": "Churn"}


def _planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A1 -> B1 renamed; A2 + A3 -> B2 merged; A4 -> B3 + B4 split; B5 new; an id only in A."""
    a = ["1"] * 10 + ["2"] * 6 + ["3"] * 4 + ["4"] * 10
    b = ["1"] * 10 + ["2"] * 10 + ["3"] * 6 + ["4"] * 4
    ids = [f"r{i:02d}" for i in range(30)]
    run_a = pd.DataFrame({"id": [*ids, "gone"], "path_l1": [*a, "1"]})
    run_b = pd.DataFrame(
        {"id": [*ids, *(f"n{i}" for i in range(5))], "path_l1": [*b, *["5"] * 5]}
    ).iloc[::-1]  # another row order: records are matched on id, not position
    return run_a, run_b


def _flows(comparison) -> dict[tuple[str, str], int]:
    f = comparison.flows
    return dict(zip(zip(f["from_path"], f["to_path"], strict=True), f["records"], strict=True))


def _rows(comparison) -> list[tuple[str, list[str], list[str]]]:
    c = comparison.changes
    return list(zip(c["kind"], c["a_paths"], c["b_paths"], strict=True))


def test_planted_changes_are_classified_exactly():
    run_a, run_b = _planted()
    c = compare_runs(run_a, run_b, "path_l1", LABELS_A, LABELS_B)
    assert c.counts == {"same": 0, "renamed": 1, "merged": 2, "split": 1, "removed": 0, "added": 1}
    assert _rows(c) == [
        ("renamed", ["1"], ["1"]),
        ("merged", ["2", "3"], ["2"]),
        ("split", ["4"], ["3", "4"]),
        ("added", [], ["5"]),
    ]
    assert c.changes["a_labels"][0] == ["Chatbots"]
    assert c.changes["b_labels"][0] == ["Virtual agents"]
    assert _flows(c) == {
        ("1", "1"): 10,
        ("2", "2"): 6,
        ("3", "2"): 4,
        ("4", "3"): 6,
        ("4", "4"): 4,
        ("", "5"): 5,
        ("1", ""): 1,
    }
    assert (c.only_a, c.only_b, c.records_a, c.records_b, c.records) == (1, 5, 31, 35, 36)
    # all shared records but A1's ten left their topic's counterpart
    assert c.moved == 20
    assert list(c.flows["records"]) == sorted(c.flows["records"], reverse=True)
    labels = dict(zip(c.flows["to_path"], c.flows["to_label"], strict=True))
    assert labels[""] == "(not in run B)"


def test_a_topic_without_a_majority_counterpart_is_removed():
    a = ["1"] * 100 + ["2"] * 10 + ["3"] * 50 + ["4"] * 50
    b = ["1"] * 100 + ["1"] * 4 + ["3"] * 3 + ["4"] * 3 + ["3"] * 50 + ["4"] * 50
    frame_a = pd.DataFrame({"id": range(210), "path_l1": a})
    frame_b = pd.DataFrame({"id": range(210), "path_l1": b})
    c = compare_runs(frame_a, frame_b, "path_l1", {}, {})
    assert c.counts == {"same": 3, "renamed": 0, "merged": 0, "split": 0, "removed": 1, "added": 0}
    assert ("removed", ["2"], []) in _rows(c)
    assert c.moved == 10


def test_a_run_against_itself_is_all_same_in_any_row_order():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"id": [f"x{i}" for i in range(500)], "path_l1": rng.integers(0, 7, 500).astype(str)}
    )
    shuffled = frame.sample(frac=1.0, random_state=1)
    for other in (frame, shuffled):
        c = compare_runs(frame, other, "path_l1", {}, {})
        assert c.counts["same"] == frame["path_l1"].nunique() == len(c.flows)
        assert c.moved == c.only_a == c.only_b == 0
        sizes = frame["path_l1"].value_counts()
        assert {k[0]: n for k, n in _flows(c).items() if k[0] == k[1]} == sizes.to_dict()


def test_duplicate_ids_are_refused_naming_the_run():
    frame = pd.DataFrame({"id": ["a", "b", "b"], "path_l1": ["1", "1", "2"]})
    with pytest.raises(StudioError) as err:
        compare_runs(frame, frame.iloc[::-1], "path_l1", {}, {}, names=("run X", "run Y"))
    assert err.value.status == 422
    assert "run X" in err.value.title and "'b'" in err.value.detail


def test_sankey_draws_the_top_links_and_sums_the_rest():
    flows = pd.DataFrame(
        {
            "from_path": [str(i) for i in range(100)],
            "from_label": ["x"] * 100,
            "to_path": [str(i % 7) for i in range(100)],
            "to_label": ["y"] * 100,
            "records": list(range(200, 100, -1)),
        }
    )
    link = sankey_figure(flows, limit=60).data[0].link
    assert len(link.value) == 61
    assert sum(link.value) == flows["records"].sum()
    assert link.value[-1] == flows["records"].iloc[60:].sum()


# -- two mapping versions --------------------------------------------------------------------


def _mapping_v1() -> Mapping:
    return Mapping(
        version=1,
        layer=2,
        topics=[
            TopicEntry(path="-1", size=5),
            TopicEntry(path="0", label="Chatbots", size=30, action="split"),
            TopicEntry(path="0.0", label="Voice bots", size=20),
            TopicEntry(path="0.1", label="Faq", size=10),
            TopicEntry(path="1", label="Invoices", size=40),
            TopicEntry(path="2", label="Fraud", size=25),
            TopicEntry(path="3", label="Forecast", size=7),
        ],
        rules=[Rule(pattern="rpa", path="1")],
    )


def test_mapping_versions_rename_merge_drop_and_records_moved(tmp_path):
    v1 = _mapping_v1()
    edited = v1.model_copy(deep=True)
    by_path = {e.path: e for e in edited.topics}
    by_path["0"].label = "Conversational AI"
    by_path["0.1"].action, by_path["0.1"].merge_into = "merge", "0.0"
    by_path["2"].action, by_path["2"].merge_into = "merge", "1"
    by_path["3"].action = "drop"
    edited.rules = [Rule(pattern="contact center", path="0.0")]
    dump_mapping(v1, tmp_path / "mapping.v1.yaml")
    dump_mapping(edited, tmp_path / "mapping.v1.r2.yaml")
    a, b = load_mapping(tmp_path / "mapping.v1.yaml"), load_mapping(tmp_path / "mapping.v1.r2.yaml")

    c = compare_mappings(a, b)
    assert c.counts == {
        "same": 3,
        "renamed": 1,
        "merged": 2,
        "dropped": 1,
        "split": 0,
        "kept": 0,
        "added": 0,
        "removed": 0,
    }
    assert _rows(c) == [
        ("renamed", ["0"], ["0"]),
        ("merged", ["0.1"], ["0.1"]),
        ("merged", ["2"], ["2"]),
        ("dropped", ["3"], ["3"]),
    ]
    assert c.changes.loc[0, "b_labels"] == ["Conversational AI"]
    # each path's own records: "0" holds none of its own (20 + 10 are its children's)
    assert _flows(c) == {
        ("1", "1"): 40,
        ("2", "1"): 25,
        ("0.0", "0.0"): 20,
        ("0.1", "0.0"): 10,
        ("3", "-1"): 7,
        ("-1", "-1"): 5,
    }
    assert c.moved == 10 + 25 + 7
    assert c.records == 107
    rules = c.rules.set_index("pattern")["change"].to_dict()
    assert rules == {"rpa": "removed", "contact center": "added"}


def test_mapping_version_that_only_renames_moves_no_record():
    v1 = _mapping_v1()
    edited = v1.model_copy(deep=True)
    edited.topics[4].label = "Accounts payable"
    c = compare_mappings(v1, edited)
    assert c.counts["renamed"] == 1 and c.moved == 0
    assert _rows(c) == [("renamed", ["1"], ["1"])]
    assert c.changes.loc[0, "a_labels"] == ["Invoices"]
    assert c.rules.empty


# -- the pages -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assignments(studio_root) -> pd.DataFrame:
    return pd.read_parquet(studio_root.run_dir / "assignments.parquet")


def _csv(response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return pd.read_csv(
        io.StringIO(response.text), dtype={"from_path": str, "to_path": str}, keep_default_na=False
    )


@pytest.mark.parametrize("level", [1, 2])
def test_a_run_against_itself_page_and_csv(client, studio_root, assignments, level):
    run = studio_root.succeeded
    params = {"a": run, "b": run, "level": level}
    page = client.get("/compare", params=params)
    assert page.status_code == 200, page.text
    sizes = assignments[f"path_l{level}"].astype(str).value_counts()
    assert f'<tr data-kind="same"><th>same</th><td class="num">{len(sizes)}</td>' in page.text
    assert 'id="compare-sankey"' in page.text and "/static/plotly.min.js" in page.text
    assert 'id="no-changes"' not in page.text  # every topic is listed as "same"

    flows = _csv(client.get("/compare", params={**params, "format": "csv"}))
    assert flows["records"].sum() == len(assignments)
    assert (flows["from_path"] == flows["to_path"]).all()
    assert flows.set_index("from_path")["records"].to_dict() == sizes.to_dict()


def test_waiting_run_draft_against_an_edited_copy(client, studio_root):
    folder = studio_root.root / "run-review"
    draft = load_mapping(folder / "mapping.v1.draft.yaml")
    topics = [e for e in draft.topics if e.path != "-1"]
    renamed, merged, target = topics[0], topics[1], topics[2]
    edited = draft.model_copy(deep=True)
    by_path = {e.path: e for e in edited.topics}
    by_path[renamed.path].label = "Renamed in the rtest copy"
    by_path[merged.path].action, by_path[merged.path].merge_into = "merge", target.path
    copy = folder / "mapping.v1.rtest.yaml"
    dump_mapping(edited, copy)
    try:
        url = f"/runs/{studio_root.waiting}/mappings/compare"
        form = client.get(url)
        assert form.status_code == 200, form.text
        assert "mapping.v1.rtest.yaml" in form.text and "mapping.v1.draft.yaml" in form.text

        params = {"a": "mapping.v1.draft.yaml", "b": copy.name}
        page = client.get(url, params=params)
        assert page.status_code == 200, page.text
        assert '<tr data-kind="renamed">' in page.text
        assert "Renamed in the rtest copy" in page.text
        assert '<tr data-kind="merged">' in page.text

        flows = _csv(client.get(url, params={**params, "format": "csv"}))
        moved = flows[flows["from_path"] != flows["to_path"]]
        assert moved[["from_path", "to_path", "records"]].values.tolist() == [
            [merged.path, target.path, merged.size]
        ]
        own = sum(e.size for e in draft.topics)  # layer 1: every topic holds its own records
        assert flows["records"].sum() == own
    finally:
        copy.unlink(missing_ok=True)


def test_an_invalid_mapping_file_is_a_page_naming_it(client, studio_root):
    folder = studio_root.root / "run-review"
    broken = folder / "mapping.v1.rtestbad.yaml"
    broken.write_text("version: 1\nlayer: 1\ntopics:\n  - path: 0\n    acton: keep\n")
    try:
        response = client.get(
            f"/runs/{studio_root.waiting}/mappings/compare",
            params={"a": "mapping.v1.draft.yaml", "b": broken.name},
        )
        assert response.status_code == 422
        assert "mapping.v1.rtestbad.yaml" in response.text and "acton" in response.text
        assert "Traceback" not in response.text
    finally:
        broken.unlink(missing_ok=True)


@pytest.mark.parametrize(
    "name", ["../x.yaml", "../run/mapping.v1.yaml", "/etc/passwd", "mapping.v1.yaml/../x.yaml"]
)
def test_a_mapping_file_name_with_a_path_is_refused(client, studio_root, name):
    response = client.get(
        f"/runs/{studio_root.waiting}/mappings/compare",
        params={"a": "mapping.v1.draft.yaml", "b": name},
    )
    assert response.status_code == 422
    assert "plain name" in response.text


def test_unknown_runs_and_missing_files_are_404(client, studio_root):
    run = studio_root.succeeded
    assert client.get("/compare", params={"a": "no-such-run", "b": run}).status_code == 404
    assert client.get("/runs/no-such-run/mappings/compare").status_code == 404
    missing = client.get(
        f"/runs/{studio_root.waiting}/mappings/compare",
        params={"a": "mapping.v1.draft.yaml", "b": "mapping.v9.yaml"},
    )
    assert missing.status_code == 404 and "mapping.v1.draft.yaml" in missing.text
    # a waiting run has no assignments to compare yet
    waiting = client.get("/compare", params={"a": studio_root.waiting, "b": run})
    assert waiting.status_code == 404 and "waiting for a review" in waiting.text


def test_bad_parameters_are_422(client, studio_root):
    run = studio_root.succeeded
    assert client.get("/compare", params={"a": run, "b": run, "level": 9}).status_code == 422
    assert client.get("/compare", params={"a": run}).status_code == 422
    assert client.get("/compare", params={"a": run, "b": run, "format": "xml"}).status_code == 422


def test_the_form_offers_runs_with_results_and_runs_with_mapping_files(client, studio_root):
    page = client.get("/compare")
    assert page.status_code == 200, page.text
    assert f'<option value="{studio_root.succeeded}"' in page.text
    assert f'<option value="{studio_root.waiting}"' not in page.text
    assert f'href="/runs/{studio_root.waiting}/mappings/compare"' in page.text
