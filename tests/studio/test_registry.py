"""The Registry page lists versions; approve/reject POSTs (with CSRF) change their status."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from _support.studio import csrf_of, row_of
from topicstrata.registry import APPROVED, PENDING, REJECTED, get_version, register_model
from topicstrata.studio import create_app

NAME = "studio-topics"


@pytest.fixture(scope="module")
def registry(studio_root, tmp_path_factory):
    """A tracking store with the fitted run registered twice (versions 1 and 2, pending)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('studio-registry') / 'mlflow.db'}"
    for _ in range(2):
        register_model(studio_root.run_dir, NAME, tracking_uri=uri)
    return uri


@pytest.fixture
def reg_client(studio_root, registry) -> TestClient:
    return TestClient(create_app(studio_root.root, tracking_uri=registry))


def _status(uri: str, version: int) -> str:
    return get_version(NAME, version, tracking_uri=uri).approval_status


def test_registry_page_lists_versions_with_status(reg_client, registry):
    page = reg_client.get("/registry")
    assert page.status_code == 200
    rows = re.findall(rf'<tr data-model="{NAME}" data-version="(\d+)"', page.text)
    assert rows == ["1", "2"]
    assert "status-pending" in row_of(page.text, "data-version", "1")


def test_approve_without_csrf_is_403_and_writes_nothing(reg_client, registry):
    before = get_version(NAME, 1, tracking_uri=registry)
    response = reg_client.post("/registry/approve", data={"name": NAME, "version": "1"})
    assert response.status_code == 403
    after = get_version(NAME, 1, tracking_uri=registry)
    assert after.approval_status == before.approval_status == PENDING
    assert after.tags == before.tags


def test_approve_with_the_page_form_approves_and_sets_the_alias(reg_client, registry):
    token = csrf_of(reg_client.get("/registry").text)
    response = reg_client.post(
        "/registry/approve",
        data={"csrf_token": token, "name": NAME, "version": "1", "alias": "champion"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    info = get_version(NAME, 1, tracking_uri=registry)
    assert info.approval_status == APPROVED
    assert "champion" in info.aliases
    page = reg_client.get(response.headers["location"])
    assert "status-approved" in row_of(page.text, "data-version", "1")
    assert _status(registry, 2) == PENDING


def test_reject_with_a_reason(reg_client, registry):
    token = csrf_of(reg_client.get("/registry").text)
    response = reg_client.post(
        "/registry/reject",
        data={"csrf_token": token, "name": NAME, "version": "2", "reason": "labels unclear"},
    )
    assert response.status_code == 200  # followed the redirect to the page
    info = get_version(NAME, 2, tracking_uri=registry)
    assert info.approval_status == REJECTED
    assert info.tags.get("rejection_reason") == "labels unclear"
    assert "labels unclear" in row_of(response.text, "data-version", "2")


def test_unknown_version_is_a_404_page(reg_client):
    token = csrf_of(reg_client.get("/registry").text)
    response = reg_client.post(
        "/registry/approve", data={"csrf_token": token, "name": NAME, "version": "99"}
    )
    assert response.status_code == 404
    assert "no version 99" in response.text


def test_registry_page_does_not_create_a_store(tmp_path):
    client = TestClient(create_app(tmp_path))
    page = client.get("/registry")
    assert page.status_code == 200
    assert 'id="no-models"' in page.text
    assert not (tmp_path / ".strata").exists()
