"""The seeded row sample a layer model learns from, shared by the embed step.

One function so that the large-input path's teacher sample (``embed.sampled``) and the
first layer's fit sample (``layers.model``) are the same rows for the same seed: the
first layer then learns from teacher vectors only, exactly as on the all-teacher path.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["seeded_rows"]


def seeded_rows(n: int, size: int, seed: int) -> NDArray[np.intp]:
    """``min(n, size)`` sorted row indices of ``range(n)``: all of them, or a seeded
    random choice without replacement."""
    if size >= n:
        return np.arange(n, dtype=np.intp)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size, replace=False)).astype(np.intp)
