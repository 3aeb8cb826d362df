"""Analytics tables and CSVs agree with the records: the input's industry, the revenue."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from topicstrata.io.schema import ANNUALIZED_REVENUE


@pytest.fixture(scope="module")
def joined(studio_root) -> pd.DataFrame:
    """Assignments joined with the input file's own industry column, on id."""
    assignments = pd.read_parquet(studio_root.run_dir / "assignments.parquet")
    source = pd.read_parquet(studio_root.data, columns=["id", "industry"])
    frame = assignments.drop(columns=["industry"]).merge(source, on="id", how="left")
    assert len(frame) == len(assignments)
    return frame


def _csv(client, run_id: str, table: str, **params) -> pd.DataFrame:
    response = client.get(f"/runs/{run_id}/analytics/{table}.csv", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return pd.read_csv(io.StringIO(response.text), dtype={"use_case": str})


@pytest.mark.parametrize("level", [1, 2])
def test_industry_csv_counts_equal_the_records(client, studio_root, joined, level):
    table = _csv(client, studio_root.succeeded, "industry", level=level)
    expected = pd.crosstab(joined[f"path_l{level}"].astype(str), joined["industry"])
    assert sorted(table["use_case"]) == sorted(expected.index)
    got = table.set_index("use_case")
    for use_case, counts in expected.iterrows():
        for industry, n in counts.items():
            assert got.loc[use_case, industry] == n, (use_case, industry)
        assert got.loc[use_case, "total"] == counts.sum()
    assert got["total"].sum() == len(joined)


def test_revenue_band_csv_counts_each_record_once_in_its_band(client, studio_root, joined):
    table = _csv(client, studio_root.succeeded, "revenue-bands", level=1, bands="100000,300000")
    assert list(table.columns[2:]) == ["< 100k", "100k – 300k", ">= 300k", "total"]
    revenue = joined[ANNUALIZED_REVENUE]
    assert table["< 100k"].sum() == (revenue < 100_000).sum()
    assert table[">= 300k"].sum() == (revenue >= 300_000).sum()
    assert table["total"].sum() == len(joined)


def test_top_revenue_csv_sums_and_medians(client, studio_root, joined):
    table = _csv(client, studio_root.succeeded, "top-revenue", level=1)
    grouped = joined.groupby(joined["path_l1"].astype(str))[ANNUALIZED_REVENUE]
    got = table.set_index("use_case")
    for use_case, total in grouped.sum().items():
        assert got.loc[use_case, "revenue_sum"] == pytest.approx(total)
        assert got.loc[use_case, "revenue_median"] == pytest.approx(grouped.median()[use_case])
    assert list(table["revenue_sum"]) == sorted(table["revenue_sum"], reverse=True)
    assert table["revenue_share"].sum() == pytest.approx(1.0)


def test_analytics_page_shows_the_tables_and_heatmap(client, studio_root, joined):
    page = client.get(f"/runs/{studio_root.succeeded}/analytics", params={"level": 2})
    assert page.status_code == 200
    for table_id in ("industry-table", "revenue-bands-table", "top-revenue-table"):
        assert f'id="{table_id}"' in page.text
    assert 'id="industry-heatmap"' in page.text
    assert "industry.csv?level=2" in page.text


def test_tables_page(client, studio_root, joined):
    page = client.get(
        f"/runs/{studio_root.succeeded}/analytics", params={"level": 2, "per_page": 2}
    )
    n_topics = joined["path_l2"].nunique()
    assert f"Page 1 of {-(-n_topics // 2)}" in page.text
    body = page.text.split('id="top-revenue-table"')[1].split("</table>")[0]
    assert body.count("<tr>") == 3  # header and two rows


@pytest.mark.parametrize(
    ("params", "named"),
    [({"level": 7}, "level"), ({"bands": "5,1"}, "bands"), ({"level": "x"}, "level")],
)
def test_bad_parameters_are_422_pages_naming_them(client, studio_root, params, named):
    page = client.get(f"/runs/{studio_root.succeeded}/analytics", params=params)
    assert page.status_code == 422
    assert named in page.text
    assert "Traceback" not in page.text


def test_unknown_table_is_a_404(client, studio_root):
    page = client.get(f"/runs/{studio_root.succeeded}/analytics/nothing.csv")
    assert page.status_code == 404
    assert "industry" in page.text
