"""A local 2-CPU Ray for the modules that ask for it (``pytestmark``), shut down after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import ray

    from topicstrata.raycluster import connect

    connect(num_cpus=2)
    yield
    ray.shutdown()
