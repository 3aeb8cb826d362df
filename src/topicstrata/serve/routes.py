"""The HTTP routes, one router per area; handlers validate, call the library, answer.

Prediction handlers are plain ``def``: FastAPI runs them in its thread pool, so
embedding a batch never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from topicstrata.mapping import path_sort_key
from topicstrata.serve.auth import require_admin, require_key
from topicstrata.serve.holder import ModelHolder, ReloadStatus
from topicstrata.serve.metrics import Metrics, model_labels
from topicstrata.serve.problems import PROBLEM_MEDIA_TYPE, ProblemError
from topicstrata.serve.records import record_texts
from topicstrata.serve.schemas import (
    Health,
    ModelCard,
    ModelRef,
    Prediction,
    PredictRequest,
    PredictResponse,
    Problem,
    Readiness,
    ReloadInfo,
    RepresentativeRecord,
    TopicDetail,
    TopicSummary,
    TopicTree,
)
from topicstrata.serve.settings import ServeSettings
from topicstrata.serve.source import ServedModel

__all__ = ["admin", "info", "ops", "predict", "topics"]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all answered with a ``Problem`` body."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


_API_ERRORS = problems(401, 403, 404, 405, 413, 422, 500)

predict = APIRouter(prefix="/v1", tags=["predict"], dependencies=[Depends(require_key)])
topics = APIRouter(prefix="/v1", tags=["topics"], dependencies=[Depends(require_key)])
info = APIRouter(prefix="/v1", tags=["model"], dependencies=[Depends(require_key)])
admin = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])
ops = APIRouter(tags=["operations"])


def _holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def _predict_lock(request: Request) -> threading.Lock:
    lock: threading.Lock = request.app.state.predict_lock
    return lock


def _settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


@predict.post("/predict", responses=_API_ERRORS, response_model=PredictResponse)
def predict_records(body: PredictRequest, request: Request) -> PredictResponse:
    """Assign each record a topic path, label, keywords and confidence (one batch)."""
    model = _holder(request).current  # this request uses this model to its end
    ids, texts = record_texts(body.records, model.text_fields, _settings(request).limits)
    with _predict_lock(request):
        frame = model.predictor.predict(texts)
    _metrics(request).records.labels(*model_labels(model)).inc(len(texts))
    level_cols = sorted(
        (c for c in frame.columns if c.startswith("path_l")), key=lambda c: int(c[6:])
    )
    predictions = [
        Prediction(
            id=rid,
            path=row["path"],
            levels=[row[c] for c in level_cols],
            label=row["label"],
            keywords=[k for k in str(row["keywords"]).split(", ") if k],
            confidence=float(row["confidence"]),
            rule_applied=row["rule_applied"] or None,
        )
        for rid, row in zip(ids, frame.to_dict("records"), strict=True)
    ]
    return PredictResponse(
        model=ModelRef(name=model.name, version=model.version), predictions=predictions
    )


def _topic_rows(model: ServedModel) -> dict[str, TopicDetail]:
    """The served tree: topics kept by the last mapping (merged and dropped ones left out)."""
    ensemble = model.predictor.ensemble
    frame = ensemble.topics_frame()
    entries = ensemble.mapping_.by_path()
    kept = frame[frame["path"] == frame["final_path"]]
    paths = set(kept["path"])
    rows: dict[str, TopicDetail] = {}
    for row in kept.to_dict("records"):
        path = str(row["path"])
        entry = entries.get(path)
        keywords = list(entry.keywords) if entry and entry.keywords else list(row["keywords"])
        rows[path] = TopicDetail(
            path=path,
            parent=str(row["parent"]) or None,
            level=int(row["level"]),
            label=str(row["label"]),
            keywords=keywords,
            size=int(row["size"]),
            phrases=list(entry.phrases if entry and entry.phrases else row["phrases"]),
            flags=list(row["flags"]),
            children=[],
            representative_records=[
                RepresentativeRecord(id=str(rid), text=model.texts.get(str(rid)))
                for rid in row["representative_ids"]
            ],
        )
    for path, detail in rows.items():
        if detail.parent is not None and detail.parent in paths:
            rows[detail.parent].children.append(path)
    for detail in rows.values():
        detail.children.sort(key=path_sort_key)
    return dict(sorted(rows.items(), key=lambda item: path_sort_key(item[0])))


@topics.get("/topics", responses=_API_ERRORS, response_model=TopicTree)
def list_topics(request: Request) -> TopicTree:
    """Every topic of the tree with its parent, label, keywords and size."""
    model = _holder(request).current
    rows = _topic_rows(model)
    summaries = [
        TopicSummary(**d.model_dump(include=set(TopicSummary.model_fields))) for d in rows.values()
    ]
    return TopicTree(mapping_version=model.mapping_version, topics=summaries)


@topics.get("/topics/{path}", responses=_API_ERRORS, response_model=TopicDetail)
def get_topic(path: str, request: Request) -> TopicDetail:
    """One topic with its phrases, children and representative records."""
    rows = _topic_rows(_holder(request).current)
    if path not in rows:
        raise ProblemError(
            404,
            "unknown-topic",
            f"no topic {path!r} in the served tree; GET /v1/topics lists them "
            "(records no layer could place get -1, which is no topic).",
            title="Unknown topic",
        )
    return rows[path]


@info.get("/model", responses=_API_ERRORS, response_model=ModelCard)
def model_card(request: Request) -> ModelCard:
    """Which model is served: name, version, alias, approval, mapping, embedder, dates."""
    return ModelCard(**_holder(request).current.describe())


def _reload_info(status: ReloadStatus) -> ReloadInfo:
    return ReloadInfo(
        state=status.state,
        started_at=status.started_at,
        finished_at=status.finished_at,
        error=status.error,
        served=status.served,
        reloads=status.reloads,
    )


@admin.post(
    "/reload",
    status_code=202,
    responses={200: {"model": ReloadInfo}, 409: problems(409)[409], **_API_ERRORS},
    response_model=ReloadInfo,
)
async def reload_model(
    request: Request,
    response: Response,
    wait: bool = Query(False, description="Answer when the reload is over (200, or 409)."),
) -> ReloadInfo:
    """Load what the source points at now in the background and swap it in when ready."""
    holder = _holder(request)
    status = holder.reload()
    if not wait:
        return _reload_info(status)
    status = await asyncio.to_thread(holder.wait_reload)
    if status.state == "failed":
        raise ProblemError(
            409,
            "reload-failed",
            f"the reload failed and {status.served} is still served: {status.error}",
            title="Reload failed",
            reload=_reload_info(status).model_dump(mode="json"),
        )
    response.status_code = 200
    return _reload_info(status)


@admin.get("/reload", responses=_API_ERRORS, response_model=ReloadInfo)
def reload_status(request: Request) -> ReloadInfo:
    """The state of the last reload, and why it failed if it did."""
    return _reload_info(_holder(request).reload_status)


@ops.get("/healthz", response_model=Health, responses=problems(500))
def healthz() -> Health:
    """The process is alive (says nothing about the model)."""
    return Health()


@ops.get(
    "/readyz", response_model=Readiness, responses={503: {"model": Readiness}, **problems(500)}
)
def readyz(request: Request) -> Any:
    """Ready once the model is loaded and a warm-up prediction has run."""
    holder = _holder(request)
    model = holder.current
    label = f"{model.name}" + (f"/{model.version}" if model.version is not None else "")
    if holder.ready:
        return Readiness(ready=True, model=label)
    detail = holder.warm_up_error or "warming up"
    body = Readiness(ready=False, model=label, detail=detail)
    return JSONResponse(body.model_dump(mode="json"), status_code=503)


@ops.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **problems(500)},
)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(_metrics(request).render(), media_type=CONTENT_TYPE_LATEST)
