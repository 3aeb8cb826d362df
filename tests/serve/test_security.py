"""API keys (missing, wrong, right; admin), the loopback rule, and request limits."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _support.serve import text_fields
from topicstrata.errors import ConfigError
from topicstrata.serve import ApiKeys, Limits, ServeSettings, create_app
from topicstrata.serve.settings import check_bind_host

USER_KEY = "user-key-5d1f0c8a9b7e4c21"
ADMIN_KEY = "admin-key-77a3e1f09c4d2b68"
WRONG_KEY = "wrong-key-0000000000000000"


@pytest.fixture(scope="module")
def secured(run_dir: Path) -> Iterator[TestClient]:
    keys = ApiKeys(keys=(USER_KEY,), admin_keys=(ADMIN_KEY,))
    app = create_app(run_dir, ServeSettings(keys=keys))
    with TestClient(app) as client:
        assert app.state.holder.wait_ready(60)
        yield client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _record() -> dict[str, str]:
    return dict.fromkeys(text_fields(), "move the data warehouse to the cloud")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/v1/predict"),
        ("get", "/v1/topics"),
        ("get", "/v1/topics/1"),
        ("get", "/v1/model"),
        ("post", "/v1/admin/reload"),
        ("get", "/v1/admin/reload"),
    ],
)
def test_api_routes_need_a_key(secured: TestClient, method: str, url: str) -> None:
    kwargs = {"json": {"records": [_record()]}} if method == "post" else {}
    for headers in ({}, _auth(WRONG_KEY), {"Authorization": f"Basic {USER_KEY}"}):
        response = secured.request(method, url, headers=headers, **kwargs)
        assert response.status_code == 401, (url, headers)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"
        assert USER_KEY not in response.text and WRONG_KEY not in response.text


def test_the_right_key_opens_the_api(secured: TestClient) -> None:
    for key in (USER_KEY, ADMIN_KEY):
        response = secured.post("/v1/predict", json={"records": [_record()]}, headers=_auth(key))
        assert response.status_code == 200
        assert secured.get("/v1/topics", headers=_auth(key)).status_code == 200
        assert secured.get("/v1/model", headers=_auth(key)).status_code == 200


def test_admin_routes_need_an_admin_key(secured: TestClient) -> None:
    denied = secured.post("/v1/admin/reload", headers=_auth(USER_KEY))
    assert denied.status_code == 403
    assert "admin key" in denied.json()["detail"]
    assert secured.get("/v1/admin/reload", headers=_auth(USER_KEY)).status_code == 403
    allowed = secured.post("/v1/admin/reload?wait=true", headers=_auth(ADMIN_KEY))
    assert allowed.status_code == 200
    assert allowed.json()["state"] == "succeeded"


def test_health_readiness_and_metrics_need_no_key(secured: TestClient) -> None:
    for url in ("/healthz", "/readyz", "/metrics"):
        assert secured.get(url).status_code == 200, url


def test_keys_are_never_logged(
    run_dir: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATA_API_KEYS", USER_KEY)
    monkeypatch.setenv("STRATA_ADMIN_KEYS", ADMIN_KEY)
    caplog.set_level(logging.DEBUG)
    settings = ServeSettings(keys=ApiKeys.from_env())
    logging.getLogger("test").info("settings %r", settings)
    app = create_app(run_dir, settings)
    with TestClient(app) as client:
        app.state.holder.wait_ready(60)
        client.get("/v1/model", headers=_auth(WRONG_KEY))
        client.get("/v1/model", headers=_auth(USER_KEY))
        client.post("/v1/admin/reload?wait=true", headers=_auth(ADMIN_KEY))
    assert "settings ServeSettings(" in caplog.text
    for key in (USER_KEY, ADMIN_KEY, WRONG_KEY):
        assert key not in caplog.text


def test_keys_from_environment_and_files(tmp_path: Path) -> None:
    (tmp_path / "keys").write_text(f"# service keys\n{USER_KEY}\n\n  {WRONG_KEY}  \n")
    (tmp_path / "admin").write_text(ADMIN_KEY + "\n")
    env = {"STRATA_API_KEYS": f" {USER_KEY}, other-key-abcdefghijklmnop ,"}
    keys = ApiKeys.from_env(env, keys_file=tmp_path / "keys", admin_keys_file=tmp_path / "admin")
    assert keys.keys == (USER_KEY, "other-key-abcdefghijklmnop", WRONG_KEY)
    assert keys.admin_keys == (ADMIN_KEY,)
    assert keys.role_of(ADMIN_KEY) == "admin" and keys.role_of(USER_KEY) == "user"
    assert keys.role_of(USER_KEY[:-1]) is None and keys.role_of("") is None
    env_files = {"STRATA_API_KEYS_FILE": str(tmp_path / "keys")}
    assert ApiKeys.from_env(env_files).keys == (USER_KEY, WRONG_KEY)
    with pytest.raises(ConfigError, match="API key file"):
        ApiKeys.from_env({"STRATA_API_KEYS_FILE": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="shorter than 16"):
        ApiKeys.from_env({"STRATA_API_KEYS": "short"})
    assert not ApiKeys.from_env({}).configured


def test_without_keys_only_loopback_unless_insecure() -> None:
    none = ApiKeys()
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        check_bind_host(host, none, insecure=False)
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
        with pytest.raises(ConfigError, match="--insecure"):
            check_bind_host(host, none, insecure=False)
        check_bind_host(host, none, insecure=True)
        check_bind_host(host, ApiKeys(keys=(USER_KEY,)), insecure=False)


@pytest.fixture(scope="module")
def limited(run_dir: Path) -> Iterator[TestClient]:
    limits = Limits(max_body_bytes=4_000, max_records=3, max_field_chars=200)
    app = create_app(run_dir, ServeSettings(limits=limits))
    with TestClient(app) as client:
        assert app.state.holder.wait_ready(60)
        yield client


def _limit_of(response_json: dict) -> dict:
    assert set(response_json) >= {"type", "title", "status", "detail"}
    return response_json["limit"]


def test_body_size_limit(limited: TestClient) -> None:
    big = {"records": [dict.fromkeys(text_fields(), "x" * 150)] * 3 + [{"pad": "y" * 3_000}]}
    response = limited.post("/v1/predict", json=big)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert _limit_of(response.json()) == {"name": "max_body_bytes", "value": 4_000}
    assert "max_body_bytes" in response.json()["detail"]

    # The same body streamed without a Content-Length is cut off just the same.
    data = json.dumps(big).encode()
    chunks = iter([data[i : i + 1_000] for i in range(0, len(data), 1_000)])
    streamed = limited.post(
        "/v1/predict", content=chunks, headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert _limit_of(streamed.json())["name"] == "max_body_bytes"


def test_records_per_request_limit(limited: TestClient) -> None:
    records = [dict.fromkeys(text_fields(), "cloud")] * 4
    response = limited.post("/v1/predict", json={"records": records})
    assert response.status_code == 413
    assert _limit_of(response.json()) == {"name": "max_records", "value": 3}
    assert limited.post("/v1/predict", json={"records": records[:3]}).status_code == 200


def test_characters_per_field_limit(limited: TestClient) -> None:
    record = dict.fromkeys(text_fields(), "cloud") | {"details": "d" * 201}
    response = limited.post("/v1/predict", json={"records": [record]})
    assert response.status_code == 422
    assert _limit_of(response.json()) == {"name": "max_field_chars", "value": 200}
    assert "records[0].details" in response.json()["detail"]
    ok = dict(record, details="d" * 200)
    assert limited.post("/v1/predict", json={"records": [ok]}).status_code == 200


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_records"):
        Limits(max_records=0)
