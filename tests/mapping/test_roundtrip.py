"""load(dump(m)) == m for generated mappings, whatever text people put in them."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topicstrata.mapping import (
    Mapping,
    Rule,
    TopicEntry,
    dump_mapping,
    dumps_mapping,
    load_mapping,
    loads_mapping,
)

# Any text a person might type, surrogates excepted (they cannot be encoded).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
WORDS = st.lists(TEXT, max_size=8)


@st.composite
def mappings(draw: st.DrawFn) -> Mapping:
    n_top = draw(st.integers(1, 5))
    paths = [str(i) for i in range(n_top)]
    if draw(st.booleans()):
        paths.insert(0, "-1")
    for parent in list(paths):
        if parent != "-1":
            paths += [f"{parent}.{j}" for j in range(draw(st.integers(0, 3)))]
    layer = max(p.count(".") + 1 for p in paths)
    keeps = ("keep", "split", "rename")
    actions = {p: draw(st.sampled_from((*keeps, "drop"))) for p in paths}
    # Merge only into topics that are themselves kept, so no cycle can arise.
    mergers = {p for p in paths if draw(st.integers(0, 3)) == 0}
    entries = []
    for path in paths:
        action, target = actions[path], None
        same_level = [
            q
            for q in paths
            if q.count(".") == path.count(".")
            and q not in mergers
            and q != path
            and actions[q] in keeps
            and q != "-1"
        ]
        if path in mergers and same_level:
            action, target = "merge", draw(st.sampled_from(same_level))
        entries.append(
            TopicEntry(
                path=path,
                label=draw(TEXT),
                keywords=draw(WORDS),
                phrases=draw(WORDS),
                size=draw(st.integers(0, 10**7)),
                action=action,
                merge_into=target,
                notes=draw(TEXT),
                flags=draw(WORDS),
            )
        )
    kept = [p for p in paths if actions[p] != "drop"]
    rules = draw(
        st.lists(
            st.builds(
                Rule,
                pattern=TEXT.filter(lambda t: t.strip() != ""),
                path=st.sampled_from(kept) if kept else st.nothing(),
                regex=st.just(False),
                label=st.none() | TEXT,
                notes=TEXT,
            ),
            max_size=3,
        )
        if kept
        else st.just([])
    )
    return Mapping(
        version=draw(st.integers(1, 9)),
        layer=layer,
        generated_at=draw(st.none() | TEXT),
        created_by=draw(st.none() | TEXT),
        topics=entries,
        rules=rules,
    )


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mappings())
def test_load_dump_round_trip(mapping: Mapping) -> None:
    text = dumps_mapping(mapping)
    assert loads_mapping(text) == mapping
    assert dumps_mapping(loads_mapping(text)) == text


def test_round_trip_through_a_file(tmp_path) -> None:
    mapping = Mapping(
        version=2,
        layer=2,
        topics=[
            TopicEntry(path="7", label="Chatbots", notes="two\nlines\n"),
            TopicEntry(path="7.10", action="merge", merge_into="7.2"),
            TopicEntry(path="7.2", keywords=["no", "yes", "3.10", "a: b", "#tag"]),
        ],
        rules=[Rule(pattern=r"\bRPA\b", regex=True, path="7.2")],
    )
    path = tmp_path / "mapping.v2.yaml"
    dump_mapping(mapping, path)
    assert load_mapping(path) == mapping
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
