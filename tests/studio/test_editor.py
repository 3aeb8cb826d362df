"""The mapping editor: form -> mapping with the package's validator, versions, rule trials,
and saving a waiting run's review, which resumes it through ``strata pipeline resume``."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from topicstrata.io.schema import EMBED_TEXT
from topicstrata.mapping import Mapping, Rule, TopicEntry, dump_mapping, load_mapping
from topicstrata.pipeline import run_pipeline
from topicstrata.pipeline.store import RunStore
from topicstrata.pipeline.topic import build_pipeline
from topicstrata.studio import create_app
from topicstrata.studio.editor import apply_form, next_version_path, try_rule
from topicstrata.studio.rundir import mapping_files

from .conftest import StudioRoot, _params


def _base() -> Mapping:
    return Mapping(
        version=1,
        layer=1,
        topics=[
            TopicEntry(path="-1", label="Outliers", size=3),
            TopicEntry(path="0", label="Cloud", size=40),
            TopicEntry(path="1", label="Security", size=30),
            TopicEntry(path="2", label="Payments", size=20),
        ],
        rules=[Rule(pattern="contact center", path="1")],
    )


def _fields(**extra: str) -> dict[str, str]:
    return {"rules": "2", "rule.0.pattern": "contact center", "rule.0.path": "1", **extra}


def test_form_renames_and_merges() -> None:
    edited = apply_form(
        _base(),
        _fields(**{"label.1": "Cloud migration", "action.3": "merge", "merge_into.3": "1"}),
        "m",
    )
    assert edited.errors == {}
    assert edited.mapping is not None
    by_path = edited.mapping.by_path()
    assert by_path["0"].label == "Cloud migration"
    assert (by_path["2"].action, by_path["2"].merge_into) == ("merge", "1")
    assert by_path["1"].action == "keep" and by_path["1"].merge_into is None
    assert [r.pattern for r in edited.mapping.rules] == ["contact center"]
    assert edited.mapping.created_by == "studio"


def test_merge_into_itself_is_an_error_on_that_field() -> None:
    edited = apply_form(_base(), _fields(**{"action.2": "merge", "merge_into.2": "1"}), "m")
    assert edited.mapping is None
    assert list(edited.errors) == ["merge_into.2"]
    assert "into itself" in edited.errors["merge_into.2"][0]
    assert edited.row_errors("topic.2") == edited.errors["merge_into.2"]
    assert edited.row_errors("topic.1") == []


def test_merge_without_target_and_bad_regex_name_their_fields() -> None:
    edited = apply_form(
        _base(),
        _fields(
            **{
                "action.1": "merge",
                "rule.1.pattern": "(unclosed",
                "rule.1.regex": "1",
                "rule.1.path": "0",
            }
        ),
        "m",
    )
    assert edited.mapping is None
    # The schema stops at the missing target before the cross-entry checks run.
    assert "needs a target" in " ".join(edited.errors["action.1"])
    edited = apply_form(
        _base(),
        _fields(**{"rule.1.pattern": "(unclosed", "rule.1.regex": "1", "rule.1.path": "0"}),
        "m",
    )
    assert list(edited.errors) == ["rule.1.pattern"]
    assert "not a valid regular expression" in edited.errors["rule.1.pattern"][0]


def test_deleted_and_empty_rule_rows_are_no_rules() -> None:
    edited = apply_form(_base(), _fields(**{"rule.0.delete": "1"}), "m")
    assert edited.mapping is not None and edited.mapping.rules == []


def test_versions_are_numbered_after_the_draft(tmp_path: Path) -> None:
    names = ("mapping.v1.yaml", "mapping.v2.draft.yaml", "mapping.v1.r3.yaml")
    for name in (*names, "mapping.v1.draft.yaml", "mapping.v1.r10.yaml", "mapping.v1.rtest.yaml"):
        dump_mapping(_base(), tmp_path / name)
    (tmp_path / "mapping.notes.yaml").write_text("x")
    (tmp_path / "mapping.v1.draft.yml").write_text("x")
    assert mapping_files(tmp_path) == [
        "mapping.v1.draft.yaml",
        "mapping.v1.r3.yaml",
        "mapping.v1.r10.yaml",
        "mapping.v1.rtest.yaml",
        "mapping.v1.yaml",
        "mapping.v2.draft.yaml",
    ]
    assert next_version_path(tmp_path, 1).name == "mapping.v1.r11.yaml"
    assert next_version_path(tmp_path, 2).name == "mapping.v2.r2.yaml"


def test_try_rule_counts_like_the_pipeline() -> None:
    texts = pd.Series(["Contact  center upgrade", "contact centers", "the CONTACT CENTER", None])
    trial = try_rule(texts, "contact center", regex=False)
    assert (trial.matched, trial.total) == (2, 4)
    assert trial.examples == ["Contact  center upgrade", "the CONTACT CENTER"]
    assert try_rule(texts, r"centers?\b", regex=True).matched == 3
    assert try_rule(texts, "(bad", regex=True).error


# -- pages over the session's runs -------------------------------------------------------


def test_editor_opens_the_waiting_runs_draft(client: TestClient, studio_root: StudioRoot) -> None:
    page = client.get(f"/runs/{studio_root.waiting}/mapping")
    assert page.status_code == 200
    draft = load_mapping(studio_root.root / "run-review" / "mapping.v1.draft.yaml")
    for entry in draft.topics:
        assert f'data-path="{entry.path}"' in page.text
    assert "Save and resume" in page.text


def test_editor_refuses_a_failed_run(client: TestClient, studio_root: StudioRoot) -> None:
    page = client.get(f"/runs/{studio_root.failed}/mapping")
    assert page.status_code == 409
    assert "resume it first" in page.text


def test_editor_on_a_finished_run_saves_a_new_version(
    client: TestClient, studio_root: StudioRoot
) -> None:
    folder = studio_root.run_dir
    page = client.get(f"/runs/{studio_root.succeeded}/mapping?file=mapping.v1.yaml")
    assert page.status_code == 200
    base = load_mapping(folder / "mapping.v1.yaml")
    fields = _form_of(page.text)
    target = next(i for i, e in enumerate(base.topics) if e.path != "-1")
    fields[f"label.{target}"] = "Renamed in the studio"
    saved = client.post(
        f"/runs/{studio_root.succeeded}/mapping", data=fields, follow_redirects=False
    )
    try:
        assert saved.status_code == 303, saved.text
        assert "mapping.v1.r2.yaml" in saved.headers["location"]
        written = load_mapping(folder / "mapping.v1.r2.yaml")
        assert written.topics[target].label == "Renamed in the studio"
        assert [e.path for e in written.topics] == [e.path for e in base.topics]
        assert (folder / "mapping.v1.yaml").read_bytes() != b""  # never overwritten
        # A form whose file changed on disk since the page was opened is refused.
        (folder / "mapping.v1.yaml").write_text(
            (folder / "mapping.v1.yaml").read_text() + "\n# edited by hand\n"
        )
        stale = client.post(f"/runs/{studio_root.succeeded}/mapping", data=fields)
        assert stale.status_code == 409
        assert not (folder / "mapping.v1.r3.yaml").exists()
    finally:
        (folder / "mapping.v1.r2.yaml").unlink(missing_ok=True)
        text = (folder / "mapping.v1.yaml").read_text()
        (folder / "mapping.v1.yaml").write_text(text.replace("\n# edited by hand\n", ""))


def test_invalid_edits_show_the_message_and_write_nothing(
    client: TestClient, studio_root: StudioRoot
) -> None:
    folder = studio_root.root / "run-review"
    before = sorted(p.name for p in folder.iterdir())
    page = client.get(f"/runs/{studio_root.waiting}/mapping")
    draft = load_mapping(folder / "mapping.v1.draft.yaml")
    i, entry = next((i, e) for i, e in enumerate(draft.topics) if e.path != "-1")
    fields = _form_of(page.text)
    fields.update({f"action.{i}": "merge", f"merge_into.{i}": entry.path})
    bad = client.post(f"/runs/{studio_root.waiting}/mapping", data=fields)
    assert bad.status_code == 422
    assert f"merges topic {entry.path} into itself" in bad.text
    assert 'class="merge-into field-error"' in bad.text
    fields = _form_of(page.text)
    n = int(fields["rules"]) - 1
    fields.update({f"rule.{n}.pattern": "([a-z", f"rule.{n}.regex": "1"})
    fields[f"rule.{n}.path"] = entry.path
    bad = client.post(f"/runs/{studio_root.waiting}/mapping", data=fields)
    assert bad.status_code == 422
    assert "is not a valid regular expression" in bad.text
    no_csrf = {k: v for k, v in _form_of(page.text).items() if k != "csrf_token"}
    assert client.post(f"/runs/{studio_root.waiting}/mapping", data=no_csrf).status_code == 403
    assert sorted(p.name for p in folder.iterdir()) == before
    assert RunStore(studio_root.root).get_run(studio_root.waiting).status == "waiting"


def test_try_rule_route_counts_the_runs_records(
    client: TestClient, studio_root: StudioRoot
) -> None:
    texts = pd.read_parquet(studio_root.run_dir / "views.parquet", columns=[EMBED_TEXT])[EMBED_TEXT]
    word = texts.str.split().explode().value_counts().index[0]
    hits = texts.str.contains(rf"\b{re.escape(word)}\b", case=False)
    expected = int(hits.sum())
    shown = set(texts[hits].str.slice(0, 240))
    for run in (studio_root.succeeded, studio_root.waiting):  # views.parquet / preprocess output
        reply = client.get(f"/runs/{run}/mapping/try-rule", params={"pattern": word})
        assert reply.status_code == 200
        trial = reply.json()
        assert (trial["matched"], trial["total"]) == (expected, len(texts))
        assert trial["examples"] and set(trial["examples"]) <= shown
    bad = client.get(
        f"/runs/{studio_root.succeeded}/mapping/try-rule", params={"pattern": "(", "regex": True}
    )
    assert bad.json()["error"]


def _form_of(page: str) -> dict[str, str]:
    """The editor form's fields as a browser would submit them unchanged."""
    fields: dict[str, str] = {}
    form = page[page.index('id="mapping-form"') :]
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                fields[name.group(1)] = "1"
        else:
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        first = re.search(r'<option value="([^"]*)"', body)
        picked = chosen or first
        fields[name] = picked.group(1) if picked else ""
    return fields


