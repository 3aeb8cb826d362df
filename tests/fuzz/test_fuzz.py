"""Malformed input, fuzzed (issue 13): no traceback, no record lost, a message that helps.

Each target draws inputs from ``tests/strategies.py`` and runs its oracle, which
asserts the contract (see that module). A bounded, derandomized run for CI;
``bench/fuzz.py`` runs the same targets for 10,000+ inputs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from strategies import (
    CI_FIELD_BYTES,
    ConfigCase,
    IngestCase,
    MappingCase,
    check_config,
    check_ingest,
    check_mapping,
    config_cases,
    csv_cases,
    jsonl_cases,
    mapping_cases,
    parquet_cases,
    salesforce_cases,
)

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)


def assert_accounted(case: IngestCase) -> None:
    """The oracle asserts the contract as it reads (message, reasons, unique ids); what
    it returns must be a clean error or a report that accounts for every record."""
    with tempfile.TemporaryDirectory() as tmp:
        outcome = check_ingest(case, Path(tmp))
    if outcome.error is None:
        assert outcome.rows_in == outcome.ok + outcome.rejected, outcome
        assert outcome.unaccounted == 0, outcome
    else:
        assert outcome.error.strip(), outcome


@FUZZ
@given(csv_cases(CI_FIELD_BYTES))
def test_csv(case: IngestCase) -> None:
    assert_accounted(case)


@FUZZ
@given(jsonl_cases(CI_FIELD_BYTES))
def test_jsonl(case: IngestCase) -> None:
    assert_accounted(case)


@FUZZ
@given(parquet_cases(CI_FIELD_BYTES))
def test_parquet(case: IngestCase) -> None:
    assert_accounted(case)


@FUZZ
@given(salesforce_cases(CI_FIELD_BYTES))
def test_salesforce(case: IngestCase) -> None:
    assert_accounted(case)


@FUZZ
@given(mapping_cases())
def test_mapping(case: MappingCase) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_mapping(case, Path(tmp))


@FUZZ
@given(config_cases())
def test_config(case: ConfigCase) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_config(case, Path(tmp))
