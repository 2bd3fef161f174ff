"""Clustering accuracy, NMI and ARI against brute force and scikit-learn."""

import itertools

import numpy as np
import pytest
from sklearn import metrics as sk_metrics

from vade_tf import metrics


def _brute_force_acc(y_true, y_pred):
    labels = np.unique(y_true)
    clusters = np.unique(y_pred)
    best = 0
    for perm in itertools.permutations(labels, len(clusters)):
        mapping = dict(zip(clusters, perm))
        best = max(
            best, np.mean([mapping[p] == t for p, t in zip(y_pred, y_true)])
        )
    return best


def test_cluster_acc_matches_brute_force(rng):
    for _ in range(5):
        y_true = rng.integers(0, 4, 60)
        y_pred = rng.integers(0, 4, 60)
        acc, mapping = metrics.cluster_acc(y_true, y_pred)
        assert acc == pytest.approx(_brute_force_acc(y_true, y_pred))
        mapped = np.array([mapping.get(p, -1) for p in y_pred])
        assert np.mean(mapped == y_true) == pytest.approx(acc)


def test_cluster_acc_is_invariant_to_relabelling():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    acc, mapping = metrics.cluster_acc(y_true, np.array([5, 5, 3, 3, 9, 9]))
    assert acc == 1.0
    assert mapping == {5: 0, 3: 1, 9: 2}


def test_more_clusters_than_labels_counts_unmatched_as_errors():
    acc, mapping = metrics.cluster_acc([0, 0, 1, 1], [0, 1, 2, 3])
    assert acc == 0.5
    assert len(mapping) == 2


def test_nmi_and_ari_are_sklearns(rng):
    y_true = rng.integers(0, 3, 50)
    y_pred = rng.integers(0, 3, 50)
    assert metrics.nmi(y_true, y_pred) == pytest.approx(
        sk_metrics.normalized_mutual_info_score(y_true, y_pred)
    )
    assert metrics.ari(y_true, y_pred) == pytest.approx(
        sk_metrics.adjusted_rand_score(y_true, y_pred)
    )
    scores = metrics.clustering_scores(y_true, y_pred)
    assert set(scores) == {"acc", "nmi", "ari"}


def test_min_cluster_fraction_sees_empty_clusters():
    assert metrics.min_cluster_fraction([0, 0, 1, 2], 3) == 0.25
    assert metrics.min_cluster_fraction([0, 0, 1, 1], 3) == 0.0


def test_bad_label_arrays():
    with pytest.raises(ValueError, match=r"same length.*\(3,\) and \(2,\)"):
        metrics.cluster_acc([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="1-D"):
        metrics.nmi(np.zeros((2, 2)), np.zeros((2, 2)))
