"""Benchmark loaders on the shared data (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from topicstrata.errors import InputError
from topicstrata.evaluate import datasets as datasets_module
from topicstrata.evaluate import (
    load_20newsgroups,
    load_amazon,
    load_banking77,
    load_bbc_octis,
    shared_data_root,
)

pytestmark = pytest.mark.data


def test_20newsgroups(shared_data):
    frame = load_20newsgroups(shared_data)
    assert list(frame.columns) == ["id", "text", "label_l1", "label", "split"]
    assert len(frame) == 18846
    assert frame["id"].is_unique
    assert frame["label_l1"].nunique() == 7
    assert frame["label"].nunique() == 20
    assert frame["split"].value_counts().to_dict() == {"train": 11314, "test": 7532}
    # Stripped: the header block is gone (18,038 raw messages start with "From:";
    # a few forwarded ones still do, as with scikit-learn), and "writes:" lines too.
    first = frame.set_index("id")["text"]["train/alt.atheism/49960"]
    assert first.startswith("Archive-name: atheism/resources")
    assert frame["text"].str.startswith("From:").sum() < 100
    assert not frame["text"].str.contains(r"^.*writes:\s*$", regex=True).any()
    assert (frame["label"].str.split(".").str[0] == frame["label_l1"]).all()


def test_amazon(shared_data):
    frame = load_amazon(shared_data / "amazon_hierarchical_reviews")
    assert list(frame.columns) == ["id", "text", "Cat1", "Cat2", "Cat3"]
    assert len(frame) == 9046
    assert [frame[c].nunique() for c in ("Cat1", "Cat2", "Cat3")] == [6, 62, 290]
    assert frame["text"].iloc[0].startswith("PetSafe Staywell Pet Door with Clear Hard Flap. ")


def test_bbc_octis(shared_data):
    docs, labels, vocabulary = load_bbc_octis(shared_data)
    assert len(docs) == len(labels) == 2225
    assert sorted(set(labels)) == ["business", "entertainment", "politics", "sport", "tech"]
    assert len(vocabulary) == 2949
    assert {word for doc in docs for word in doc} <= set(vocabulary)


def test_banking77(shared_data):
    frame = load_banking77(shared_data)
    assert len(frame) == 13083
    assert frame["label"].nunique() == 77
    assert frame["split"].value_counts().to_dict() == {"train": 10003, "test": 3080}


def test_shared_data_root_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets_module.ENV_VAR, str(tmp_path))
    assert shared_data_root() == tmp_path
    monkeypatch.setenv(datasets_module.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(InputError, match=datasets_module.ENV_VAR):
        shared_data_root()


def test_shared_data_root_missing_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.delenv(datasets_module.ENV_VAR, raising=False)
    monkeypatch.setattr(datasets_module, "_REPO_ROOT", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=f"set {datasets_module.ENV_VAR}="):
        shared_data_root()


def test_loader_names_the_missing_file(tmp_path: Path):
    with pytest.raises(InputError, match=r"amazon_hier_val\.csv"):
        load_amazon(tmp_path)
