"""The request and response bodies of the HTTP API (its OpenAPI schema comes from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: A record field value; text fields are read as text, other fields are ignored.
FieldValue = str | int | float | bool | None


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "records": [
                        {
                            "id": "opp-1",
                            "opportunity_name": "Cloud migration",
                            "details": "Move the data warehouse to the cloud",
                            "customer_needs": "lower cost",
                            "product_name": "DataCloud",
                            "product_specifics": "managed warehouse",
                            "product_group": "Data",
                        }
                    ]
                }
            ]
        }
    )

    records: list[dict[str, FieldValue]] = Field(
        description=(
            "Records with the text fields the model was fitted on (see GET /v1/model, "
            "`text_fields`) and optionally `id`; other fields are ignored."
        )
    )


class Prediction(BaseModel):
    id: str = Field(description="The record's `id`, else `row-N` (1-based position).")
    path: str = Field(description="Leaf topic path, e.g. `7.2.1`; `-1` when unplaced.")
    levels: list[str] = Field(description="The path at each level: `7`, `7.2`, `7.2.1`.")
    label: str
    keywords: list[str]
    confidence: float
    rule_applied: str | None = Field(description="The mapping rule that placed it, if any.")


class ModelRef(BaseModel):
    name: str
    version: int | None


class PredictResponse(BaseModel):
    model: ModelRef
    predictions: list[Prediction]


class TopicSummary(BaseModel):
    path: str
    parent: str | None
    level: int
    label: str
    keywords: list[str]
    size: int = Field(description="Records of the fit assigned to this topic.")


class TopicTree(BaseModel):
    mapping_version: int
    topics: list[TopicSummary]


class RepresentativeRecord(BaseModel):
    id: str
    text: str | None = Field(description="Cleaned text, when the run directory kept it.")


class TopicDetail(TopicSummary):
    phrases: list[str]
    flags: list[str]
    children: list[str]
    representative_records: list[RepresentativeRecord]


class ModelCard(BaseModel):
    name: str
    version: int | None
    alias: str | None
    aliases: list[str]
    approval_status: str | None
    source: str
    mapping_version: int
    n_layers: int
    text_fields: list[str]
    embedder: str
    embedder_options: dict[str, Any]
    fitted_at: datetime | None = Field(description="When the model directory was written.")
    registered_at: datetime | None
    topicstrata_version: str | None = Field(description="topicstrata that saved the model.")
    server_version: str
    loaded_at: datetime


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    model: str
    detail: str | None = None


class ReloadInfo(BaseModel):
    state: Literal["idle", "loading", "succeeded", "failed"]
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="Why the last reload failed (the old model stays).")
    served: str | None
    reloads: int


class Problem(BaseModel):
    """RFC 9457 problem details; limit errors add `limit`, schema errors add `errors`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
