"""Fixtures for the embed tests: models load once per session, caches live in tmp dirs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from topicstrata._progress import ProgressCallback
from topicstrata.embed import MiniLMEmbedder, OnnxMiniLMEmbedder, l2_normalize


class CountingEmbedder:
    """A deterministic fake: vectors from each text's hash; records every text it encodes."""

    name = "counting"
    version = "1"
    dim = 8

    def __init__(self) -> None:
        self.encoded: list[str] = []
        self.calls = 0

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        self.calls += 1
        self.encoded.extend(texts)
        rows = [
            np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[: self.dim]
            for t in texts
        ]
        out = l2_normalize(np.array(rows, dtype=np.float32).reshape(-1, self.dim) + 1)
        for start in range(0, len(texts), batch_size):
            if progress is not None:
                progress("embed", min(start + batch_size, len(texts)), len(texts))
        return out


@pytest.fixture
def counting() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache dir for the session, so the ONNX export happens once."""
    return tmp_path_factory.mktemp("topicstrata-cache")


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.encode(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def minilm_onnx(session_cache: Path) -> OnnxMiniLMEmbedder:
    embedder = OnnxMiniLMEmbedder(cache_dir=session_cache)
    embedder.encode(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def tiny_static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model2vec model built from MiniLM's tokenizer and input embeddings.

    Real distillation takes 10-30 s (covered by a slow test); this exercises the same
    loading and encoding path in well under a second.
    """
    from model2vec import StaticModel
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from topicstrata.embed._paths import bundled_minilm_path

    root = bundled_minilm_path()
    weights = load_file(str(root / "model.safetensors"))
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    model = StaticModel(vectors=weights[key].astype(np.float32), tokenizer=tokenizer)
    target = tmp_path_factory.mktemp("static") / "tiny"
    model.save_pretrained(str(target))
    return target
