"""Starting VaDE's mixture prior: the latent mixture fit and the latent scale.

VaDE starts from a Gaussian mixture fitted on the pretrained autoencoder's
latent means. `initialize_mixture` does the whole start on a model:
optionally rescale the latent space (`scale_latent`), fit the mixture
(`fit_latent_mixture`), write it into the model's `MixturePrior`, and set
the encoder's log-variance head to a constant suited to the mixture.
scikit-learn does the fitting; nothing here runs inside a traced function.
"""

import numpy as np

from vade_tf import choices, numerics, validation

# The encoder's log-variance head starts at this fraction of the mixture's
# mean variance per latent dimension: q(z|x) narrower than the clusters.
POSTERIOR_VAR_RATIO = 0.1


def fit_latent_mixture(
    z, n_clusters, mixture_init="gmm", random_state=None, n_init=1
):
    """Fits a mixture on latent means for VaDE's prior.

    Both starts begin with the best of `n_init` k-means runs (lowest
    inertia). `"kmeans"` stops there: each cluster's share of the points is
    its weight, its centre the mean and its members' per-dimension variance
    the variance. `"gmm"` then runs EM for a diagonal `GaussianMixture`
    started from exactly that partition. Starting EM from the best k-means
    partition, rather than from scikit-learn's default (one k-means run per
    EM start, best final likelihood kept), stays closer to k-means: on a
    strong MNIST autoencoder k-means gave ACC 0.93, EM from it 0.89 and
    scikit-learn's default 0.80, whose broad components absorb the edges
    of tight neighbouring clusters (docs/results.md). VaDE started from
    `"kmeans"` did best there.

    Args:
        z: array of shape `(n_samples, latent_dim)`.
        n_clusters: int.
        mixture_init: one of `vade_tf.choices.MIXTURE_INITS`.
        random_state: int or `None`.
        n_init: int, k-means runs.

    Returns:
        Tuple `(estimator, weights (K,), means (K, D), variances (K, D))`;
        the estimator is the fitted `GaussianMixture` or `KMeans`.
    """
    from sklearn import cluster, mixture

    validation.check_choice(mixture_init, "mixture_init", choices.MIXTURE_INITS)
    n_init = validation.check_int(n_init, "n_init", 1)
    kmeans = cluster.KMeans(
        n_clusters=n_clusters, random_state=random_state, n_init=n_init
    ).fit(z)
    labels = kmeans.labels_
    weights = np.bincount(labels, minlength=n_clusters) / len(labels)
    variances = np.ones((n_clusters, z.shape[1]))
    for k in range(n_clusters):
        members = z[labels == k]
        if len(members) > 1:
            variances[k] = members.var(axis=0) + 1e-6
    if mixture_init == "kmeans":
        return kmeans, weights, kmeans.cluster_centers_, variances
    floored = np.maximum(weights, 1e-6)
    estimator = mixture.GaussianMixture(
        n_components=n_clusters,
        covariance_type="diag",
        weights_init=floored / floored.sum(),
        means_init=kmeans.cluster_centers_,
        precisions_init=1.0 / variances,
        random_state=random_state,
    ).fit(z)
    return (
        estimator,
        estimator.weights_,
        estimator.means_,
        estimator.covariances_,
    )


def mixture_log_likelihood(z, weights, means, variances):
    """Mean log-likelihood of `z` under a diagonal Gaussian mixture.

    `mean_n log sum_k w_k prod_d N(z_nd | mu_kd, sigma2_kd)`, in log space.

    Args:
        z: array of shape `(n_samples, D)`.
        weights: array of shape `(K,)`.
        means: array of shape `(K, D)`.
        variances: array of shape `(K, D)`, positive.

    Returns:
        float.
    """
    from scipy import special

    z = np.asarray(z, dtype="float64")
    means = np.asarray(means, dtype="float64")
    variances = np.asarray(variances, dtype="float64")
    log_pdf = -0.5 * np.sum(
        np.log(2.0 * np.pi * variances)[None]
        + (z[:, None, :] - means[None]) ** 2 / variances[None],
        axis=-1,
    )
    log_weights = np.log(np.maximum(np.asarray(weights, "float64"), 1e-300))
    return float(np.mean(special.logsumexp(log_pdf + log_weights, axis=1)))


def fit_best_latent_mixture(
    z, n_clusters, mixture_init="gmm", random_state=None, n_init=1, n_restarts=1
):
    """`fit_latent_mixture` from `n_restarts` seeds; the most likely fit wins.

    Each restart draws its own seed from `random_state` and runs
    `fit_latent_mixture`; the fit whose mixture gives the latent means the
    highest mean log-likelihood (`mixture_log_likelihood`) is kept. No
    labels are used. `n_restarts=1` is `fit_latent_mixture` itself.

    Args:
        z, n_clusters, mixture_init, random_state, n_init: see
            `fit_latent_mixture`.
        n_restarts: int >= 1.

    Returns:
        The tuple of `fit_latent_mixture` for the best restart.
    """
    n_restarts = validation.check_int(n_restarts, "n_restarts", 1)
    if n_restarts == 1:
        return fit_latent_mixture(
            z, n_clusters, mixture_init, random_state, n_init
        )
    seeds = np.random.SeedSequence(random_state).generate_state(n_restarts)
    best, best_score = None, -np.inf
    for seed in seeds:
        fit = fit_latent_mixture(z, n_clusters, mixture_init, int(seed), n_init)
        score = mixture_log_likelihood(z, *fit[1:])
        if score > best_score:
            best, best_score = fit, score
    return best


