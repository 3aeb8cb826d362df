"""``static``: a model2vec static embedder distilled from MiniLM at first use.

Opt-in fast mode: a token-embedding lookup and a mean, ~100x faster than MiniLM but
clearly lower quality (DESIGN: .15-.25 NMI lost). The distilled model is written under the
cache dir, keyed by the teacher's fingerprint and the distillation settings, and reused.

Encoding does model2vec's ``StaticModel.encode`` arithmetic (WordPiece ids without the
unknown token, mean of their embedding rows, L2 norm) but tokenizes each distinct
whitespace-separated word of a batch once instead of every occurrence: BERT's normalizer
and pre-tokenizer act within a word, so a text's ids are the concatenation of its words'
ids. Tokenizing is ~80% of model2vec's time and CRM text repeats its words, so this is
~2x faster; the mean is taken in float32 (model2vec rounds it to float16 first), so
vectors agree with model2vec's to a cosine of ~1 - 1e-6. Texts longer than the model's
``max_length`` tokens, and models with token weights or a token mapping, go through
``StaticModel.encode`` itself so its truncation rules apply unchanged.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from topicstrata.embed._paths import bundled_minilm_path, cache_root, model_fingerprint
from topicstrata.embed.base import BaseEmbedder, l2_normalize
from topicstrata.errors import DependencyError, ModelError

logger = logging.getLogger(__name__)

__all__ = ["StaticEmbedder", "distill_static"]

#: Characters ``str.split`` splits on but BERT's normalizer deletes as control
#: characters ("a\x1cb" is one word to the tokenizer): deleted before splitting.
_DELETED_CONTROLS = dict.fromkeys(map(ord, "\x0b\x0c\x1c\x1d\x1e\x1f\x85"))


class StaticEmbedder(BaseEmbedder):
    """model2vec embeddings distilled from ``teacher_path`` (default: the bundled MiniLM).

    ``model_path`` loads an already distilled model2vec directory instead; otherwise the
    distillation (~10-20 s, offline) runs once and is cached under ``cache_dir``.
    ``pca_dims`` is the output dimension of a fresh distillation.
    """

    name = "static"
    min_batch_size = 4096
    #: Part of ``version``: bump when the pooling arithmetic changes.
    _POOLING = "wordsum32"

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
        self._table: NDArray[np.float32] | None = None
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
            self._version = f"{model_fingerprint(self.resolved_path)[:16]}-{self._POOLING}"
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

    def _encode_exact(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self._model.encode(
            texts, batch_size=max(len(texts), 1), show_progress_bar=False, use_multiprocessing=False
        )
        return l2_normalize(vectors)

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        model = self._model
        if model.token_mapping is not None or model.weights is not None:
            return self._encode_exact(texts)
        if self._table is None:
            self._table = np.asarray(model.embedding, dtype=np.float32)
        # Texts x distinct words (counts), as CSR built straight from index lists.
        vocab: dict[str, int] = {}
        columns: list[int] = []
        indptr = [0]
        for text in texts:
            words = text.translate(_DELETED_CONTROLS).split()
            columns.extend(vocab.setdefault(word, len(vocab)) for word in words)
            indptr.append(len(columns))
        unk = model.unk_token_id
        word_ids = [
            [i for i in enc.ids if i != unk] if unk is not None else enc.ids
            for enc in model.tokenizer.encode_batch_fast(list(vocab), add_special_tokens=False)
        ]
        n_words = len(word_ids)
        word_len = np.fromiter((len(ids) for ids in word_ids), dtype=np.int64, count=n_words)
        word_ptr = np.concatenate(([0], np.cumsum(word_len)))
        flat = np.fromiter(
            (i for ids in word_ids for i in ids), dtype=np.int64, count=int(word_ptr[-1])
        )
        words = sp.csr_matrix(
            (np.ones(len(flat), dtype=np.float32), flat, word_ptr),
            shape=(n_words, self._table.shape[0]),
        )
        docs = sp.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), np.asarray(columns, dtype=np.int64), indptr),
            shape=(len(texts), n_words),
        )
        sums = np.asarray(docs @ (words @ self._table), dtype=np.float32)
        n_tokens = docs @ word_len.astype(np.float32)
        out = np.divide(sums, np.maximum(n_tokens, 1.0)[:, None], dtype=np.float32)
        limit = model.max_length
        if limit is not None:
            too_long = np.flatnonzero(n_tokens > limit)
            if len(too_long):
                out[too_long] = self._encode_exact([texts[i] for i in too_long])
        return l2_normalize(out)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        state["_table"] = None
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
