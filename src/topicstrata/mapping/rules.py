"""Deterministic phrase and regex rules: the first matching rule assigns a record's path."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from topicstrata.errors import MappingError
from topicstrata.mapping.schema import Rule

__all__ = ["apply_rules", "compile_rule", "match_rules", "rule_regex"]


def rule_regex(rule: Rule) -> str:
    """The regular expression a rule stands for.

    A phrase becomes its escaped words joined by ``\\s+`` and fenced by
    ``(?<!\\w)``/``(?!\\w)`` rather than ``\\b``, so phrases that start or end in
    punctuation ("C++", ".NET") still match as whole words.
    """
    if rule.regex:
        return rule.pattern
    words = rule.pattern.split()
    return r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"


def compile_rule(rule: Rule) -> re.Pattern[str]:
    """Compile one rule, case-insensitively; raises ``re.error`` for a bad regex."""
    return re.compile(rule_regex(rule), re.IGNORECASE)


def _compile_all(rules: Sequence[Rule]) -> list[re.Pattern[str]]:
    compiled = []
    for number, rule in enumerate(rules, start=1):
        try:
            compiled.append(compile_rule(rule))
        except re.error as exc:
            raise MappingError(
                f"rule {number}: pattern {rule.pattern!r} is not a valid regular expression "
                f"({exc}); fix it, or remove `regex: true` to match it as a phrase"
            ) from exc
    return compiled


def match_rules(texts: Sequence[str | None] | pd.Series, rules: Sequence[Rule]) -> NDArray[np.intp]:
    """Index of the first rule each text matches, or -1; None and non-text never match.

    Each distinct text is searched once, and only by rules that earlier rules
    left it for, so rule order (document order) decides ties.
    """
    patterns = _compile_all(rules)
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object), use_na_sentinel=True)
    hits = np.full(len(uniques), -1, dtype=np.intp)
    remaining = np.flatnonzero([isinstance(u, str) for u in uniques])
    for index, pattern in enumerate(patterns):
        if remaining.size == 0:
            break
        search = pattern.search
        matched = np.fromiter(
            (search(uniques[i]) is not None for i in remaining), dtype=bool, count=remaining.size
        )
        hits[remaining[matched]] = index
        remaining = remaining[~matched]
    out = np.full(len(codes), -1, dtype=np.intp)
    known = codes >= 0
    out[known] = hits[codes[known]]
    return out


def apply_rules(texts: Sequence[str | None] | pd.Series, rules: Sequence[Rule]) -> list[str | None]:
    """The path of the first rule each text matches, or None.

    Rule paths are returned as written; pass them through ``apply_mapping`` to
    follow merges and drops.
    """
    targets = [rule.path for rule in rules]
    return [targets[i] if i >= 0 else None for i in match_rules(texts, rules).tolist()]
