"""Salesforce sfdx tree exports: opportunities joined with their accounts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from topicstrata.io import IngestConfig, read_records, schema


@pytest.fixture
def fixture_dir(shared_data: Path) -> Path:
    path = shared_data / "salesforce_sample_opportunities"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.data
def test_sample_export_joins_account_names(fixture_dir: Path) -> None:
    result = read_records(fixture_dir / "Opportunities.json")
    table = result.table

    assert result.report.summary()["rows_in"] == 20
    assert result.report.ok == 20
    assert result.report.format == "salesforce"
    assert table[schema.ID].is_unique
    assert table.loc[0, schema.ID] == "OpportunityRef1"
    assert table.loc[0, schema.TEXT] == "Cloud Platform Expansion"
    assert table.loc[0, schema.ACCOUNT_NAME] == "Alpha Dynamics"
    assert table.loc[1, schema.ACCOUNT_NAME] == "Madison Investments"
    assert table[schema.ACCOUNT_NAME].notna().all()
    # The sample accounts carry no Industry field.
    assert table[schema.INDUSTRY].isna().all()
    assert table.loc[0, schema.AMOUNT] == 125000
    assert table.loc[0, schema.CLOSE_DATE] == "2025-06-30"
    # No term in the export: the 12-month default annualizes amount * 12 / 12.
    np.testing.assert_allclose(table[schema.ANNUALIZED_REVENUE], table[schema.AMOUNT])
    assert "StageName" in table.columns


@pytest.mark.data
def test_directory_reads_like_the_file(fixture_dir: Path) -> None:
    by_dir = read_records(fixture_dir, IngestConfig(chunk_rows=7)).table
    by_file = read_records(fixture_dir / "Opportunities.json").table
    assert by_dir.equals(by_file)


def tree(kind: str, records: list[dict[str, object]]) -> str:
    out = []
    for i, rec in enumerate(records, start=1):
        out.append({"attributes": {"type": kind, "referenceId": f"{kind}Ref{i}"}, **rec})
    return json.dumps({"records": out})


def test_custom_fields_industry_and_term(tmp_path: Path) -> None:
    (tmp_path / "Accounts.json").write_text(
        tree("Account", [{"Name": "Acme", "Industry": "Banking"}, {"Name": "Beta"}])
    )
    (tmp_path / "Opportunities.json").write_text(
        tree(
            "Opportunity",
            [
                {
                    "AccountId": "@AccountRef1",
                    "Name": "Core banking",
                    "Description": "Replace the ledger",
                    "Customer_Needs__c": "Real-time payments",
                    "Product_Name__c": "Ledger",
                    "Product_Group__c": "Platform",
                    "Amount": 240000,
                    "Contract_Term_Months__c": 24,
                    "CloseDate": "2025-03-31",
                    "Owner": {"attributes": {"type": "User"}, "Name": "Kim"},
                },
                {"AccountId": "@AccountRef2", "Name": "Pilot", "Amount": "n/a"},
                {"AccountId": "@AccountRef9", "Name": "Orphan", "Amount": "lots"},
            ],
        )
    )

    result = read_records(tmp_path / "Opportunities.json")

    first = result.table.iloc[0]
    assert (
        first[schema.TEXT]
        == "Core banking\nReplace the ledger\nReal-time payments\nLedger\nPlatform"
    )
    assert first[schema.INDUSTRY] == "Banking"
    assert first[schema.ACCOUNT_NAME] == "Acme"
    assert first[schema.TERM_MONTHS] == 24
    assert first[schema.ANNUALIZED_REVENUE] == 120000
    assert first["Owner.Name"] == "Kim"
    assert result.table.iloc[1][schema.ACCOUNT_NAME] == "Beta"
    rejected = result.report.rejected
    assert list(rejected["row"]) == [3]
    assert list(rejected["id"]) == ["OpportunityRef3"]
    assert rejected.loc[0, "reason"] == "amount (amount) 'lots' is not a number"


def test_opportunities_nested_under_accounts(tmp_path: Path) -> None:
    (tmp_path / "Opportunities.json").write_text(json.dumps({"records": []}))
    (tmp_path / "Accounts.json").write_text(
        tree(
            "Account",
            [
                {
                    "Name": "Acme",
                    "Industry": "Retail",
                    "Opportunities": {"records": [{"Name": "POS refresh", "Amount": 10}]},
                }
            ],
        )
    )
    table = read_records(tmp_path).table
    assert list(table[schema.TEXT]) == ["POS refresh"]
    assert list(table[schema.ACCOUNT_NAME]) == ["Acme"]
    assert list(table[schema.INDUSTRY]) == ["Retail"]
    assert list(table[schema.ID]) == ["row-1"]


def test_plain_json_array_is_read_as_records(tmp_path: Path) -> None:
    path = tmp_path / "deals.json"
    path.write_text(json.dumps([{"Id": "006A", "Name": "Deal", "Amount": 5}]))
    table = read_records(path).table
    assert list(table[schema.ID]) == ["006A"]
    assert list(table[schema.TEXT]) == ["Deal"]
    assert table[schema.ACCOUNT_NAME].isna().all()
