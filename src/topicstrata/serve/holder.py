"""The model being served, warmed before it counts as ready, and swapped on reload.

A request takes ``holder.current`` once and uses that model to the end, so a
reload never changes the model under a request in flight. A reload loads and
warms the new model in a background thread and swaps the reference only when
both worked; a failed reload keeps the old model and records why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import pandas as pd

from topicstrata.io.schema import TEXT
from topicstrata.serve.source import ServedModel

__all__ = ["ModelHolder", "ReloadStatus", "warm_up"]

logger = logging.getLogger(__name__)

ReloadState = Literal["idle", "loading", "succeeded", "failed"]
#: What the warm-up prediction embeds: any text runs the embedder and every reducer.
WARM_UP_TEXT = "warm-up request: migrate the data warehouse to the cloud"


@dataclass(frozen=True)
class ReloadStatus:
    state: ReloadState = "idle"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    #: The version (or name, for a directory) served after the reload.
    served: str | None = None
    reloads: int = 0


def warm_up(model: ServedModel) -> None:
    """One prediction, so the embedder session and the reducers have run before traffic."""
    model.predictor.predict(pd.DataFrame({TEXT: [WARM_UP_TEXT]}))


class ModelHolder:
    """The current model, its readiness, and background reloads."""

    def __init__(
        self,
        model: ServedModel,
        load: Callable[[], ServedModel],
        on_swap: Callable[[ServedModel], None] | None = None,
    ) -> None:
        self.load = load
        self._current = model
        self._on_swap = on_swap
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._reload_thread: threading.Thread | None = None
        self._reload_done = threading.Event()
        self._reload_done.set()
        self._status = ReloadStatus()
        self.warm_up_error: str | None = None

    @property
    def current(self) -> ServedModel:
        return self._current

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def warm_up(self) -> None:
        """Warm the current model and mark the service ready (run once, at startup)."""
        try:
            warm_up(self._current)
        except Exception as exc:  # readiness stays false and says why
            self.warm_up_error = f"{type(exc).__name__}: {exc}"
            logger.exception("warm-up prediction failed; the service stays not ready")
            return
        logger.info("model %s warmed up; ready", _label(self._current))
        self._ready.set()

    def start_warm_up(self) -> threading.Thread:
        thread = threading.Thread(target=self.warm_up, name="strata-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def reload_status(self) -> ReloadStatus:
        return self._status

    def reload(self) -> ReloadStatus:
        """Start loading the model the source points at now; a reload in progress is reused."""
        with self._lock:
            if self._status.state == "loading":
                return self._status
            self._status = replace(
                self._status,
                state="loading",
                started_at=datetime.now(tz=UTC),
                finished_at=None,
                error=None,
            )
            self._reload_done.clear()
            self._reload_thread = threading.Thread(
                target=self._reload, name="strata-reload", daemon=True
            )
            self._reload_thread.start()
            return self._status

    def wait_reload(self, timeout: float | None = None) -> ReloadStatus:
        self._reload_done.wait(timeout)
        return self._status

    def _reload(self) -> None:
        try:
            model = self.load()
            warm_up(model)
        except Exception as exc:
            why = str(exc) or type(exc).__name__
            logger.error("reload failed; still serving %s: %s", _label(self._current), why)
            self._finish("failed", error=why)
            return
        previous = self._current
        self._current = model  # one reference assignment: requests see old or new, never a mix
        self._ready.set()
        if self._on_swap is not None:
            self._on_swap(model)
        logger.info("reloaded: now serving %s (was %s)", _label(model), _label(previous))
        self._finish("succeeded")

    def _finish(self, state: ReloadState, error: str | None = None) -> None:
        with self._lock:
            self._status = replace(
                self._status,
                state=state,
                finished_at=datetime.now(tz=UTC),
                error=error,
                served=_label(self._current),
                reloads=self._status.reloads + 1,
            )
            self._reload_done.set()

    def close(self, timeout: float = 5.0) -> None:
        thread = self._reload_thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)


def _label(model: ServedModel) -> str:
    return f"{model.name} version {model.version}" if model.version is not None else model.name
