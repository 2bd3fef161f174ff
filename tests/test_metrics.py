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


def _nmi_by_entropies(a, b):
    """NMI = I(a; b) / mean(H(a), H(b)), from the joint counts."""
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    p = joint / joint.sum()
    pa, pb = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mutual = np.sum(p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz]))

    def entropy(q):
        return -np.sum(q[q > 0] * np.log(q[q > 0]))

    return mutual / ((entropy(pa) + entropy(pb)) / 2)


def test_agreement_is_each_clusterings_mean_nmi_with_the_others(rng):
    labelings = [rng.integers(0, 4, size=200) for _ in range(4)]
    expected = [
        np.mean([_nmi_by_entropies(a, b) for b in labelings if b is not a])
        for a in labelings
    ]
    np.testing.assert_allclose(
        metrics.agreement(labelings), expected, rtol=1e-10
    )


def test_agreement_picks_the_typical_partition_not_the_outlier(rng):
    truth = np.repeat(np.arange(5), 120)
    noisy = []
    for flips in (0.0, 0.1, 0.2, 0.3, 0.7):
        labels = truth.copy()
        changed = rng.random(len(labels)) < flips
        labels[changed] = rng.integers(0, 5, size=changed.sum())
        noisy.append(rng.permutation(5)[labels])  # relabelled
    scores = metrics.agreement(noisy)
    # The cleanest agrees most with the others, the outlier least.
    assert np.argmax(scores) == 0 and np.argmin(scores) == 4
    # Identical partitions up to relabelling agree fully.
    np.testing.assert_allclose(
        metrics.agreement([truth, (truth + 1) % 5, truth]), 1.0
    )
    with pytest.raises(ValueError, match="at least 2 clusterings"):
        metrics.agreement([truth])
