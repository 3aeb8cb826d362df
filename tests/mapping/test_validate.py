"""``mapping_problems``: the checks of ``validate_mapping``, each with where it is."""

from __future__ import annotations

from topicstrata.mapping import Mapping, Rule, TopicEntry, mapping_problems


def test_mapping_problems_locate_each_problem_without_raising() -> None:
    mapping = Mapping(
        version=1,
        layer=1,
        topics=[
            TopicEntry(path="1", label="a", action="merge", merge_into="1"),
            TopicEntry(path="2", label="b"),
        ],
        rules=[Rule(pattern="(x", regex=True, path="2"), Rule(pattern="ok", path="9")],
    )
    problems = mapping_problems(mapping, ["1", "2"], source="edited")
    assert [p.loc for p in problems] == [
        ("topics", 0, "merge_into"),
        ("rules", 0, "pattern"),
        ("rules", 1, "path"),
    ]
    assert all(p.message.startswith("edited: ") for p in problems)
    assert "into itself" in problems[0].message
    valid = mapping.model_copy(update={"topics": mapping.topics[1:], "rules": []})
    assert mapping_problems(valid) == []
