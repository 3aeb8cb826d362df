"""The embedder interface every backend implements, and the batching loop they share."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, Self

import numpy as np
from numpy.typing import NDArray

from topicstrata._progress import ProgressCallback, null_progress
from topicstrata.errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["BaseEmbedder", "Embedder", "FittableEmbedder", "l2_normalize"]


class Embedder(Protocol):
    """Turns texts into float32 rows of unit L2 norm.

    ``version`` identifies everything that decides the output (model weights, tokenizer,
    configuration, fitted state); it is part of every cache key, so two embedders with
    the same ``name`` and ``version`` must return the same vectors.

    Not ``runtime_checkable`` on purpose: an ``isinstance`` check would read ``version``
    and ``dim``, which load (or distill) a model. Subclass ``BaseEmbedder`` or type-check.
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: ProgressCallback | None = None,
    ) -> NDArray[np.float32]: ...


class FittableEmbedder(Embedder, Protocol):
    """An embedder that learns from a corpus before it can encode (e.g. ``tfidf-svd``).

    ``fit`` is always called explicitly; ``version`` and ``encode`` raise ``ModelError``
    until it has been, and ``version`` then reflects the fitted state.
    """

    @property
    def is_fitted(self) -> bool: ...

    def fit(self, texts: Sequence[str]) -> Self: ...


def l2_normalize(matrix: NDArray[np.floating]) -> NDArray[np.float32]:
    """Rows scaled to unit length, as float32; all-zero rows stay zero."""
    out = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return np.divide(out, norms, dtype=np.float32)


class BaseEmbedder(ABC):
    """Shared ``encode``: validate, sort by length, batch, report progress, restore order.

    Sorting by length keeps padding low for transformer backends: a batch is as long as
    its longest text. Subclasses implement ``_encode_batch``.
    """

    name: str = ""
    #: Batches are at least this long; backends without padding (``static``) batch
    #: thousands of texts so per-batch work (tokenizer calls, dedupe) is amortized.
    min_batch_size: int = 1

    @property
    @abstractmethod
    def version(self) -> str: ...

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        """Unit-norm float32 rows for one batch, in the order given."""

    def _prepare(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Load models or check fitted state before the first batch."""

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: ProgressCallback | None = None,
    ) -> NDArray[np.float32]:
        texts = _check_texts(texts)
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}.")
        self._prepare()
        report = progress or null_progress
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batch_size = max(batch_size, self.min_batch_size)
        report("embed", 0, n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx])
            report("embed", min(start + batch_size, n), n)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("encode() takes a sequence of texts, got a single str; wrap it: [text].")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InputError(f"text {i} is {type(text).__name__}, not str; convert or drop it.")
    return out
