"""Generate synthetic CRM opportunities in seeded, vectorized batches.

Batch ``b`` draws from its own generator, seeded by ``(seed, b)``: output is a
pure function of ``(rows, seed, batch_rows)``, and a longer run starts with
the same whole batches as a shorter one (a final partial batch differs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cache
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from topicstrata.errors import ConfigError
from topicstrata.io.schema import (
    AMOUNT,
    CLOSE_DATE,
    ID,
    INDUSTRY,
    OPPORTUNITY_TEXT_FIELDS,
    TERM_MONTHS,
    TRUTH_LEVELS,
)
from topicstrata.synth import _vocab as v
from topicstrata.synth._catalog import INDUSTRIES
from topicstrata.synth._dirt import pad, recase, typos
from topicstrata.synth._render import ObjectArray, choose, pick, render
from topicstrata.synth._tree import tables

logger = logging.getLogger(__name__)

TEXT_FIELDS: Final = OPPORTUNITY_TEXT_FIELDS

SCHEMA: Final = pa.schema(
    [pa.field(ID, pa.string(), nullable=False)]
    + [pa.field(name, pa.string()) for name in TEXT_FIELDS]
    + [
        pa.field(INDUSTRY, pa.string()),
        pa.field(AMOUNT, pa.float64()),
        pa.field(TERM_MONTHS, pa.int64()),
        pa.field(CLOSE_DATE, pa.string()),
    ]
    + [pa.field(name, pa.string(), nullable=False) for name in TRUTH_LEVELS]
)

# Shares of records with each kind of noise.
VAGUE_SHARE: Final = 0.03  # no use-case text at all
SIBLING_SHARE: Final = 0.2  # the second leaf phrase comes from a sibling leaf
GENERIC_PRODUCT_SHARE: Final = 0.06
OTHER_GROUP_SHARE: Final = 0.07
TYPO_SHARE: Final = 0.05
UPPER_NAME_SHARE: Final = 0.03
LOWER_DETAILS_SHARE: Final = 0.02
PAD_SHARE: Final = 0.05

TERMS: Final = np.array([12, 24, 36, 48, 60], dtype=np.int64)
TERM_P: Final = np.array([0.35, 0.2, 0.3, 0.05, 0.1])
AMOUNT_SIGMA: Final = 0.8
FIRST_CLOSE: Final = np.datetime64("2022-01-01")
CLOSE_DAYS: Final = 4 * 365 + 1


@cache
def _companies() -> tuple[ObjectArray, ObjectArray, ObjectArray]:
    """Company names with their web domain and a URL slug (shared by one stem)."""
    names, domains, slugs = [], [], []
    for i, stem in enumerate(v.COMPANY_STEMS):
        slug = stem.lower()
        for suffix in v.COMPANY_SUFFIXES:
            names.append(f"{stem} {suffix}")
            domains.append(slug + v.TLDS[i % len(v.TLDS)])
            slugs.append(slug)
    return (
        np.array(names, dtype=object),
        np.array(domains, dtype=object),
        np.array(slugs, dtype=object),
    )


@cache
def _tokens() -> ObjectArray:
    """Document ids for URLs; fixed, so they add no run-to-run variation of their own."""
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    return np.array(["".join(rng.choice(alphabet, 12)) for _ in range(997)], dtype=object)


def _lower_ascii(values: tuple[str, ...]) -> ObjectArray:
    return np.array([s.lower().replace("'", "") for s in values], dtype=object)


def _record_fields(
    rng: np.random.Generator, n: int, l1: NDArray[np.intp]
) -> dict[str, ObjectArray]:
    """Who and where: company, contact, industry and sales small talk."""
    names, domains, slugs = _companies()
    company = rng.integers(0, names.size, n)
    first = rng.integers(0, len(v.FIRST_NAMES), n)
    last = rng.integers(0, len(v.LAST_NAMES), n)
    first_names = np.array(v.FIRST_NAMES, dtype=object)[first]
    last_names = np.array(v.LAST_NAMES, dtype=object)[last]
    industry_cdf = np.cumsum(tables().industry_p, axis=1)[l1]
    industry = np.minimum((rng.random(n)[:, None] >= industry_cdf).sum(axis=1), len(INDUSTRIES) - 1)
    industries = np.array(INDUSTRIES, dtype=object)[industry]
    f: dict[str, ObjectArray] = {
        "company": names[company],
        "domain": domains[company],
        "slug": slugs[company],
        "industry": industries,
        "industry_lc": np.array([s.lower() for s in INDUSTRIES], dtype=object)[industry],
        "first": first_names,
        "last": last_names,
        "person": first_names + " " + last_names,
        "first_lc": _lower_ascii(v.FIRST_NAMES)[first],
        "last_lc": _lower_ascii(v.LAST_NAMES)[last],
        "initial": _lower_ascii(tuple(s[0] for s in v.FIRST_NAMES))[first],
        "title": pick(rng, v.TITLES, n),
        "dept": pick(rng, v.DEPARTMENTS, n),
        "system": pick(rng, v.SYSTEMS, n),
        "competitor": pick(rng, v.COMPETITORS, n),
        "seats": pick(rng, v.SEATS, n),
        "sites": pick(rng, v.SITES, n),
        "fy": pick(rng, v.FISCAL_YEARS, n),
        "quarter": pick(rng, v.QUARTERS, n),
        "month": pick(rng, v.MONTHS, n),
        "deal_type": pick(rng, v.DEAL_TYPES, n),
        "token": _tokens()[rng.integers(0, _tokens().size, n)],
        "sep": render(v.SEPARATORS, rng, n, {}),
    }
    f["email"] = render(v.EMAIL, rng, n, f)
    return f


def _use_case_fields(
    rng: np.random.Generator, n: int, leaf: NDArray[np.intp]
) -> dict[str, ObjectArray]:
    """What the record is about: phrases of its leaf, branch and use case."""
    t = tables()
    l2, l1 = t.leaf_l2[leaf], t.leaf_l1[leaf]
    first = t.leaf_phrases.local(rng, leaf)
    # A second phrase of the same leaf, never the first one again.
    shift = 1 + (rng.random(n) * (t.leaf_phrases.count[leaf] - 1)).astype(np.intp)
    leaf2 = t.leaf_phrases.take(leaf, first + shift)
    borrow = np.flatnonzero(rng.random(n) < SIBLING_SHARE)
    sibling = t.siblings.take(leaf[borrow], t.siblings.local(rng, leaf[borrow])).astype(np.intp)
    leaf2[borrow] = t.leaf_phrases.take(sibling, t.leaf_phrases.local(rng, sibling))
    other = (l1 + rng.integers(1, t.l1_labels.size, n)) % t.l1_labels.size
    return {
        "leaf1": t.leaf_phrases.take(leaf, first),
        "leaf2": leaf2,
        "leaf_name": t.leaf_names[leaf],
        "l2p": t.l2_phrases.take(l2, t.l2_phrases.local(rng, l2)),
        "l2_name": t.l2_names[l2],
        "l1p": t.l1_phrases.take(l1, t.l1_phrases.local(rng, l1)),
        "pain": t.l1_pains.take(l1, t.l1_pains.local(rng, l1)),
        "product": t.l2_products.take(l2, t.l2_products.local(rng, l2)),
        "other": t.l1_cross.take(other, t.l1_cross.local(rng, other)),
    }


def _concat(*parts: ObjectArray) -> ObjectArray:
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def _texts(
    rng: np.random.Generator, n: int, l1: NDArray[np.intp], f: dict[str, ObjectArray]
) -> dict[str, ObjectArray]:
    details = _concat(
        *(
            render(part, rng, n, f)
            for part in (
                v.DETAILS_HEADER,
                v.DETAILS_CONTEXT,
                v.DETAILS_LEAF,
                v.DETAILS_PAIN,
                v.DETAILS_GENERIC,
                v.DETAILS_CROSS,
                v.DETAILS_CONTACT,
                v.DETAILS_NEXT_STEPS,
                v.DETAILS_URL,
            )
        )
    )
    needs = _concat(*(render(p, rng, n, f) for p in (v.NEEDS_HEADER, v.NEEDS_MAIN, v.NEEDS_EXTRA)))
    product = render(v.PRODUCT_NAME, rng, n, f)
    generic = np.flatnonzero(rng.random(n) < GENERIC_PRODUCT_SHARE)
    product[generic] = pick(rng, v.GENERIC_PRODUCTS, generic.size)

    groups = tables().l1_groups
    group = groups[l1]
    swap = np.flatnonzero(rng.random(n) < OTHER_GROUP_SHARE)
    others = np.append(groups, v.GENERIC_PRODUCT_GROUP)
    group[swap] = others[rng.integers(0, others.size, swap.size)]

    name = render(v.OPPORTUNITY_NAME, rng, n, f)
    return {
        "opportunity_name": pad(recase(name, rng, UPPER_NAME_SHARE, str.upper), rng, PAD_SHARE),
        "details": pad(
            typos(recase(details, rng, LOWER_DETAILS_SHARE, str.lower), rng, TYPO_SHARE),
            rng,
            PAD_SHARE,
        ),
        "customer_needs": pad(typos(needs, rng, TYPO_SHARE), rng, PAD_SHARE),
        "product_name": product,
        "product_specifics": render(v.PRODUCT_SPECIFICS, rng, n, f),
        "product_group": group,
    }


def _blur(
    rng: np.random.Generator, texts: dict[str, ObjectArray], f: dict[str, ObjectArray]
) -> None:
    """Replace the text of a few records with vague notes that name no use case."""
    n = texts["details"].size
    idx = np.flatnonzero(rng.random(n) < VAGUE_SHARE)
    sub = {k: a[idx] for k, a in f.items()}
    texts["opportunity_name"][idx] = render(v.VAGUE_OPPORTUNITY_NAME, rng, idx.size, sub)
    texts["details"][idx] = render(v.VAGUE_DETAILS, rng, idx.size, sub)
    needs = np.array([t for t, _ in v.VAGUE_NEEDS], dtype=object)
    weights = np.array([w for _, w in v.VAGUE_NEEDS])
    texts["customer_needs"][idx] = needs[choose(rng, idx.size, weights / weights.sum())]
    texts["product_name"][idx] = pick(rng, v.GENERIC_PRODUCTS, idx.size)
    texts["product_specifics"][idx] = render(v.VAGUE_SPECIFICS, rng, idx.size, sub)


def _batch(rng: np.random.Generator, start: int, n: int) -> pa.RecordBatch:
    t = tables()
    leaf = choose(rng, n, t.leaf_p)
    l2, l1 = t.leaf_l2[leaf], t.leaf_l1[leaf]
    f = _record_fields(rng, n, l1)
    f.update(_use_case_fields(rng, n, leaf))
    texts = _texts(rng, n, l1, f)
    _blur(rng, texts, f)

    amount = np.round(t.l2_amount[l2] * np.exp(AMOUNT_SIGMA * rng.standard_normal(n)), -2)
    term = TERMS[choose(rng, n, TERM_P)]
    close = (FIRST_CLOSE + rng.integers(0, CLOSE_DAYS, n)).astype("datetime64[D]").astype(str)
    columns = {
        ID: [f"OPP-{i:07d}" for i in range(start, start + n)],
        **texts,
        INDUSTRY: f["industry"],
        AMOUNT: np.maximum(amount, 1000.0),
        TERM_MONTHS: term,
        CLOSE_DATE: close,
        TRUTH_LEVELS[0]: t.l1_labels[l1],
        TRUTH_LEVELS[1]: t.l2_labels[l2],
        TRUTH_LEVELS[2]: t.l3_labels[leaf],
    }
    arrays = [pa.array(columns[field.name], type=field.type) for field in SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def generate_opportunities(
    rows: int, seed: int = 0, batch_rows: int = 50_000
) -> Iterator[pa.RecordBatch]:
    """Yield ``rows`` synthetic opportunities as Arrow record batches of ``batch_rows``.

    Columns and types are ``SCHEMA``: ``id``, the six opportunity text fields,
    ``industry``, ``amount`` (float), ``term_months`` (int), ``close_date``
    (ISO string) and the truth ``true_l1``/``true_l2``/``true_l3`` (see
    ``use_case_tree``). Batches are generated lazily, so memory stays flat
    however many rows are asked for.
    """
    for name, value, low in (("rows", rows, 0), ("seed", seed, 0), ("batch_rows", batch_rows, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return _batches(int(rows), int(seed), int(batch_rows))


def _batches(rows: int, seed: int, batch_rows: int) -> Iterator[pa.RecordBatch]:
    for b, start in enumerate(range(0, rows, batch_rows)):
        n = min(batch_rows, rows - start)
        logger.debug("synth batch %d: rows %d-%d", b, start, start + n)
        yield _batch(np.random.default_rng([seed, b]), start, n)


def make_opportunities(rows: int, seed: int = 0) -> pd.DataFrame:
    """All ``rows`` opportunities in one DataFrame: for tests, demos and notebooks."""
    table = pa.Table.from_batches(list(generate_opportunities(rows, seed)), schema=SCHEMA)
    return table.to_pandas()
