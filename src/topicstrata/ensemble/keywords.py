"""One layer's keywords made distinct across the whole level.

``describe_group`` lists each topic's words against its siblings only, so two topics of
the same level under different parents (or siblings alike in one word) can list the
same word: on banking77's short queries the level-2 lists repeated "card" in 24 of 100
topics. A word then says little about which topic a record is in. After a layer's groups
are described, :func:`distinct_across_level` lets each of the words that set a topic
apart (a positive score, see ``TopicRepresentation``) name at most ``max_topics`` topics
of the level: the ones where it scores highest; the others drop it. Topics of earlier
layers that were not split stand at the new level as well; their lists are fixed, and
each of their words takes one of its ``max_topics`` places.

A topic left with fewer than ``min_keywords`` words first takes back the words it lost
from topics that keep more than ``min_keywords`` without them. If still short, it is
filled up, in this order, with its weak words (score 0) and the words of its
``vocabulary`` (its c-TF-IDF top words) that no other topic of the level lists, then with
the words it lost, then with any vocabulary word; fill words score 0. Weak words beyond
that are not listed.

Pure and cheap (a sort over the listed words), so it runs after the per-group describe
cache, on every fit, and the cached groups stay valid.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from topicstrata.ensemble.tree import TopicNode
from topicstrata.mapping.paths import path_sort_key

__all__ = ["distinct_across_level"]


def distinct_across_level(
    groups: Mapping[str, list[TopicNode]],
    max_topics: int | None,
    taken: Iterable[Sequence[str]] = (),
    min_keywords: int = 1,
) -> dict[str, list[TopicNode]]:
    """``groups`` (parent key -> its child nodes, one layer) with each distinct keyword
    kept by at most ``max_topics`` nodes of the level (``None``: no limit), counting the
    fixed keyword lists ``taken`` (topics standing at the level from earlier layers), and
    every list filled up to ``min_keywords`` (module docstring). New nodes; the given ones
    are not changed (they may be cached)."""
    nodes = [node for group in groups.values() for node in group]
    owners: Counter[str] = Counter(word for words in taken for word in set(words))
    # path -> {word: score}, in the order the words were given to the topic
    listed: dict[str, dict[str, float]] = {node.path: {} for node in nodes}
    candidates = sorted(
        (-score, node.path, word)
        for node in nodes
        for word, score in zip(node.keywords, node.keyword_scores, strict=False)
        if score > 0
    )
    for negative, path, word in candidates:
        if max_topics is None or owners[word] < max_topics:
            owners[word] += 1
            listed[path][word] = -negative
    holders: dict[str, list[str]] = defaultdict(list)
    for path, words in listed.items():
        for word in words:
            holders[word].append(path)
    in_order = sorted(nodes, key=lambda n: path_sort_key(n.path))
    for node in in_order:  # a short list takes back words from topics with some to spare
        mine = listed[node.path]
        for word, score in zip(node.keywords, node.keyword_scores, strict=False):
            if len(mine) >= min_keywords:
                break
            if score <= 0 or word in mine:
                continue
            rich = next((h for h in holders[word] if len(listed[h]) > min_keywords), None)
            if rich is not None:
                del listed[rich][word]
                holders[word].remove(rich)
                holders[word].append(node.path)
                mine[word] = score
    for node in in_order:  # then fills what is still short
        mine = listed[node.path]
        if len(mine) >= min_keywords:
            continue
        scored = list(zip(node.keywords, node.keyword_scores, strict=False))
        lost = [w for w, s in scored if s > 0 and w not in mine]
        free = [w for w in [*(w for w, s in scored if s <= 0), *node.vocabulary] if not owners[w]]
        for word in [*free, *lost, *node.vocabulary, *node.keywords]:
            if len(mine) >= min_keywords:
                break
            if word not in mine:
                mine[word] = 0.0
                owners[word] += 1
    out: dict[str, list[TopicNode]] = {}
    for key, group in groups.items():
        out[key] = []
        for node in group:
            rank = {w: i for i, w in enumerate(node.keywords)}
            # Distinct words in the topic's own order, then fill words as they were added.
            ordered = sorted(
                listed[node.path].items(),
                key=lambda ws: (ws[1] == 0.0, rank.get(ws[0], 0) if ws[1] > 0 else 0),
            )
            out[key].append(
                replace(
                    node, keywords=[w for w, _ in ordered], keyword_scores=[s for _, s in ordered]
                )
            )
    return out