def scale_latent(model, factor):
    """Multiplies the latent space by `factor`; the model stays the same.

    z becomes `factor * z`: the `z_mean` head's kernel and bias and the
    mixture's means are multiplied by `factor`, its variances by
    `factor**2`, the `z_log_var` head's bias is raised by
    `2 * log(factor)`, and the decoder's first kernel is divided by
    `factor`. Reconstructions, cluster posteriors and the ELBO are
    unchanged; what changes is how far one optimizer step moves the mixture
    relative to the clusters' size, since Adam's steps are about the same
    size (the learning rate) whatever the scale of the variable.

    One exception: the training gamma of `gamma_mode="original"` adds the
    original release's absolute constant 1e-10 to p(c, z), and densities
    scale by `factor ** -D`, so rescaling changes how strongly that
    constant flattens gamma (a larger latent scale, a flatter gamma).

    Args:
        model: a `vade_tf.VaDE`.
        factor: float > 0.
    """
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(
            f"factor must be a finite float > 0. Received: {factor}"
        )
    head = model.encoder.get_layer("z_mean")
    head.kernel.assign(head.kernel * factor)
    head.bias.assign(head.bias * factor)
    log_var = model.encoder.get_layer("z_log_var")
    log_var.bias.assign(log_var.bias + 2.0 * float(np.log(factor)))
    first = model.decoder.get_layer("decoder1")
    first.kernel.assign(first.kernel / factor)
    gmm = model.gmm
    gmm.c_mean.assign(gmm.c_mean * factor)
    gmm.c_var.assign(gmm.c_var * factor**2)


def check_latent_means(z):
    """Raises a clear error for latent means no mixture can be fitted on.

    Args:
        z: array of shape `(n_samples, latent_dim)`.
    """
    if not np.all(np.isfinite(z)):
        raise FloatingPointError(
            "The latent means are not finite: the autoencoder diverged. "
            "Likely causes: features far from unit scale with "
            "input_scaling='none' (standardise them), or values beyond "
            "float32's range."
        )
    if not float(np.mean(z.std(axis=0))) > 0.0:
        raise ValueError(
            "The latent means have no spread (every row is encoded alike), "
            "so there is nothing to cluster. Likely causes: identical or "
            "all-zero rows, or values too small for float32 (below about "
            "1e-38); check the data's scale."
        )


def initialize_mixture(
    model,
    x,
    mixture_init="gmm",
    random_state=None,
    n_init=1,
    posterior_var_ratio=POSTERIOR_VAR_RATIO,
    latent_std=None,
    n_restarts=1,
):
    """Fits `model`'s mixture prior on the latent means of `x`.

    See `VaDE.initialize_mixture`, which calls this.

    Args:
        model: a `vade_tf.VaDE`.
        x: array of shape `(n_samples, input_dim)`.
        mixture_init: one of `vade_tf.choices.MIXTURE_INITS`.
        random_state: int or `None`, passed to scikit-learn.
        n_init: int, k-means runs.
        posterior_var_ratio: float > 0, or `None` to leave the
            log-variance head as it is.
        latent_std: float > 0 or `None`, the latent means' mean
            per-dimension std after rescaling; `None` keeps the scale.
        n_restarts: int >= 1, whole fits from different seeds; the most
            likely is kept (`fit_best_latent_mixture`).

    Returns:
        The fitted scikit-learn estimator.
    """
    if posterior_var_ratio is not None:
        validation.check_positive_float(
            posterior_var_ratio, "posterior_var_ratio"
        )
    if latent_std is not None:
        validation.check_positive_float(latent_std, "latent_std")
    validation.check_choice(mixture_init, "mixture_init", choices.MIXTURE_INITS)
    x = validation.check_model_input(model, x, clusters=True, streamed=False)
    z = model.transform(x, check_input=False).astype("float64")
    check_latent_means(z)
    if latent_std is not None:
        factor = latent_std / float(np.mean(z.std(axis=0)))
        scale_latent(model, factor)
        z = z * factor
    estimator, weights, means, variances = fit_best_latent_mixture(
        z, model.n_clusters, mixture_init, random_state, n_init, n_restarts
    )
    model.gmm.set_parameters(weights, means, variances)
    if posterior_var_ratio is not None:
        head = model.encoder.get_layer("z_log_var")
        head.kernel.assign(np.zeros(head.kernel.shape, "float32"))
        # Inside the clip of the encoder's log-variances, where the head
        # still gets a gradient.
        log_var = np.log(posterior_var_ratio * np.mean(variances, axis=0))
        limit = numerics.LOG_VAR_LIMIT
        head.bias.assign(np.clip(log_var, -limit, limit).astype("float32"))
    return estimator
