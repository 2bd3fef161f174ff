"""The trained models shipped in models/ cluster the held-out test split."""

import keras
import pytest

import vade_tf
from vade_tf import metrics
from vade_tf.data import datasets


def _test_split_scores(name, data_dir):
    model = keras.models.load_model(vade_tf.shipped.model_path(name))
    assert isinstance(model, vade_tf.VaDE)
    x, y = datasets.load_dataset(name, data_dir, split="test")
    assert x.shape == (10000, 784)
    clusters = model.predict_clusters(x)
    scores = metrics.clustering_scores(y, clusters)
    scores["min_cluster_fraction"] = metrics.min_cluster_fraction(
        clusters, model.n_clusters
    )
    return scores


@pytest.mark.slow
def test_shipped_mnist_model_on_the_test_split(mnist_dir):
    scores = _test_split_scores("mnist", mnist_dir)
    assert scores["min_cluster_fraction"] >= 0.01
    assert scores["acc"] >= 0.96, scores


@pytest.mark.slow
def test_shipped_fashion_mnist_model_on_the_test_split(fashion_mnist_dir):
    scores = _test_split_scores("fashion_mnist", fashion_mnist_dir)
    assert scores["min_cluster_fraction"] >= 0.01
    assert scores["acc"] >= 0.65, scores
