"""Shared fixtures: quiet TensorFlow, seeded data, and the real-data folder."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def small_model():
    """A small untrained VaDE on 12 features, 3 clusters, latent 2."""
    import vade_tf

    return vade_tf.VaDE(
        input_dim=12, n_clusters=3, latent_dim=2, hidden_dims=(16, 8), seed=1
    )


@pytest.fixture
def blobs(rng):
    """Three well-separated groups of 12 features in [0, 1], with labels."""
    centers = rng.uniform(0.1, 0.9, size=(3, 12))
    y = np.repeat(np.arange(3), 40)
    x = np.clip(centers[y] + 0.03 * rng.standard_normal((120, 12)), 0, 1)
    return x.astype("float32"), y
