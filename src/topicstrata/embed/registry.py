"""Embedders by name: ``get_embedder("minilm-onnx")``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from topicstrata.embed.base import Embedder
from topicstrata.embed.minilm import MiniLMEmbedder
from topicstrata.embed.onnx_minilm import OnnxMiniLMEmbedder
from topicstrata.embed.static import StaticEmbedder
from topicstrata.embed.tfidf import TfidfSvdEmbedder
from topicstrata.errors import ConfigError

__all__ = ["DEFAULT_EMBEDDER", "available_embedders", "get_embedder"]

DEFAULT_EMBEDDER = "minilm-onnx"

_REGISTRY: dict[str, Callable[..., Embedder]] = {
    MiniLMEmbedder.name: MiniLMEmbedder,
    OnnxMiniLMEmbedder.name: OnnxMiniLMEmbedder,
    StaticEmbedder.name: StaticEmbedder,
    TfidfSvdEmbedder.name: TfidfSvdEmbedder,
}


def available_embedders() -> list[str]:
    """The names ``get_embedder`` accepts."""
    return sorted(_REGISTRY)


def get_embedder(name: str, **options: Any) -> Embedder:
    """A new embedder for ``name`` built with ``options`` (its constructor's keywords).

    Construction is cheap: models load, export or distill on first use.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown embedder {name!r}; valid names are: {', '.join(available_embedders())}."
        ) from None
    params = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ConfigError(
            f"embedder {name!r} takes no option(s) {', '.join(unknown)}; "
            f"valid options are: {', '.join(params) or 'none'}."
        )
    return factory(**options)
