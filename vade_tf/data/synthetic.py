"""Synthetic data with known clusters, for tests and benchmarks."""

import numpy as np


def make_count_clusters(
    n_samples=3000,
    n_features=500,
    n_clusters=5,
    de_fraction=0.1,
    de_scale=0.6,
    library_mean=1000.0,
    library_spread=0.5,
    dropout=True,
    random_state=None,
    return_parameters=False,
):
    """Counts from a known mixture of zero-inflated negative binomials.

    A simulated single-cell RNA-seq experiment, in the spirit of Splatter
    (Zappia et al., Genome Biology 2017):

    - each feature (gene) g has a base log expression `b_g ~ N(0, 1)` and
      a size (inverse dispersion) `r_g ~ LogNormal(log 2, 0.5)`;
    - each cluster changes a random `de_fraction` of the genes by a log
      fold change `~ N(0, de_scale)`, and the cluster's expression profile
      is the softmax of the changed log expressions;
    - each sample's library size is `LogNormal(log library_mean,
      library_spread)`, its cluster uniform, and its mean count per gene
      the library size times the profile;
    - counts are NB(mean, r_g), and with `dropout` each is zeroed with
      probability `sigmoid(-1 - log mean)` (more dropout for low means).

    With the defaults about half the counts are 0 and the clusters are
    hard but not hopeless; `python -m benchmarks.quality.count_clusters`
    measures how
    well the true parameters, k-means and VaDE separate them
    (docs/results.md, "Count data").

    Args:
        n_samples: int, the number of samples.
        n_features: int, the number of genes.
        n_clusters: int >= 2.
        de_fraction: float in (0, 1], the share of genes each cluster
            changes.
        de_scale: float > 0, the spread of the log fold changes.
        library_mean: float > 0, the typical library size.
        library_spread: float >= 0, the std of the log library size.
        dropout: bool, zero-inflate the counts.
        random_state: int or `None`.
        return_parameters: bool, also return the true parameters.

    Returns:
        Tuple `(x, y)`: float32 counts `(n_samples, n_features)` and int64
        cluster labels `(n_samples,)`; with `return_parameters`, a third
        item, a dict with `profile` `(n_clusters, n_features)`, `size`
        `(n_features,)` and `library` `(n_samples,)`.
    """
    rng = np.random.default_rng(random_state)
    base = rng.normal(size=n_features)
    size = np.exp(rng.normal(np.log(2.0), 0.5, size=n_features))
    log_profile = np.tile(base, (n_clusters, 1))
    for cluster in range(n_clusters):
        changed = rng.random(n_features) < de_fraction
        log_profile[cluster, changed] += rng.normal(
            0.0, de_scale, size=int(changed.sum())
        )
    profile = np.exp(log_profile - log_profile.max(axis=1, keepdims=True))
    profile /= profile.sum(axis=1, keepdims=True)
    y = rng.integers(n_clusters, size=n_samples)
    library = np.exp(
        rng.normal(np.log(library_mean), library_spread, size=n_samples)
    )
    mean = library[:, None] * profile[y]
    # NB(mean, r) as a gamma-Poisson mixture.
    x = rng.poisson(rng.gamma(size, mean / size)).astype("float64")
    if dropout:
        keep = rng.random(x.shape) >= 1.0 / (1.0 + np.exp(1.0 + np.log(mean)))
        x *= keep
    if return_parameters:
        parameters = {"profile": profile, "size": size, "library": library}
        return x.astype("float32"), y.astype("int64"), parameters
    return x.astype("float32"), y.astype("int64")
