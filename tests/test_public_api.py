"""The flat public API resolves every name it lists."""

from __future__ import annotations

import pytest

import topicstrata


@pytest.mark.parametrize("name", topicstrata.__all__)
def test_every_public_name_resolves(name):
    assert getattr(topicstrata, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = topicstrata.Nope


def test_errors_share_one_root_and_builtin_bases():
    assert issubclass(topicstrata.MappingError, topicstrata.TopicStrataError)
    assert issubclass(topicstrata.MappingError, ValueError)
    assert issubclass(topicstrata.ModelError, RuntimeError)
