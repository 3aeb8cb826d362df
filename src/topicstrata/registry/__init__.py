"""MLflow integration: log runs, register pyfunc models, gate serving on approval.

See docs/registry.md.
"""

from topicstrata.registry.models import (
    APPROVAL_TAG,
    APPROVED,
    PENDING,
    REJECTED,
    ModelVersionInfo,
    approve,
    get_version,
    list_models,
    load_approved,
    predictor_of,
    register_model,
    reject,
    resolve_version,
    set_alias,
)
from topicstrata.registry.runs import flatten_params, log_run, metrics_from_file
from topicstrata.registry.tracking import default_tracking_uri, resolve_tracking_uri

__all__ = [
    "APPROVAL_TAG",
    "APPROVED",
    "PENDING",
    "REJECTED",
    "ModelVersionInfo",
    "approve",
    "default_tracking_uri",
    "flatten_params",
    "get_version",
    "list_models",
    "load_approved",
    "log_run",
    "metrics_from_file",
    "predictor_of",
    "register_model",
    "reject",
    "resolve_tracking_uri",
    "resolve_version",
    "set_alias",
]
