"""Read Salesforce Opportunity exports (sfdx "data tree" JSON) joined with their Accounts.

The export is one JSON document per object (``{"records": [...]}``), with each
record's ``attributes.referenceId`` and lookups such as ``"AccountId":
"@AccountRef1"``. ``sf data export tree`` caps a file at a few thousand
records, so the document is loaded whole and then served in chunks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd

from topicstrata.errors import InputError
from topicstrata.io import schema
from topicstrata.io.config import IngestConfig
from topicstrata.io.readers import Chunk

__all__ = ["OPPORTUNITY_FIELDS", "iter_salesforce", "load_salesforce"]

logger = logging.getLogger(__name__)

#: Salesforce API field names (matched case-insensitively) and their canonical column.
OPPORTUNITY_FIELDS: Final = {
    "Id": schema.ID,
    "Name": "opportunity_name",
    "Description": "details",
    "Customer_Needs__c": "customer_needs",
    "CustomerNeeds__c": "customer_needs",
    "Needs__c": "customer_needs",
    "Product_Name__c": "product_name",
    "ProductName__c": "product_name",
    "Product__c": "product_name",
    "Product_Specifics__c": "product_specifics",
    "Product_Details__c": "product_specifics",
    "Product_Group__c": "product_group",
    "Product_Family__c": "product_group",
    "Product_Line__c": "product_group",
    "Industry": schema.INDUSTRY,
    "Industry__c": schema.INDUSTRY,
    "Account_Industry__c": schema.INDUSTRY,
    "Amount": schema.AMOUNT,
    "CloseDate": schema.CLOSE_DATE,
    "Term": schema.TERM_MONTHS,
    "Term__c": schema.TERM_MONTHS,
    "Term_Months__c": schema.TERM_MONTHS,
    "Contract_Term__c": schema.TERM_MONTHS,
    "Contract_Term_Months__c": schema.TERM_MONTHS,
}
_BY_LOWER: Final = {k.lower(): v for k, v in OPPORTUNITY_FIELDS.items()}


def iter_salesforce(path: Path, config: IngestConfig) -> Iterator[Chunk]:
    """Serve :func:`load_salesforce`'s table in chunks of ``config.chunk_rows``."""
    frame = load_salesforce(path)
    for start in range(0, len(frame), config.chunk_rows):
        part = frame.iloc[start : start + config.chunk_rows].reset_index(drop=True)
        yield Chunk(part, first_row=start + 1)


def load_salesforce(path: Path) -> pd.DataFrame:
    """Opportunity records with canonical column names and their account's name and industry.

    ``path`` is ``Opportunities.json`` (``Accounts.json`` next to it is joined
    when present) or a directory holding both. Fields without a mapping keep
    their Salesforce names; nested objects are flattened (``Owner.Name``).
    """
    opp_path, acc_path = _locate(path)
    records = _records(opp_path)
    accounts: list[dict[str, Any]] = _records(acc_path) if acc_path is not None else []
    # A tree export may nest opportunities under their account instead.
    for number, account in enumerate(accounts, start=1):
        nested = account.get("Opportunities")
        if isinstance(nested, Mapping):
            inner = nested.get("records") or []
            if not isinstance(inner, list) or not all(isinstance(r, Mapping) for r in inner):
                assert acc_path is not None  # accounts come from a file
                raise InputError(
                    f"{acc_path.name}: account record {number} ({_ref(account) or 'no reference'}) "
                    'has "Opportunities" whose "records" is not a list of objects; fix the '
                    "export, or re-run `sf data export tree`."
                )
            for rec in inner:
                records.append({**rec, "AccountId": "@" + _ref(account)})
    by_key: dict[str, Mapping[str, Any]] = {}
    for account in accounts:
        for key in (_ref(account), account.get("Id")):
            if key:
                by_key[str(key)] = account
    rows = [_row(rec, by_key) for rec in records]
    unmatched = sum(1 for rec in records if rec.get("AccountId") and not _account(rec, by_key))
    if unmatched:
        logger.warning(
            "%s: %d opportunities name an AccountId not found in %s",
            opp_path.name,
            unmatched,
            acc_path.name if acc_path else "any Accounts file",
        )
    frame = pd.DataFrame.from_records(rows)
    logger.info("%s: %d opportunity records, %d accounts", opp_path.name, len(rows), len(accounts))
    return frame


def _locate(path: Path) -> tuple[Path, Path | None]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json")
        opp = [p for p in files if "opportunit" in p.name.lower()]
        if not opp:
            raise InputError(
                f"{path}: no Opportunities JSON file in this directory (found: "
                f"{', '.join(p.name for p in files) or 'no .json files'}); pass the path of "
                "the Opportunities export (e.g. Opportunities.json)."
            )
        opp_path = opp[0]
    else:
        opp_path = path
        files = sorted(p for p in path.parent.iterdir() if p.suffix.lower() == ".json")
    accounts = [p for p in files if p != opp_path and p.name.lower().startswith("account")]
    return opp_path, (accounts[0] if accounts else None)


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"{path.name}: not valid UTF-8; Salesforce exports are UTF-8, so re-export it "
            "or re-save it as UTF-8."
        ) from None
    if not text.strip():
        raise InputError(f'{path.name}: the file is empty; expected {{"records": [...]}}.')
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}); "
            "fix the export or re-run `sf data export tree`."
        ) from None
    except (ValueError, RecursionError) as exc:
        # Integers of thousands of digits, or arrays nested thousands deep.
        detail = str(exc)[:160] or type(exc).__name__
        raise InputError(
            f"{path.name}: cannot be read as JSON ({detail}); fix the export or re-run "
            "`sf data export tree`."
        ) from None
    records = document.get("records") if isinstance(document, dict) else document
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(
            f'{path.name}: expected a Salesforce tree export {{"records": [{{...}}, ...]}} '
            "or a JSON array of objects; for one object per line use a .jsonl file."
        )
    return records


def _ref(record: Mapping[str, Any]) -> str:
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping):
        return str(attributes.get("referenceId") or "")
    return ""


def _account(record: Mapping[str, Any], by_key: Mapping[str, Any]) -> Mapping[str, Any] | None:
    nested = record.get("Account")
    if isinstance(nested, Mapping):
        return nested
    account_id = record.get("AccountId")
    if not account_id:
        return None
    found: Mapping[str, Any] | None = by_key.get(str(account_id).removeprefix("@"))
    return found


def _row(record: Mapping[str, Any], by_key: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in ("attributes", "Account"):
            continue
        if isinstance(value, Mapping):
            for sub, sub_value in value.items():
                if sub != "attributes":
                    row[f"{key}.{sub}"] = sub_value
            continue
        row[_BY_LOWER.get(key.lower(), key)] = value
    if schema.ID not in row and _ref(record):
        row[schema.ID] = _ref(record)
    account = _account(record, by_key)
    row[schema.ACCOUNT_NAME] = account.get("Name") if account else None
    if row.get(schema.INDUSTRY) is None:
        row[schema.INDUSTRY] = account.get("Industry") if account else None
    return row
