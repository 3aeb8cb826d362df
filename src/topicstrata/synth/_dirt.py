"""Make clean generated text look like a real CRM export: typos, case, whitespace.

Each function touches a random share of rows and leaves missing values
(``None``) alone. Only the touched rows go through Python, so the cost is
proportional to the rate, not the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from topicstrata.synth._render import ObjectArray


def _selected(values: ObjectArray, rng: np.random.Generator, rate: float) -> NDArray[np.intp]:
    hit = rng.random(values.size) < rate
    return np.flatnonzero(hit & (values != None))  # noqa: E711 - elementwise on objects


def _swap_letters(text: str, u: float) -> str:
    """Swap two adjacent letters near relative position ``u``, as a fast typist does."""
    if len(text) < 4:
        return text
    i = int(u * (len(text) - 2))
    for j in range(i, len(text) - 1):
        if text[j].isalpha() and text[j + 1].isalpha() and text[j] != text[j + 1]:
            return text[:j] + text[j + 1] + text[j] + text[j + 2 :]
    return text


def typos(values: ObjectArray, rng: np.random.Generator, rate: float) -> ObjectArray:
    """Swap two adjacent letters in a ``rate`` share of rows."""
    idx = _selected(values, rng, rate)
    u = rng.random(idx.size)
    out = values.copy()
    out[idx] = [_swap_letters(s, float(x)) for s, x in zip(values[idx], u, strict=True)]
    return out


def recase(
    values: ObjectArray, rng: np.random.Generator, rate: float, fn: Callable[[str], str]
) -> ObjectArray:
    """Apply ``str.upper``/``str.lower`` (``fn``) to a ``rate`` share of rows."""
    idx = _selected(values, rng, rate)
    out = values.copy()
    out[idx] = [fn(s) for s in values[idx]]
    return out


_PADDING = np.array(["", " ", "  ", "\t", "\n"], dtype=object)


def pad(values: ObjectArray, rng: np.random.Generator, rate: float) -> ObjectArray:
    """Add stray leading/trailing whitespace to a ``rate`` share of rows."""
    idx = _selected(values, rng, rate)
    lead = _PADDING[rng.integers(0, 3, idx.size)]
    trail = _PADDING[rng.integers(1, _PADDING.size, idx.size)]
    out = values.copy()
    out[idx] = lead + values[idx] + trail
    return out
