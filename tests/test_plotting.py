"""Plots are written as real PNG images with the expected layout."""

import numpy as np
import pytest
from matplotlib import image

from vade_tf import plotting


def _read(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return image.imread(str(path))


def test_cluster_samples_grid(small_model, blobs, tmp_path):
    x, y = blobs
    small_model.initialize_mixture(x, random_state=0)
    path = tmp_path / "grid.png"
    plotting.plot_cluster_samples(
        small_model, path, n_per_cluster=4, x=x, y=y, seed=0
    )
    pixels = _read(path)
    assert pixels.shape[0] > 50 and pixels.shape[1] > 100
    assert pixels.std() > 0  # not a blank image


def test_cluster_order_follows_the_hungarian_mapping(small_model, blobs):
    x, y = blobs
    small_model.initialize_mixture(x, random_state=0)
    order, names = plotting.cluster_order(small_model, x, y)
    assert sorted(order) == [0, 1, 2]
    clusters = small_model.predict_clusters(x)
    for row, cluster in enumerate(order):
        # Row i shows the cluster matched to label i (blobs are separable).
        assert np.bincount(y[clusters == cluster]).argmax() == row
        assert names[row] == f"cluster {cluster} -> {row}"
    assert plotting.cluster_order(small_model)[1][0] == "cluster 0"


def test_latent_and_history_plots(small_model, blobs, tmp_path):
    x, y = blobs
    plotting.plot_latent(small_model, x, tmp_path / "latent.png", y=y)
    assert _read(tmp_path / "latent.png").std() > 0
    history = {"loss": [3.0, 2.0], "kl": [1.0, 0.5], "acc": [0.5, 0.7]}
    plotting.plot_history(history, tmp_path / "history.png")
    assert _read(tmp_path / "history.png").std() > 0
    with pytest.raises(FileExistsError):
        plotting.plot_history(
            history, tmp_path / "history.png", overwrite=False
        )
    # An epoch without a value (None, as metrics.json holds it) is a gap.
    gaps = {"loss": [3.0, None, 1.0], "acc": [None, 0.6, 0.7]}
    plotting.plot_history(gaps, tmp_path / "gaps.png")
    assert _read(tmp_path / "gaps.png").std() > 0


def test_latent_colours_match_clusters_to_their_labels():
    # Cluster 2 holds label 5, cluster 0 label 7, clusters 1 and 3 are
    # unmatched; the point of label 9 in cluster 2 keeps cluster 2's colour.
    y = np.array([5, 5, 7, 7, 9])
    clusters = np.array([2, 2, 0, 0, 2])
    cluster_colours, label_colours, names = plotting.matched_colours(
        clusters, y, n_clusters=4
    )
    np.testing.assert_array_equal(label_colours, [0, 0, 1, 1, 2])
    np.testing.assert_array_equal(cluster_colours, [0, 0, 1, 1, 0])
    assert names[:3] == ["label 5", "label 7", "label 9"]
    assert names[3:] == ["cluster 1 (unmatched)", "cluster 3 (unmatched)"]


def test_embed_2d(rng):
    z = rng.normal(size=(30, 5))
    assert plotting.embed_2d(z, "pca").shape == (30, 2)
    assert plotting.embed_2d(z[:, :1]).shape == (30, 2)
    with pytest.raises(ValueError, match="pca"):
        plotting.embed_2d(z, "umap")


def test_infer_image_shape():
    assert plotting.infer_image_shape(784) == (28, 28)
    assert plotting.infer_image_shape(64) == (8, 8)
    assert plotting.infer_image_shape(12) is None
