"""Clustering metrics: Hungarian-matched accuracy, NMI and ARI."""

import numpy as np
from scipy import optimize
from sklearn import metrics


def _check_labels(y_true, y_pred):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred):
        raise ValueError(
            "y_true and y_pred must be 1-D arrays of the same length. "
            f"Received shapes {y_true.shape} and {y_pred.shape}."
        )
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty.")
    return y_true, y_pred


def cluster_acc(y_true, y_pred):
    """Clustering accuracy under the best one-to-one cluster-to-label map.

    The map maximises the number of matches (the Hungarian algorithm,
    `scipy.optimize.linear_sum_assignment`, on the contingency table).
    Clusters left unmatched (more clusters than labels) count as errors.

    Args:
        y_true: array-like of shape `(n_samples,)`, true labels.
        y_pred: array-like of shape `(n_samples,)`, cluster ids.

    Returns:
        Tuple `(accuracy, mapping)`: a float in [0, 1] and a dict
        `{cluster_id: label}` for every matched cluster.
    """
    y_true, y_pred = _check_labels(y_true, y_pred)
    labels, true_index = np.unique(y_true, return_inverse=True)
    clusters, pred_index = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((len(clusters), len(labels)), dtype=np.int64)
    np.add.at(counts, (pred_index, true_index), 1)
    rows, cols = optimize.linear_sum_assignment(counts, maximize=True)
    accuracy = counts[rows, cols].sum() / len(y_true)
    mapping = {clusters[r].item(): labels[c].item() for r, c in zip(rows, cols)}
    return float(accuracy), mapping


def nmi(y_true, y_pred):
    """Normalised mutual information (`sklearn.metrics`, arithmetic mean)."""
    y_true, y_pred = _check_labels(y_true, y_pred)
    return float(metrics.normalized_mutual_info_score(y_true, y_pred))


def ari(y_true, y_pred):
    """Adjusted Rand index (`sklearn.metrics.adjusted_rand_score`)."""
    y_true, y_pred = _check_labels(y_true, y_pred)
    return float(metrics.adjusted_rand_score(y_true, y_pred))


def agreement(labelings):
    """How much each clustering agrees with the others: its mean NMI with
    every other one.

    A label-free way to choose among runs of the same data that differ by
    their seed (each pretraining its own autoencoder): the run the others
    agree with most is the typical partition rather than an outlier
    (docs/results.md, "Choosing among runs without labels").

    Args:
        labelings: sequence of at least 2 int arrays of shape
            `(n_samples,)`, cluster ids of the same samples in the same
            order.

    Returns:
        float array of shape `(len(labelings),)`, each in [0, 1].
    """
    labelings = [np.asarray(labels) for labels in labelings]
    if len(labelings) < 2:
        raise ValueError(
            "agreement needs at least 2 clusterings. Received "
            f"{len(labelings)}."
        )
    n = len(labelings)
    pairwise = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            pairwise[i, j] = pairwise[j, i] = nmi(labelings[i], labelings[j])
    return pairwise.sum(axis=1) / (n - 1)


def min_cluster_fraction(y_pred, n_clusters):
    """The share of the points in the smallest of `n_clusters` clusters.

    0 means at least one cluster is empty: the collapse VaDE can fall into.

    Args:
        y_pred: int array-like of shape `(n_samples,)`, cluster ids in
            `[0, n_clusters)`.
        n_clusters: int.

    Returns:
        float in [0, 1 / n_clusters].
    """
    y_pred = np.asarray(y_pred)
    counts = np.bincount(y_pred, minlength=n_clusters)
    return float(counts.min() / len(y_pred))


def clustering_scores(y_true, y_pred):
    """`{"acc": ..., "nmi": ..., "ari": ...}` for one clustering."""
    return {
        "acc": cluster_acc(y_true, y_pred)[0],
        "nmi": nmi(y_true, y_pred),
        "ari": ari(y_true, y_pred),
    }
