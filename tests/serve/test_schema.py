"""The OpenAPI schema is complete, and the app keeps to it (schemathesis, bounded)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from _support.serve import text_fields
from topicstrata.serve import ApiKeys, Limits, ServeSettings, create_app

USER_KEY = "schema-user-key-0123456789"
ADMIN_KEY = "schema-admin-key-0123456789"


@pytest.fixture(scope="module")
def served(run_dir: Path) -> Iterator[FastAPI]:
    limits = Limits(max_records=8, max_field_chars=500)
    keys = ApiKeys(keys=(USER_KEY,), admin_keys=(ADMIN_KEY,))
    app = create_app(run_dir, ServeSettings(limits=limits, keys=keys))
    with TestClient(app):
        assert app.state.holder.wait_ready(60)
        yield app


def test_every_operation_documents_its_errors_as_problems(served: FastAPI) -> None:
    document = served.openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "500" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    assert list(response["content"]) == ["application/problem+json"]
    record = document["components"]["schemas"]["PredictRequest"]["properties"]["records"]
    assert record["items"]["required"] == text_fields()
    assert record["maxItems"] == 8
    assert document["paths"]["/v1/predict"]["post"]["security"] == [{"HTTPBearer": []}]


def test_without_keys_the_schema_asks_for_none(run_dir: Path) -> None:
    document = create_app(run_dir).openapi()
    assert "securitySchemes" not in document["components"]
    assert all(
        "security" not in op and "401" not in op["responses"]
        for ops in document["paths"].values()
        for op in ops.values()
    )


def test_the_app_keeps_to_its_schema(served: FastAPI) -> None:
    """No 5xx, and every status, content type, header and body as documented.

    Driven by hand, not by ``schemathesis.pytest``: its pytest plugin does not run
    under pytest 9. Bounded (15 examples an operation) and derandomized, so it is
    fast and the same on every run.
    """
    api = schemathesis.openapi.from_asgi("/openapi.json", served)
    operations = [result.ok() for result in api.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/predict",
        "GET /v1/topics",
        "GET /v1/topics/{path}",
        "GET /v1/model",
        "POST /v1/admin/reload",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_KEY}"})

        check()
