"""One thread for the numeric libraries while a handful of rows is routed.

Routing a record down the tree after its embedding touches four thread pools: the BLAS
behind numpy (the neighbour search, centroid similarities), numba's (UMAP's transform),
torch's (the neighbour top-k) and onnxruntime's (the embedding, set apart with its own
options). Each pool starts its threads for work that takes microseconds on one row, and
the BLAS and OpenMP pools busy-wait after it: on 2 cores they took the CPU from each
other and from the next request. Measured on one-record predictions of the 20k-record
``bench/serve.py`` model, in process: p50 33 ms and p99 132 ms with every pool on both
cores, 24-26 ms and 32-39 ms with these pools at one thread.

``threadpoolctl`` (scikit-learn's) sets the BLAS and OpenMP libraries; numba's count is
set through numba, per calling thread. Nothing here is written by hand that those do.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["SMALL_BATCH_ROWS", "single_threaded_for"]

#: Up to this many rows, routing runs on one thread (a request's worth of records);
#: above it, the libraries keep their own thread counts.
SMALL_BATCH_ROWS = 256


@functools.cache
def _controller() -> Any:
    # Built once: listing the loaded libraries walks the process's shared objects
    # (~1 ms); torch is imported first so its OpenMP runtime is in the list.
    from threadpoolctl import ThreadpoolController

    with contextlib.suppress(ImportError):  # loaded for the exact neighbour search anyway
        import torch  # noqa: F401

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_for(n_rows: int) -> Iterator[None]:
    """Run the block on one thread per library when ``n_rows`` is a small batch."""
    if n_rows > SMALL_BATCH_ROWS:
        yield
        return
    numba = sys.modules.get("numba")  # UMAP has imported it if a UMAP model is loaded
    previous = numba.get_num_threads() if numba is not None else None
    with _controller().limit(limits=1):
        if numba is not None:
            numba.set_num_threads(1)
        try:
            yield
        finally:
            if numba is not None:
                numba.set_num_threads(previous)
