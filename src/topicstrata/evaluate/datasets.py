"""Loaders for the benchmark corpora in the shared data folder.

Each corpus folder carries a ``SOURCE.md`` (origin, licence, format); the loaders
read the files as described there and never drop a record. ``root`` may be the
shared data folder (holding ``20newsgroups_raw/``, ``octis/``...) or the corpus
folder itself; ``None`` means :func:`shared_data_root`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd
from sklearn.datasets._twenty_newsgroups import (
    strip_newsgroup_footer,
    strip_newsgroup_header,
    strip_newsgroup_quoting,
)

from topicstrata.errors import InputError

__all__ = [
    "ENV_VAR",
    "OctisCorpus",
    "load_20newsgroups",
    "load_amazon",
    "load_banking77",
    "load_bbc_octis",
    "load_octis",
    "shared_data_root",
]

logger = logging.getLogger(__name__)

ENV_VAR = "TOPICSTRATA_SHARED_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[3]


class OctisCorpus(NamedTuple):
    """An OCTIS preprocessed corpus: token lists, one label per document, vocabulary."""

    docs: list[list[str]]
    labels: list[str]
    vocabulary: list[str]


def shared_data_root() -> Path:
    """The shared benchmark data folder.

    ``$TOPICSTRATA_SHARED_DATA`` when set, else ``../shared/data`` next to the
    repository checkout (or next to the working directory).
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        path = Path(configured).expanduser()
        if path.is_dir():
            return path
        raise InputError(
            f"{ENV_VAR}={configured!r} is not a folder; point it at the shared data folder "
            "(the one holding 20newsgroups_raw/, amazon_hierarchical_reviews/, octis/)."
        )
    candidates = [_REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise InputError(
        f"shared benchmark data not found (looked in {tried}); "
        f"set {ENV_VAR}=/path/to/shared/data to use it."
    )


def load_20newsgroups(root: str | Path | None = None, strip: bool = True) -> pd.DataFrame:
    """20 Newsgroups "bydate", all 18,846 messages: ``id, text, label_l1, label, split``.

    ``label_l1`` is the newsgroup's first name component (7 groups), ``label`` the
    newsgroup (20). With ``strip=True`` headers, signature blocks and quoted lines
    are removed with scikit-learn's own functions, in the order
    ``fetch_20newsgroups(remove=("headers", "footers", "quotes"))`` applies them.
    Messages left empty by stripping are kept with empty ``text`` (a few hundred);
    the ingest step reports them.
    """
    folder = _corpus_folder(root, "20newsgroups_raw", "20news_bydate.jsonl.gz")
    frame = pd.read_json(folder / "20news_bydate.jsonl.gz", lines=True, dtype=False)
    if strip:
        frame["text"] = [
            strip_newsgroup_quoting(strip_newsgroup_footer(strip_newsgroup_header(text)))
            for text in frame["text"]
        ]
        n_empty = int((frame["text"].str.strip() == "").sum())
        logger.info("20 Newsgroups: %d message(s) empty after stripping; kept", n_empty)
    return frame[["id", "text", "label_l1", "label", "split"]].astype(str)


def load_amazon(root: str | Path | None = None) -> pd.DataFrame:
    """Amazon reviews with a 3-level category tree: ``id, text, Cat1, Cat2, Cat3``.

    ``text`` is ``Title + ". " + Text`` (just the one present when the other is
    missing); ``id`` is the row number in the CSV. Cat1/Cat2/Cat3 have 6/62/290
    classes in the 9,046-row validation split kept here.
    """
    folder = _corpus_folder(root, "amazon_hierarchical_reviews", "amazon_hier_val.csv")
    raw = pd.read_csv(folder / "amazon_hier_val.csv", dtype=str, keep_default_na=False)
    title, body = raw["Title"].str.strip(), raw["Text"].str.strip()
    text = (title + ". " + body).where((title != "") & (body != ""), title + body)
    return pd.DataFrame(
        {
            "id": raw.index.astype(str),
            "text": text,
            "Cat1": raw["Cat1"],
            "Cat2": raw["Cat2"],
            "Cat3": raw["Cat3"],
        }
    )


def load_banking77(root: str | Path | None = None) -> pd.DataFrame:
    """BANKING77 customer queries, train then test: ``id, text, label, split``.

    ``label`` is one of 77 intents (flat). ``id`` is ``"<split>/<row>"``.
    """
    folder = _corpus_folder(root, "banking77", "train.csv")
    parts = []
    for split in ("train", "test"):
        part = pd.read_csv(folder / f"{split}.csv", dtype=str, keep_default_na=False)
        parts.append(
            pd.DataFrame(
                {
                    "id": [f"{split}/{i}" for i in range(len(part))],
                    "text": part["text"],
                    "label": part["category"],
                    "split": split,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def load_octis(name: str, root: str | Path | None = None) -> OctisCorpus:
    """An OCTIS preprocessed corpus (``octis/<name>/corpus.tsv`` and ``vocabulary.txt``).

    Texts there are already lower-cased, lemmatised and vocabulary-filtered, so the
    token lists are the reference corpus for NPMI as OCTIS computes it. ``root`` may
    also be the corpus folder itself. Documents without a label column get ``""``.
    """
    if root is not None and (Path(root) / "corpus.tsv").is_file():
        folder = Path(root)
    else:
        folder = _corpus_folder(root, "octis", name) / name
    corpus_file = folder / "corpus.tsv"
    if not corpus_file.is_file():
        raise InputError(
            f"OCTIS corpus {name!r}: {corpus_file} not found (the 20NewsGroup corpus is "
            "absent from the shared copy; see octis/SOURCE.md)."
        )
    docs: list[list[str]] = []
    labels: list[str] = []
    with corpus_file.open(encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            docs.append(fields[0].split())
            labels.append(fields[2] if len(fields) > 2 else "")
    metadata_file = folder / "metadata.json"
    if metadata_file.is_file():
        expected = json.loads(metadata_file.read_text(encoding="utf-8")).get("total_documents")
        if expected is not None and expected != len(docs):
            raise InputError(
                f"OCTIS corpus {name!r}: {corpus_file} has {len(docs)} documents but "
                f"metadata.json says {expected}; the copy is incomplete."
            )
    vocabulary = (folder / "vocabulary.txt").read_text(encoding="utf-8").split()
    return OctisCorpus(docs=docs, labels=labels, vocabulary=vocabulary)


def load_bbc_octis(root: str | Path | None = None) -> OctisCorpus:
    """BBC News as OCTIS preprocessed it: 2,225 token lists, 5 labels, 2,949 words.

    The corpus the BERTopic paper reported NPMI and diversity on.
    """
    return load_octis("BBC_News", root)


def _corpus_folder(root: str | Path | None, folder: str, marker: str) -> Path:
    """``root/folder`` when ``root`` is the shared data folder, else ``root`` itself."""
    base = shared_data_root() if root is None else Path(root)
    for candidate in (base / folder, base):
        if (candidate / marker).exists():
            return candidate
    raise InputError(
        f"{folder}: {marker} not found under {base} or {base / folder}; pass the shared data "
        f"folder (or set {ENV_VAR})."
    )
