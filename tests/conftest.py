"""Shared fixtures: quiet TensorFlow, seeded data, and the real-data folder."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
# The project's shared data folder, searched before the library's own places
# ($VADE_TF_DATA, ~/.keras/datasets, /usr/share/datasets).
SHARED_DATA = REPO.parent / "shared" / "data"


def _data_folder(name):
    from vade_tf.data import datasets

    return datasets.find_idx_folder(name, str(SHARED_DATA))


def _skip_without(name):
    return pytest.skip(
        f"{name} IDX files not found. Put the four .gz files in a folder "
        "and set VADE_TF_DATA=/that/folder (or its parent with a "
        f"'{name}/' subfolder), or place them in {SHARED_DATA / name}"
        + (
            "; on Debian: apt-get install dataset-fashion-mnist"
            if name == "fashion_mnist"
            else ""
        )
    )


def _data_dir_fixture(name):
    """A session fixture: the folder of `name`'s IDX files, or a skip."""

    def fixture():
        folder = _data_folder(name)
        if folder is None:
            _skip_without(name)
        return folder

    fixture.__doc__ = (
        f"The folder of the {name} IDX files, as the library finds it."
    )
    return pytest.fixture(scope="session", name=f"{name}_dir")(fixture)


mnist_dir = _data_dir_fixture("mnist")
fashion_mnist_dir = _data_dir_fixture("fashion_mnist")


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
