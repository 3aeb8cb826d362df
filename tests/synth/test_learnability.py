"""The truth is in the text: learnable at every level, not trivially at the finest.

No neural model here: TF-IDF features with a linear classifier (supervised)
and with k-means (unsupervised) stand in for the embedding pipeline.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import normalized_mutual_info_score
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from topicstrata.io.schema import OPPORTUNITY_TEXT_FIELDS


@pytest.fixture(scope="module")
def features(sample: pd.DataFrame) -> TfidfVectorizer:
    text = sample[list(OPPORTUNITY_TEXT_FIELDS)].fillna("").agg("\n".join, axis=1)
    return TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(text)


def _accuracy(features, sample: pd.DataFrame, level: str) -> float:
    train, test = slice(0, 4000), slice(4000, None)
    y = sample[level].to_numpy()
    clf = LinearSVC(random_state=0).fit(features[train], y[train])
    return float((clf.predict(features[test]) == y[test]).mean())


def test_supervised_accuracy_by_level(features, sample: pd.DataFrame) -> None:
    acc = {lvl: _accuracy(features, sample, lvl) for lvl in ("true_l1", "true_l2", "true_l3")}
    chance = {lvl: sample[lvl].value_counts(normalize=True).iloc[0] for lvl in acc}
    assert acc["true_l1"] > 0.9 > 2 * chance["true_l1"]
    assert acc["true_l2"] > 0.75
    # Learnable far above chance, but overlap (sibling phrases, vague notes) caps it.
    assert 0.6 < acc["true_l3"] < 0.985
    assert acc["true_l1"] >= acc["true_l2"] >= acc["true_l3"]


def test_unsupervised_recovers_use_cases(features, sample: pd.DataFrame) -> None:
    z = normalize(TruncatedSVD(100, random_state=0).fit_transform(features))
    labels = KMeans(8, n_init=3, random_state=0).fit_predict(z)
    assert normalized_mutual_info_score(sample["true_l1"], labels) > 0.6
