"""Choosing K without labels: the criteria, the range, the errors."""

import numpy as np
import pytest
from scipy import stats
from sklearn import mixture

from vade_tf.training import k_selection


def _latent_blobs(k, n_per=150, dim=6, seed=0, spread=8.0):
    """Gaussian clusters in a latent-like space, elongated (correlated)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, spread, size=(k, dim))
    parts = []
    for c in range(k):
        mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
        parts.append(centres[c] + rng.normal(size=(n_per, dim)) @ mixing)
    return np.concatenate(parts).astype("float32")


@pytest.mark.parametrize("k", [2, 4, 7])
def test_bic_finds_the_clusters_of_gaussian_blobs(k):
    z = _latent_blobs(k)
    selection = k_selection.choose_n_clusters(z, (2, 10), "bic", random_state=0)
    assert selection.n_clusters == k
    assert selection.k_values == list(range(2, 11))
    assert len(selection.scores) == 9
    # The chosen K has the lowest BIC.
    assert selection.scores[k - 2] == min(selection.scores)


def test_bic_matches_an_independent_computation():
    # BIC = -2 log L + p log n, with log L of the fitted mixture computed
    # with scipy and p = (K - 1) + K D + K D (D + 1) / 2 (full covariances).
    z = _latent_blobs(3, n_per=80, dim=3)
    scaled = (z - z.mean(0)) / np.mean(z.std(0))
    k = 3
    score = k_selection.score_k(z, [k], "bic", random_state=0)[0]
    # The same fit, to read its parameters.
    from sklearn import cluster

    start = cluster.KMeans(
        k, n_init=k_selection.KMEANS_N_INIT, random_state=0
    ).fit(scaled)
    fitted = mixture.GaussianMixture(
        k,
        covariance_type="full",
        means_init=start.cluster_centers_,
        reg_covar=k_selection.REG_COVAR,
        random_state=0,
    ).fit(scaled)
    density = sum(
        w * stats.multivariate_normal(m, c).pdf(scaled)
        for w, m, c in zip(fitted.weights_, fitted.means_, fitted.covariances_)
    )
    d = scaled.shape[1]
    parameters = (k - 1) + k * d + k * d * (d + 1) / 2
    expected = -2 * np.sum(np.log(density)) + parameters * np.log(len(z))
    np.testing.assert_allclose(score, expected, rtol=1e-6)


def test_scores_do_not_depend_on_the_latent_scale():
    z = _latent_blobs(3)
    a = k_selection.choose_n_clusters(z, (2, 6), random_state=0)
    b = k_selection.choose_n_clusters(z * 1000 + 5, (2, 6), random_state=0)
    assert a.n_clusters == b.n_clusters == 3
    # BIC moves by a constant (the log-determinant of the rescaling) only.
    np.testing.assert_allclose(
        np.diff(a.scores), np.diff(b.scores), rtol=1e-4, atol=1e-3
    )


@pytest.mark.parametrize("criterion", ["bic_diag", "silhouette", "dp"])
def test_every_criterion_gives_a_k_in_the_range(criterion):
    z = _latent_blobs(3)
    selection = k_selection.choose_n_clusters(
        z, (2, 8), criterion, random_state=0
    )
    assert 2 <= selection.n_clusters <= 8
    assert selection.criterion == criterion
    best = (min if selection.lower_is_better else max)(selection.scores)
    assert (
        selection.scores[selection.k_values.index(selection.n_clusters)] == best
    )
    assert set(selection.to_dict()) >= {"n_clusters", "k_values", "scores"}


def test_silhouette_separates_well_apart_blobs():
    z = _latent_blobs(4, spread=20.0)
    selection = k_selection.choose_n_clusters(
        z, (2, 8), "silhouette", random_state=0
    )
    assert selection.n_clusters == 4


def test_default_range_follows_the_rows():
    assert k_selection.default_k_range(10_000) == (2, 20)
    assert k_selection.default_k_range(150) == (2, 15)
    assert k_selection.default_k_range(12) == (2, 2)


@pytest.mark.parametrize(
    "text, expected", [("2:20", (2, 20)), (" 3 : 5 ", (3, 5)), ("4", (4, 4))]
)
def test_parse_k_range(text, expected):
    assert k_selection.parse_k_range(text) == expected


@pytest.mark.parametrize(
    "k_range, fragment",
    [
        ("5:3", "2 <= k_min <= k_max"),
        ((1, 4), "2 <= k_min <= k_max"),
        ("a:b", "MIN:MAX"),
        ((2, 500), "above the 100 samples"),
        ((2.5, 4), "2 <= k_min"),
    ],
)
def test_bad_ranges_are_named(k_range, fragment):
    with pytest.raises(ValueError, match="k_range") as error:
        k_selection.check_k_range(k_range, n_samples=100)
    assert fragment in str(error.value)


def test_latent_means_without_spread_are_refused():
    with pytest.raises(ValueError, match="no spread"):
        k_selection.choose_n_clusters(np.ones((50, 3)), (2, 4))
    with pytest.raises(ValueError, match="non-finite"):
        bad = _latent_blobs(2)
        bad[0, 0] = np.nan
        k_selection.choose_n_clusters(bad, (2, 4))


def test_unknown_criterion_is_named():
    with pytest.raises(ValueError, match="criterion"):
        k_selection.score_k(_latent_blobs(2), [2, 3], "aic")


def test_auto_is_recognised_in_any_case():
    assert k_selection.is_auto("auto") and k_selection.is_auto("AUTO")
    assert not k_selection.is_auto(3) and not k_selection.is_auto(None)
