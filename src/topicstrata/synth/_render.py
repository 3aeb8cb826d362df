"""Fill sentence templates for a whole batch of records at once.

Rendering is vectorized per template rather than per record: the rows that
drew template ``t`` are concatenated literal by field with NumPy object-array
addition, which runs the string joins in C. That keeps a million records in
seconds where a per-row ``str.format`` loop would take minutes.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

ObjectArray = NDArray[np.object_]


@dataclass(frozen=True)
class Compiled:
    """One template split as ``literals[0] fields[0] literals[1] ... literals[-1]``."""

    literals: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class TemplateSet:
    """Weighted templates for one part of a text field."""

    templates: tuple[Compiled, ...]
    probabilities: NDArray[np.float64]

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(f for t in self.templates for f in t.fields)


def _compile(text: str) -> Compiled:
    literals: list[str] = []
    fields: list[str] = []
    for literal, field, spec, conversion in string.Formatter().parse(text):
        if spec or conversion:
            raise ValueError(f"template {text!r}: format specs are not supported")
        if field is None:
            literals.append(literal)
            continue
        if not field.isidentifier():
            raise ValueError(f"template {text!r}: bad field name {field!r}")
        literals.append(literal)
        fields.append(field)
    if len(literals) == len(fields):
        literals.append("")
    return Compiled(tuple(literals), tuple(fields))


@cache
def compile_templates(templates: tuple[tuple[str, float], ...]) -> TemplateSet:
    """Parse weighted templates once; the result is cached by value."""
    weights = np.array([w for _, w in templates], dtype=np.float64)
    return TemplateSet(tuple(_compile(t) for t, _ in templates), weights / weights.sum())


def choose(
    rng: np.random.Generator, n: int, probabilities: NDArray[np.float64]
) -> NDArray[np.intp]:
    """Draw ``n`` indices by inverse CDF: one uniform per row, reproducible."""
    cdf = np.cumsum(probabilities)
    picks = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.minimum(picks, len(probabilities) - 1)


def render(
    templates: tuple[tuple[str, float], ...],
    rng: np.random.Generator,
    n: int,
    fields: Mapping[str, ObjectArray],
) -> ObjectArray:
    """Draw one template per row and fill it from the per-row ``fields`` arrays."""
    tset = compile_templates(templates)
    choice = choose(rng, n, tset.probabilities)
    out = np.empty(n, dtype=object)
    for t, tpl in enumerate(tset.templates):
        idx = np.flatnonzero(choice == t)
        if idx.size == 0:
            continue
        acc: ObjectArray = np.full(idx.size, tpl.literals[0], dtype=object)
        for field, literal in zip(tpl.fields, tpl.literals[1:], strict=True):
            acc = acc + fields[field][idx]
            if literal:
                acc = acc + literal
        out[idx] = acc
    return out


def pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> ObjectArray:
    """Draw ``n`` values uniformly from ``values`` as an object array."""
    table = np.array(values, dtype=object)
    return table[rng.integers(0, len(table), size=n)]
