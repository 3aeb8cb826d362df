"""Shared fixtures for the mapping tests: a small two-layer tree."""

from __future__ import annotations

import pytest

from topicstrata.mapping import TopicSummary


def summary(
    path: str, keywords: list[str], phrases: list[str], size: int, flags=()
) -> TopicSummary:
    return TopicSummary(
        path=path,
        level=path.count(".") + 1,
        keywords=keywords,
        phrases=phrases,
        size=size,
        flags=list(flags),
        representative_ids=[f"r{size}"],
    )


LAYER1 = [
    summary("-1", ["misc", "other"], [], 40),
    summary(
        "0",
        ["chatbots", "agent", "deflection", "bot"],
        ["virtual agent", "call deflection", "chatbot platform"],
        420,
        ["too_broad: share 0.21 > 0.10"],
    ),
    summary("1", ["invoice", "ap", "ocr"], ["invoice processing", "accounts payable"], 180),
    summary("2", ["fraud", "aml", "kyc"], ["fraud detection", "anti money laundering"], 150),
    summary("10", ["forecast", "demand"], ["demand forecasting"], 90, ["low_coherence"]),
]

LAYER2 = [
    summary("0.0", ["ivr", "voice"], ["voice bot"], 200),
    summary("0.1", ["faq", "self-service"], ["self service portal"], 120),
    summary("0.2", ["handoff", "escalation"], ["live agent handoff"], 100),
]


@pytest.fixture
def layer1() -> list[TopicSummary]:
    return [TopicSummary(**vars(s)) for s in LAYER1]


@pytest.fixture
def layer2() -> list[TopicSummary]:
    return [TopicSummary(**vars(s)) for s in LAYER2]
