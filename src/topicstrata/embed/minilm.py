"""``minilm``: all-MiniLM-L6-v2 through sentence-transformers on torch (CPU)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from topicstrata.embed._paths import bundled_minilm_path, model_fingerprint
from topicstrata.embed.base import BaseEmbedder, l2_normalize
from topicstrata.errors import DependencyError, ModelError
from topicstrata.fanout import available_cpus

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

__all__ = ["MiniLMEmbedder"]

MINILM_DIM = 384
MINILM_MAX_TOKENS = 256


class MiniLMEmbedder(BaseEmbedder):
    """Sentence embeddings from the bundled all-MiniLM-L6-v2 (or another sentence-transformers
    directory given as ``model_path``).

    The model loads on first use, so constructing one is cheap and the object pickles
    without its weights (executors ship embedders to worker processes).

    ``num_threads`` sets torch's intra-op threads when the model loads; ``None`` uses the
    CPUs this process may run on. torch's setting is process-wide.
    """

    name = "minilm"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        self.model_path = model_path
        self.device = device
        self.num_threads = num_threads
        self._model: SentenceTransformer | None = None
        self._version: str | None = None

    @property
    def resolved_path(self) -> str:
        return str(self.model_path) if self.model_path is not None else str(bundled_minilm_path())

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = model_fingerprint(self.resolved_path)[:16]
        return self._version

    @property
    def dim(self) -> int:
        if self._model is None and self.model_path is None:
            return MINILM_DIM  # known without loading the bundled weights
        return int(self.model.get_embedding_dimension() or MINILM_DIM)

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            self._model = _load_sentence_transformer(
                self.resolved_path, self.device, self.num_threads
            )
        return self._model

    def _prepare(self) -> None:
        _ = self.model

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self.model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalize(vectors)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state


def _load_sentence_transformer(path: str, device: str, num_threads: int | None) -> Any:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise DependencyError(
            "the 'minilm' embedder needs torch and sentence-transformers; "
            "install them, or use the 'minilm-onnx' or 'static' embedder."
        ) from exc
    threads = num_threads or available_cpus()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        model = SentenceTransformer(path, device=device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the sentence-transformers model at {path}: {exc}. "
            "Check the directory, or leave model_path unset to use the bundled MiniLM."
        ) from exc
    model.eval()
    logger.info("loaded %s on %s with %d torch threads", path, device, threads)
    return model
