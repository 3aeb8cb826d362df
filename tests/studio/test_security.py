"""Access token, loopback-only without one, and CSRF on every POST."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from topicstrata.cli import app as cli_app
from topicstrata.studio import create_app
from topicstrata.studio.security import TOKEN_COOKIE

TOKEN = "studio-test-token-0123456789abcdef"


@pytest.fixture
def guarded(studio_root) -> TestClient:
    return TestClient(create_app(studio_root.root, token=TOKEN))


def test_without_the_token_every_page_is_401(guarded, studio_root):
    for url in ("/runs", f"/runs/{studio_root.succeeded}", "/static/plotly.min.js", "/registry"):
        page = guarded.get(url)
        assert page.status_code == 401, url
        assert "?token=TOKEN" in page.text
        assert studio_root.succeeded not in page.text
    assert guarded.get("/runs", params={"token": "wrong" * 8}).status_code == 401


def test_token_in_the_address_sets_a_cookie_that_opens_later_pages(guarded, studio_root):
    first = guarded.get("/runs", params={"token": TOKEN})
    assert first.status_code == 200
    assert studio_root.succeeded in first.text
    cookie = first.headers["set-cookie"]
    assert TOKEN_COOKIE in cookie
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert guarded.get(f"/runs/{studio_root.succeeded}").status_code == 200


def test_bearer_header_opens_pages(guarded):
    page = guarded.get("/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200


@pytest.mark.parametrize("form", [{}, {"csrf_token": "forged"}])
def test_post_without_the_csrf_token_is_403(client, form):
    response = client.post("/registry/approve", data={"name": "anything", "version": "1", **form})
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert "Nothing was changed" in response.text


def test_post_that_is_not_a_form_is_refused(client):
    response = client.post("/registry/approve", json={"name": "x", "version": 1})
    assert response.status_code == 415


@pytest.fixture
def started(monkeypatch) -> list[dict[str, object]]:
    """Calls to run_studio, recorded instead of serving."""
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("topicstrata.studio.server.run_studio", lambda root, **kw: calls.append(kw))
    monkeypatch.delenv("STRATA_STUDIO_TOKEN", raising=False)
    return calls


def test_cli_refuses_a_non_loopback_host_without_a_token(studio_root, started):
    result = CliRunner().invoke(
        cli_app, ["studio", "--root", str(studio_root.root), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 1
    assert "refusing to serve the studio on 0.0.0.0 without an access token" in result.output
    assert "--token" in result.output
    assert started == []


def test_cli_serves_loopback_without_and_any_host_with_a_token(studio_root, started):
    runner = CliRunner()
    ok = runner.invoke(cli_app, ["studio", "--root", str(studio_root.root), "--port", "8599"])
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(
        cli_app,
        ["studio", "--root", str(studio_root.root), "--host", "0.0.0.0", "--token", TOKEN],
    )
    assert ok.exit_code == 0, ok.output
    assert [(c["host"], c["token"]) for c in started] == [("127.0.0.1", None), ("0.0.0.0", TOKEN)]
    assert started[0]["port"] == 8599


def test_cli_refuses_a_guessable_token(studio_root, started):
    result = CliRunner().invoke(
        cli_app, ["studio", "--root", str(studio_root.root), "--host", "0.0.0.0", "--token", "abc"]
    )
    assert result.exit_code == 1
    assert "shorter than" in result.output
    assert started == []


def test_an_unexpected_error_is_a_500_page_without_a_traceback(studio_root, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("topicstrata.studio.routes.topics.build_tree", broken)
    client = TestClient(create_app(studio_root.root), raise_server_exceptions=False)
    page = client.get(f"/runs/{studio_root.succeeded}/tree.json")
    assert page.status_code == 500
    assert "internal error" in page.text
    assert "RuntimeError" in page.text
    assert "secret internals" not in page.text
    assert "Traceback" not in page.text
