"""Generated records: schema, determinism, correlations, dirt and noise rates."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from topicstrata.errors import ConfigError
from topicstrata.io import schema
from topicstrata.synth import SCHEMA, generate_opportunities, make_opportunities
from topicstrata.synth._dirt import pad, recase, typos


def _table(rows: int, seed: int, batch_rows: int = 50_000) -> pa.Table:
    return pa.Table.from_batches(list(generate_opportunities(rows, seed, batch_rows)), SCHEMA)


def test_columns_match_the_io_schema() -> None:
    expected = [
        schema.ID,
        *schema.OPPORTUNITY_TEXT_FIELDS,
        schema.INDUSTRY,
        schema.AMOUNT,
        schema.TERM_MONTHS,
        schema.CLOSE_DATE,
        *schema.TRUTH_LEVELS,
    ]
    assert SCHEMA.names == expected


def test_batches_are_typed_and_sized() -> None:
    batches = list(generate_opportunities(1050, seed=0, batch_rows=500))
    assert [b.num_rows for b in batches] == [500, 500, 50]
    for b in batches:
        assert b.schema == SCHEMA
    table = pa.Table.from_batches(batches)
    assert table.column("amount").type == pa.float64()
    assert table.column("term_months").type == pa.int64()
    assert table.column("id").null_count == 0
    assert table.column("details").null_count == 0


def test_same_seed_same_records_other_seed_other_records() -> None:
    a, b, c = _table(2000, 7, 700), _table(2000, 7, 700), _table(2000, 8, 700)
    assert a.equals(b)
    assert not a.column("details").equals(c.column("details"))
    assert a.column("id").equals(c.column("id"))


def test_more_rows_extend_a_shorter_run_batch_by_batch() -> None:
    short, long = _table(800, 3, 400), _table(2000, 3, 400)
    assert long.slice(0, 800).equals(short)


def test_ids_unique_and_formatted(sample: pd.DataFrame) -> None:
    assert sample["id"].is_unique
    assert sample["id"].iloc[0] == "OPP-0000000"
    assert sample["id"].str.fullmatch(r"OPP-\d{7}").all()


def test_metadata_values(sample: pd.DataFrame) -> None:
    assert sample["industry"].nunique() == 10
    assert set(sample["term_months"]) <= {12, 24, 36, 48, 60}
    assert (sample["amount"] >= 1000).all()
    dates = pd.to_datetime(sample["close_date"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2022-01-01")
    assert dates.max() <= pd.Timestamp("2025-12-31")


def test_metadata_correlates_with_use_case(sample: pd.DataFrame) -> None:
    median = sample.groupby("true_l1")["amount"].median()
    assert median["Cloud Migration"] > 3 * median["HR & Workforce Management"]
    banking = sample["industry"].eq("Banking & Capital Markets").groupby(sample["true_l1"]).mean()
    assert banking["Fraud & Risk Analytics"] > 2 * banking["HR & Workforce Management"]
    # ...but does not determine it: every use case sells into every industry.
    assert (pd.crosstab(sample["true_l1"], sample["industry"]) > 0).all().all()


def test_product_group_mostly_follows_use_case(sample: pd.DataFrame) -> None:
    top_share = sample.groupby("true_l1")["product_group"].agg(
        lambda s: s.value_counts(normalize=True).iloc[0]
    )
    assert top_share.between(0.85, 0.99).all()
    assert sample.groupby("true_l1")["product_group"].agg(lambda s: s.mode()[0]).is_unique


def _share(text: pd.Series, pattern: str) -> float:
    return float(text.str.contains(pattern, regex=True, flags=re.IGNORECASE).mean())


@pytest.mark.parametrize(
    ("column", "pattern", "low", "high"),
    [
        ("details", r"https?://|www\.", 0.15, 0.35),
        ("details", r"[\w.]+@[\w-]+\.[a-z]", 0.2, 0.5),
        ("details", r"opportunity details:|summary:|details -", 0.35, 0.7),
        ("details", r"next steps", 0.3, 0.6),
        ("customer_needs", r"customer needs:|needs:|business need", 0.3, 0.7),
        ("all", r"\b(?:they're|won't|can't|don't|didn't|we'll|they've|it's|doesn't)\b", 0.4, 0.9),
        ("all", r"\n", 0.15, 0.5),
        ("all", r"  ", 0.05, 0.35),
        ("details", r"^\s|\s$", 0.02, 0.12),
    ],
)
def test_dirty_features_at_expected_rates(
    sample: pd.DataFrame, column: str, pattern: str, low: float, high: float
) -> None:
    if column == "all":
        cols = ["opportunity_name", "details", "customer_needs", "product_specifics"]
        text = sample[cols].fillna("").agg(" ".join, axis=1)
    else:
        text = sample[column].fillna("")
    assert low <= _share(text, pattern) <= high


def test_noise_rates(sample: pd.DataFrame) -> None:
    vague = sample["details"].str.contains(
        "details to come|platform discussion|no clear use case|placeholder|See email from",
        case=False,
    )
    assert 0.015 <= vague.mean() <= 0.05
    assert 0 < sample["customer_needs"].isna().mean() < 0.02
    name = sample["opportunity_name"].str.strip()
    assert 0.01 <= (name == name.str.upper()).mean() <= 0.06


def test_shared_sales_vocabulary_crosses_use_cases(sample: pd.DataFrame) -> None:
    text = sample["details"].str.lower()
    for word in ("platform", "integration", "licenses", "rollout"):
        per_use_case = text.str.contains(word).groupby(sample["true_l1"]).mean()
        assert (per_use_case > 0.02).all(), word


def test_dirt_helpers_touch_only_present_values() -> None:
    rng = np.random.default_rng(0)
    values = np.array(["hello world", None, "abc"], dtype=object)
    swapped = typos(values, rng, 1.0)
    assert swapped[0] != "hello world" and sorted(swapped[0]) == sorted("hello world")
    assert swapped[1] is None and swapped[2] == "abc"
    assert recase(values, rng, 1.0, str.upper)[0] == "HELLO WORLD"
    padded = pad(values, rng, 1.0)
    assert padded[0] != "hello world" and padded[0].strip() == "hello world"
    assert padded[1] is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rows": -1}, "rows"),
        ({"rows": 10, "seed": -3}, "seed"),
        ({"rows": 10, "batch_rows": 0}, "batch_rows"),
        ({"rows": 2.5}, "rows"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        generate_opportunities(**kwargs)  # type: ignore[arg-type]


def test_zero_rows() -> None:
    assert list(generate_opportunities(0)) == []
    assert make_opportunities(0).columns.tolist() == SCHEMA.names
