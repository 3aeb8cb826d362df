"""Fingerprints for cache keys: a function's code and a value's content.

A cache key must change whenever a step's output could change and stay put
otherwise. Code is hashed from its source with docstrings and comments
stripped, so rewording documentation keeps the cache. Values are hashed by a
``singledispatch`` function, one implementation per type; a value we cannot
fingerprint gets a random suffix so it never produces a false cache hit (it
only costs a recomputation).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import logging
import math
import textwrap
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "hash_bytes",
    "hash_file",
    "hash_source_code",
    "hash_value",
    "stable_hash",
    "strip_source",
]


def hash_bytes(data: bytes) -> str:
    """The sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def hash_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """The sha256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def stable_hash(obj: Any) -> str:
    """sha256 of a JSON document built from plain values (keys sorted)."""
    return hash_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


_WITH_DOCSTRING = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def strip_source(source: str | ast.Module) -> str:
    """``source`` without docstrings, comments and formatting (parsed, then unparsed).

    Documentation edits must not invalidate a cache that can take an hour to
    rebuild. A parsed module is stripped in place. Source that does not parse
    is returned unchanged.
    """
    if isinstance(source, str):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return source
    else:
        tree = source
    for node in ast.walk(tree):
        if isinstance(node, _WITH_DOCSTRING):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def hash_source_code(fn: Callable[..., Any], strip: bool = True) -> str:
    """Hash a function's source code, optionally ignoring docstrings and comments.

    With ``strip`` the source goes through :func:`strip_source`, so rewording
    documentation keeps the cache. Functions called by ``fn`` are not followed
    here: a step's cache key adds the code fingerprint of the modules it covers
    (``topicstrata.pipeline.codebase``). When no source is available
    (builtins, C extensions) the qualified name stands in for it.
    """
    if isinstance(fn, functools.partial):
        inner = hash_source_code(fn.func, strip=strip)
        return stable_hash(["partial", inner, hash_value(list(fn.args)), hash_value(fn.keywords)])
    target = inspect.unwrap(fn)
    try:
        source = textwrap.dedent(inspect.getsource(target))
    except (OSError, TypeError):
        module = getattr(target, "__module__", "?")
        name = f"{module}.{getattr(target, '__qualname__', repr(target))}"
        return stable_hash(["nosource", name])
    if strip:
        # A lambda's getsource returns the whole enclosing line, which may not parse alone.
        source = strip_source(source)
    return hash_bytes(source.encode())


def _random_suffix(value: Any) -> str:
    logger.debug("no stable fingerprint for %s; it will never give a cache hit", type(value))
    return f"unhashable-{type(value).__qualname__}-{uuid.uuid4().hex}"


@functools.singledispatch
def hash_value(value: Any) -> str:
    """A content fingerprint of ``value`` for cache keys.

    Unknown types get a random suffix: never a false hit, only a miss.
    Register more types with ``@hash_value.register``.
    """
    return _fallback(value)


def _fallback(value: Any) -> str:
    module = type(value).__module__
    if module.startswith("pandas"):
        return _hash_pandas(value)
    if module == "numpy" or module.startswith("numpy."):
        return _hash_numpy(value)
    if hasattr(value, "model_dump_json") and hasattr(type(value), "model_fields"):
        kind = f"{module}.{type(value).__qualname__}"
        return stable_hash(["pydantic", kind, value.model_dump_json()])
    if callable(value) and hasattr(value, "__code__"):
        return stable_hash(["code", hash_source_code(value)])
    return _random_suffix(value)


@hash_value.register(type(None))
def _(value: None) -> str:
    return stable_hash(["none"])


@hash_value.register(bool)
def _(value: bool) -> str:
    return stable_hash(["bool", value])


@hash_value.register(int)
def _(value: int) -> str:
    return stable_hash(["int", str(value)])


@hash_value.register(float)
def _(value: float) -> str:
    return stable_hash(["float", repr(value) if not math.isnan(value) else "nan"])


@hash_value.register(str)
def _(value: str) -> str:
    return stable_hash(["str", value])


@hash_value.register(bytes)
def _(value: bytes) -> str:
    return stable_hash(["bytes", hash_bytes(value)])


@hash_value.register(list)
@hash_value.register(tuple)
def _(value: list[Any] | tuple[Any, ...]) -> str:
    return stable_hash([type(value).__name__, [hash_value(item) for item in value]])


@hash_value.register(set)
@hash_value.register(frozenset)
def _(value: set[Any] | frozenset[Any]) -> str:
    return stable_hash(["set", sorted(hash_value(item) for item in value)])


@hash_value.register(dict)
def _(value: Mapping[Any, Any]) -> str:
    items = [[hash_value(key), hash_value(item)] for key, item in value.items()]
    return stable_hash(["dict", items])


@hash_value.register(Path)
def _(value: Path) -> str:
    return stable_hash(["path", str(value), hash_path_content(value)])


def hash_path_content(path: Path) -> str:
    """Hash a file, or every file under a directory, so edits in place change the key."""
    if path.is_file():
        return hash_file(path)
    if path.is_dir():
        parts = [
            [str(child.relative_to(path)), hash_file(child)]
            for child in sorted(path.rglob("*"))
            if child.is_file()
        ]
        return stable_hash(["dir", parts])
    return stable_hash(["missing"])


def _hash_numpy(value: Any) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return _random_suffix(value)
        # The buffer itself, not a tobytes() copy: a million embeddings are 1.5 GB.
        data = np.ascontiguousarray(value)
        digest = hashlib.sha256(data.reshape(-1).data).hexdigest()
        return stable_hash(["ndarray", str(value.dtype), list(value.shape), digest])
    if isinstance(value, np.generic):
        return stable_hash(["npscalar", str(value.dtype), repr(value.item())])
    return _random_suffix(value)


def _hash_pandas(value: Any) -> str:
    import pandas as pd

    try:
        if isinstance(value, pd.DataFrame):
            rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
            meta = [list(map(str, value.columns)), [str(t) for t in value.dtypes]]
            return stable_hash(["dataframe", meta, hash_bytes(rows.tobytes())])
        if isinstance(value, pd.Series):
            rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
            kind = [str(value.name), str(value.dtype)]
            return stable_hash(["series", kind, hash_bytes(rows.tobytes())])
    except TypeError:
        pass
    return _random_suffix(value)
