"""The trained models shipped in models/ cluster the held-out test split."""

import os

import keras
import pytest

import vade_tf
from vade_tf import datasets, metrics

from .conftest import REPO, SHARED_MNIST

FASHION = "/usr/share/datasets/fashion-mnist"


def _test_split_scores(name, data_dir):
    model = keras.models.load_model(REPO / "models" / f"vade_{name}.keras")
    assert isinstance(model, vade_tf.VaDE)
    x, y = datasets.load_dataset(name, data_dir, split="test")
    assert x.shape == (10000, 784)
    clusters = model.predict_clusters(x)
    scores = metrics.clustering_scores(y, clusters)
    scores["min_cluster_fraction"] = metrics.min_cluster_fraction(
        clusters, model.n_clusters
    )
    return scores


@pytest.mark.skipif(
    not SHARED_MNIST.is_dir(),
    reason=f"MNIST test split not found: no data folder at {SHARED_MNIST}",
)
def test_shipped_mnist_model_on_the_test_split():
    scores = _test_split_scores("mnist", str(SHARED_MNIST))
    assert scores["min_cluster_fraction"] >= 0.01
    assert scores["acc"] >= 0.94, scores


@pytest.mark.skipif(
    not os.path.isdir(FASHION),
    reason=f"Fashion-MNIST not found at {FASHION} "
    "(apt-get install -y dataset-fashion-mnist)",
)
def test_shipped_fashion_mnist_model_on_the_test_split():
    scores = _test_split_scores("fashion_mnist", FASHION)
    assert scores["min_cluster_fraction"] >= 0.01
    assert scores["acc"] >= 0.60, scores
