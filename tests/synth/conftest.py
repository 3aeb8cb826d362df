"""A shared sample of synthetic opportunities (generation takes well under a second)."""

from __future__ import annotations

import pandas as pd
import pytest

from topicstrata.synth import make_opportunities


@pytest.fixture(scope="package")
def sample() -> pd.DataFrame:
    return make_opportunities(5000, seed=0)