# -- saving a review resumes the run -------------------------------------------------------


@pytest.fixture(scope="module")
def review_root(studio_root: StudioRoot, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A run of its own waiting for its layer-1 review (the session's is shared)."""
    root = tmp_path_factory.mktemp("studio-review")
    params = _params(root, studio_root.data, "run", auto_approve=False)
    params["cache_dir"] = str(studio_root.root / "cache")
    waiting = run_pipeline(build_pipeline(2), params, root=root)
    assert waiting.status == "waiting"
    return root, waiting.run_id


def test_saving_a_review_resumes_the_run_with_the_new_version(review_root: tuple) -> None:
    root, run_id = review_root
    client = TestClient(create_app(root))
    folder = root / "run"
    draft = load_mapping(folder / "mapping.v1.draft.yaml")
    kept = [(i, e) for i, e in enumerate(draft.topics) if e.path != "-1"]
    (ri, renamed), (mi, merged), (_, into) = kept[0], kept[1], kept[2]
    fields = _form_of(client.get(f"/runs/{run_id}/mapping").text)
    fields.update(
        {
            f"label.{ri}": "Renamed by a person",
            f"action.{mi}": "merge",
            f"merge_into.{mi}": into.path,
        }
    )
    saved = client.post(f"/runs/{run_id}/mapping", data=fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/runs/{run_id}?resumed=mapping.v1.r2.yaml"
    assert client.app.state.jobs.wait(run_id, timeout_s=600) == 0  # type: ignore[attr-defined]
    store = RunStore(root)
    run = store.get_run(run_id)
    # Layer 2's review is next; the new version was the layer-1 review's output.
    assert run.status == "waiting", store.get_steps(run_id)
    assert run.waiting and run.waiting["step"] == "review_2"
    page = client.get(f"/runs/{run_id}")
    assert "Review layer 2" in page.text and 'id="job-log"' in page.text
    live = client.get(f"/runs/{run_id}/live.json").json()
    assert live["status"] == "waiting" and live["job"]["alive"] is False
    assert "resum" in live["job"]["log"]
    v2 = load_mapping(folder / "mapping.v2.draft.yaml").by_path()
    assert v2[renamed.path].label == "Renamed by a person"
    assert (v2[merged.path].action, v2[merged.path].merge_into) == ("merge", into.path)

    # Approve layer 2 as it is: the run finishes and the tree carries the edits.
    assert 'id="approve-draft"' in page.text
    approve = client.post(
        f"/runs/{run_id}/resume", data={"csrf_token": _csrf(client)}, follow_redirects=False
    )
    assert approve.status_code == 303
    assert client.app.state.jobs.wait(run_id, timeout_s=600) == 0  # type: ignore[attr-defined]
    assert store.get_run(run_id).status == "succeeded"
    assignments = pd.read_parquet(folder / "assignments.parquet")
    assert (assignments["path_l1"] == merged.path).sum() == 0
    assert (assignments["path_l1"] == into.path).sum() == merged.size + into.size
    tree = client.get(f"/runs/{run_id}/tree.json").text
    assert "Renamed by a person" in tree


def test_resume_refuses_a_finished_run(client: TestClient, studio_root: StudioRoot) -> None:
    page = client.post(f"/runs/{studio_root.succeeded}/resume", data={"csrf_token": _csrf(client)})
    assert page.status_code == 409
    assert "succeeded" in page.text


def _csrf(client: TestClient) -> str:
    token: str = client.app.state.settings.csrf_token  # type: ignore[attr-defined]
    return token


def test_a_second_job_for_a_run_waits_briefly_then_is_refused_naming_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from topicstrata.studio import jobs
    from topicstrata.studio.errors import StudioError

    monkeypatch.setattr(jobs, "EXIT_GRACE_S", 0.2)
    runner = jobs.JobRunner(tmp_path)
    first = runner._start("R1", [sys.executable, "-c", "import time; time.sleep(30)", "first"])
    try:
        with pytest.raises(StudioError) as refused:
            runner._start("R1", [sys.executable, "-c", "pass", "second"])
        assert refused.value.status == 409
        assert "first" in refused.value.detail and "second" not in refused.value.detail
        # A job that ends within the grace period does not block the next one.
        quick = runner._start("R2", [sys.executable, "-c", "pass"])
        assert quick.process is not None and quick.process.wait(timeout=30) == 0
        assert runner._start("R2", [sys.executable, "-c", "pass"]).log != quick.log
    finally:
        assert first.process is not None
        first.process.kill()
        first.process.wait()
