"""``static``: a model2vec static embedder distilled from MiniLM at first use.

Opt-in fast mode: a token-embedding lookup and a mean, ~100x faster than MiniLM but
clearly lower quality (DESIGN: .15-.25 NMI lost). The distilled model is written under the
cache dir, keyed by the teacher's fingerprint and the distillation settings, and reused.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from topicstrata.embed._paths import bundled_minilm_path, cache_root, model_fingerprint
from topicstrata.embed.base import BaseEmbedder, l2_normalize
from topicstrata.errors import DependencyError, ModelError

logger = logging.getLogger(__name__)

__all__ = ["StaticEmbedder", "distill_static"]


class StaticEmbedder(BaseEmbedder):
    """model2vec embeddings distilled from ``teacher_path`` (default: the bundled MiniLM).

    ``model_path`` loads an already distilled model2vec directory instead; otherwise the
    distillation (~10-20 s, offline) runs once and is cached under ``cache_dir``.
    ``pca_dims`` is the output dimension of a fresh distillation.
    """

    name = "static"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        teacher_path: str | os.PathLike[str] | None = None,
        pca_dims: int = 256,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_path = model_path
        self.teacher_path = teacher_path
        self.pca_dims = pca_dims
        self.cache_dir = cache_dir
        self._model: Any = None
        self._version: str | None = None

    @property
    def resolved_path(self) -> Path:
        """The model2vec directory this embedder loads (distilled into the cache if needed)."""
        if self.model_path is not None:
            return Path(self.model_path)
        teacher = Path(self.teacher_path) if self.teacher_path else bundled_minilm_path()
        key = f"{model_fingerprint(teacher)[:16]}-pca{self.pca_dims}"
        return cache_root(self.cache_dir) / "models" / "static" / key

    @property
    def version(self) -> str:
        if self._version is None:
            self._prepare()
            self._version = model_fingerprint(self.resolved_path)[:16]
        return self._version

    @property
    def dim(self) -> int:
        self._prepare()
        return int(self._model.dim)

    def _prepare(self) -> None:
        if self._model is not None:
            return
        path = self.resolved_path
        if self.model_path is None and not (path / "model.safetensors").exists():
            teacher = Path(self.teacher_path) if self.teacher_path else bundled_minilm_path()
            distill_static(teacher, path, pca_dims=self.pca_dims)
        self._model = _load_static(path)

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self._model.encode(texts, batch_size=max(len(texts), 1), show_progress_bar=False)
        return l2_normalize(vectors)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state


def distill_static(
    teacher: str | os.PathLike[str], target: str | os.PathLike[str], *, pca_dims: int = 256
) -> Path:
    """Distill a model2vec static model from a sentence-transformers ``teacher`` into
    ``target`` (written to a temp dir, then renamed into place)."""
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise DependencyError(
            "the 'static' embedder needs model2vec with its distill extra "
            "(`pip install 'model2vec[distill]'`), or pass model_path= to a distilled model."
        ) from exc
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("distilling a static model from %s into %s (once)", teacher, target)
    model = distill(model_name=str(teacher), pca_dims=pca_dims)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp))
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished first; its copy is as good as ours.
            if not (target / "model.safetensors").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _load_static(path: Path) -> Any:
    try:
        from model2vec import StaticModel
    except ImportError as exc:
        raise DependencyError(
            "the 'static' embedder needs model2vec: `pip install model2vec`."
        ) from exc
    try:
        return StaticModel.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load the static model at {path}: {exc}. Delete that directory to "
            "distill it again, or pass model_path= to a valid model2vec directory."
        ) from exc
