"""``minilm-onnx``: MiniLM exported once to ONNX and run with onnxruntime.

The exported graph includes mean pooling and L2 normalization, so a session returns
sentence embeddings directly and serving needs neither torch nor transformers once the
file exists. The export is written under the cache dir, keyed by the model's fingerprint,
atomically (temp file, then rename), and reused by every later process.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from topicstrata.embed._paths import (
    bundled_minilm_path,
    cache_root,
    model_fingerprint,
)
from topicstrata.embed.base import BaseEmbedder, l2_normalize
from topicstrata.embed.minilm import MINILM_MAX_TOKENS
from topicstrata.errors import DependencyError, ModelError
from topicstrata.fanout import available_cpus

logger = logging.getLogger(__name__)

__all__ = ["OnnxMiniLMEmbedder", "export_onnx"]

OPSET = 17
# Bump when the exported graph changes (inputs, pooling, opset): it is part of `version`.
EXPORT_REVISION = 1
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxMiniLMEmbedder(BaseEmbedder):
    """MiniLM on onnxruntime: the same embeddings as ``minilm`` (cosine > 0.999), faster on CPU.

    ``cache_dir`` holds the exported ``model.onnx`` (default: the user cache dir, or
    ``$TOPICSTRATA_CACHE_DIR``). ``num_threads`` sets onnxruntime's intra-op threads;
    ``None`` uses the CPUs this process may run on.
    """

    name = "minilm-onnx"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        num_threads: int | None = None,
        max_tokens: int = MINILM_MAX_TOKENS,
    ) -> None:
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.num_threads = num_threads
        self.max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._fingerprint: str | None = None
        self._dim: int | None = None

    @property
    def resolved_path(self) -> Path:
        return Path(self.model_path) if self.model_path is not None else bundled_minilm_path()

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.resolved_path)
        return self._fingerprint

    @property
    def version(self) -> str:
        return f"{self.fingerprint[:16]}-r{EXPORT_REVISION}-t{self.max_tokens}"

    @property
    def onnx_path(self) -> Path:
        """Where the exported graph for this model lives in the cache."""
        return (
            cache_root(self.cache_dir)
            / "models"
            / "minilm-onnx"
            / f"{self.fingerprint[:16]}-r{EXPORT_REVISION}"
            / "model.onnx"
        )

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._prepare()
        assert self._dim is not None
        return self._dim

    def _prepare(self) -> None:
        if self._session is not None:
            return
        path = self.onnx_path
        if not path.exists():
            export_onnx(self.resolved_path, path)
        try:
            self._session = _open_session(path, self.num_threads)
        except ModelError as exc:
            logger.warning("%s; exporting %s again", exc, path)
            export_onnx(self.resolved_path, path)
            self._session = _open_session(path, self.num_threads)
        self._tokenizer = _load_tokenizer(self.resolved_path, self.max_tokens)
        self._dim = int(self._session.get_outputs()[0].shape[-1])

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (vectors,) = self._session.run(None, feed)
        return l2_normalize(vectors)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = None
        state["_tokenizer"] = None
        return state


def export_onnx(model_dir: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Export a BERT-style sentence-transformers model to ONNX with mean pooling and L2
    normalization in the graph; returns the path written (atomically)."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise DependencyError(
            "exporting MiniLM to ONNX needs torch and transformers (only once: the exported "
            "file is cached); install them or copy a cached model.onnx into the cache dir."
        ) from exc

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to ONNX at %s (once)", model_dir, target)
    # Eager attention traces to plain MatMul/Softmax; the SDPA path branches on the mask's
    # values, which a trace would freeze.
    transformer = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager"
    ).eval()
    pooled = _MeanPooled(transformer)
    # A padded second row, so no "mask is all ones" shortcut is traced into the graph.
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 1012, 102]] * 2, dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    dummy = (ids, mask, torch.zeros_like(ids))
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    axes["embedding"] = {0: "batch"}
    fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            # The legacy exporter's deprecation notice and the tracer's notes on shape-based
            # branches are expected here; the graph is checked against torch in the tests.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*aten::index.*", category=UserWarning)
            torch.onnx.export(
                pooled,
                dummy,
                tmp,
                input_names=list(_INPUTS),
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _mean_pooled_module() -> type:
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            mean = summed / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return MeanPooled


def _MeanPooled(transformer: Any) -> Any:
    return _mean_pooled_module()(transformer)


def _open_session(path: Path, num_threads: int | None) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise DependencyError(
            "the 'minilm-onnx' embedder needs onnxruntime; `pip install onnxruntime`, "
            "or use the 'minilm' embedder."
        ) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or available_cpus()
    options.inter_op_num_threads = 1
    # onnxruntime's pool busy-waits after each run by default. On a few cores those
    # spinning threads take the CPU from whatever runs next in the process (UMAP,
    # BIRCH, torch, the server), so one record predicted after an embedding took 39 ms at
    # p50 with spinning and 29 ms without (bench/serve.py's records, 2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors on a bad file
        raise ModelError(f"cannot open the exported ONNX model {path}: {exc}") from exc


def _load_tokenizer(model_dir: Path, max_tokens: int) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - comes with transformers
        raise DependencyError("the 'minilm-onnx' embedder needs `tokenizers`.") from exc
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # sentence-transformers truncates at max_seq_length and pads to the batch's longest text.
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer
