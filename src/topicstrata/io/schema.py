"""Column names of the canonical record table that flows through topicstrata.

Ingest produces a pandas DataFrame with these columns (plus every other source
column passed through unchanged, e.g. label columns for evaluation):

- ``id``: str, unique per record
- ``text``: str, the configured text fields joined with ``"\\n"`` (non-empty)
- ``industry``: str or missing
- ``amount``: float or missing (deal amount)
- ``term_months``: float or missing (contract term)
- ``annualized_revenue``: float or missing (``amount * 12 / term_months``)
- ``close_date``: str (ISO date) or missing
- ``account_name``: str or missing (Salesforce exports: the joined Account's name)

Preprocessing adds ``embed_text`` (light clean, case kept) and
``keyword_tokens`` (space-joined lowercase lemmas, entity-filtered).
"""

from __future__ import annotations

from typing import Final

ID: Final = "id"
TEXT: Final = "text"
INDUSTRY: Final = "industry"
AMOUNT: Final = "amount"
TERM_MONTHS: Final = "term_months"
ANNUALIZED_REVENUE: Final = "annualized_revenue"
CLOSE_DATE: Final = "close_date"
ACCOUNT_NAME: Final = "account_name"
EMBED_TEXT: Final = "embed_text"
KEYWORD_TOKENS: Final = "keyword_tokens"

#: The text fields of an opportunity, in the order they are joined.
OPPORTUNITY_TEXT_FIELDS: Final = (
    "opportunity_name",
    "details",
    "customer_needs",
    "product_name",
    "product_specifics",
    "product_group",
)

#: Ground-truth columns of synthetic data (3-level use-case hierarchy).
TRUTH_LEVELS: Final = ("true_l1", "true_l2", "true_l3")
