"""One layer's keywords made distinct across the whole level.

``describe_group`` lists each topic's words against its siblings only, so two topics of
the same level under different parents (or siblings alike in one word) can list the
same word: on banking77's short queries the level-2 lists repeated "card" in 24 of 100
topics. A word then says little about which topic a record is in. After a layer's groups
are described, :func:`distinct_across_level` lets each word name at most
``max_topics`` topics of the level: the ones where it scores highest (its KL term, see
``TopicRepresentation``); the others drop it. A topic that would be left with no word
keeps its first one. Topics of earlier layers that were not split stand at the new level
as well; their lists are fixed, and each of their words takes one of its ``max_topics``
places. Pure and cheap (a sort over the listed words), so it runs after the
per-group describe cache, on every fit, and the cached groups stay valid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from topicstrata.ensemble.tree import TopicNode

__all__ = ["distinct_across_level"]


def distinct_across_level(
    groups: Mapping[str, list[TopicNode]],
    max_topics: int | None,
    taken: Iterable[Sequence[str]] = (),
) -> dict[str, list[TopicNode]]:
    """``groups`` (parent key -> its child nodes, one layer) with each keyword kept by at
    most ``max_topics`` nodes of the level, counting the fixed keyword lists ``taken``
    (topics standing at the level from earlier layers). New nodes; the given ones are not
    changed (they may be cached). ``None`` keeps every list as it is."""
    if max_topics is None:
        return {key: list(nodes) for key, nodes in groups.items()}
    listed = sorted(
        (
            (-score, node.path, word)
            for nodes in groups.values()
            for node in nodes
            for word, score in zip(node.keywords, node.keyword_scores, strict=False)
        ),
    )
    owners: Counter[str] = Counter(word for words in taken for word in set(words))
    kept: set[tuple[str, str]] = set()
    for _, path, word in listed:
        if owners[word] < max_topics:
            owners[word] += 1
            kept.add((path, word))
    out: dict[str, list[TopicNode]] = {}
    for key, nodes in groups.items():
        out[key] = []
        for node in nodes:
            pairs = [
                (w, s)
                for w, s in zip(node.keywords, node.keyword_scores, strict=False)
                if (node.path, w) in kept
            ]
            if not pairs and node.keywords:
                pairs = [(node.keywords[0], node.keyword_scores[0] if node.keyword_scores else 0.0)]
            out[key].append(
                replace(node, keywords=[w for w, _ in pairs], keyword_scores=[s for _, s in pairs])
            )
    return out
