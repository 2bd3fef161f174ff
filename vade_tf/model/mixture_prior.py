"""VaDE's Gaussian-mixture prior as a layer: `MixturePrior`.

It owns the mixture parameters (`theta_p`, `c_mean`, `c_var`) and computes,
in log space, the joint log p(c, z), the posterior p(c|z) (`p_c_z`) and
VaDE's cluster posterior q(c|x) = E_q(z|x)[p(c|z)] (`q_c_x`); it also draws
z from a component for generation.
"""

import math

import keras
import numpy as np
from keras import ops

from vade_tf import choices, numerics, validation
from vade_tf.model.config import DEFAULTS
from vade_tf.model.layers import MinValue, SimplexConstraint

GAMMA_MODES = choices.GAMMA_MODES


# The original release adds this to every p(c, z) before normalising in
# training ("original" mode only; see `MixturePrior.training_log_p_c_z`).
ORIGINAL_P_C_Z_OFFSET = 1e-10


@keras.saving.register_keras_serializable(package="vade_tf")
class MixturePrior(keras.layers.Layer):
    """VaDE's mixture prior p(c) p(z|c) and the cluster posterior.

    Holds three trainable weights: `theta_p` of shape `(K,)` (mixture
    weights, kept on the simplex), `c_mean` of shape `(K, D)` and `c_var`
    of shape `(K, D)` (diagonal variances, kept above `min_var`).

    The log joint is

    - `gamma_mode="exact"`: `log p(c, z) = log theta_c
      + sum_d log N(z_d | mu_cd, sigma2_cd)`, the Bayes posterior of the
      mixture (equal to `GaussianMixture.predict_proba` with the same
      parameters);
    - `gamma_mode="original"`: `sum_d (log theta_c + log N(z_d | mu_cd,
      sigma2_cd))`, as in the original VaDE release, which puts `log theta_c`
      inside the sum over the D latent dimensions and so weighs the prior as
      `theta_c ** D`. It sharpens the pull of large clusters; keep it to
      reproduce the published code exactly.

    The posterior `p(c|z) = softmax_c(log p(c, z))` is taken with a
    log-softmax, never as a ratio of exponentials. In training,
    `"original"` mode also reproduces the original's `p(c, z) + 1e-10`
    before normalising (`training_log_p_c_z`); with `theta_c ** D` the joint
    is often far below 1e-10, and the offset then pulls gamma towards
    uniform. Prediction has no offset, as in the original's test code.

    Args:
        n_clusters: int >= 2, K.
        latent_dim: int >= 1, D.
        gamma_mode: `"exact"` or `"original"`.
        min_var: float, the floor of `c_var`.
        min_weight: float, the floor of each mixture weight.
        seed: int or `None`; `c_mean` starts from N(0, 1) draws with this
            seed so the components differ even before `initialize_mixture`.

    Call arguments:
        inputs: tensor z of shape `(batch, D)`.

    Returns:
        `p(c|z)`, tensor of shape `(batch, K)`.

    Example:

    >>> layer = MixturePrior(n_clusters=3, latent_dim=2)
    >>> layer(np.zeros((4, 2), "float32")).shape
    (4, 3)
    """

    def __init__(
        self,
        n_clusters,
        latent_dim,
        gamma_mode=DEFAULTS.gamma_mode,
        min_var=1e-6,
        min_weight=1e-6,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        n_clusters = validation.check_n_clusters(n_clusters)
        latent_dim = validation.check_int(latent_dim, "latent_dim", 1)
        validation.check_choice(gamma_mode, "gamma_mode", GAMMA_MODES)
        if not 0.0 < min_weight < 1.0 / n_clusters:
            raise ValueError(
                f"min_weight must be in (0, 1 / n_clusters) = (0, "
                f"{1.0 / n_clusters:.4g}) for {n_clusters} clusters. "
                f"Received: min_weight={min_weight!r}"
            )
        if not min_var > 0.0:
            raise ValueError(f"min_var must be > 0. Received: {min_var!r}")
        self.n_clusters = int(n_clusters)
        self.latent_dim = int(latent_dim)
        self.gamma_mode = gamma_mode
        self.min_var = min_var
        self.min_weight = min_weight
        self.seed = seed

        self.theta_p = self.add_weight(
            shape=(n_clusters,),
            initializer=keras.initializers.Constant(1.0 / n_clusters),
            constraint=SimplexConstraint(min_weight),
            name="theta_p",
        )
        self.c_mean = self.add_weight(
            shape=(n_clusters, latent_dim),
            initializer=keras.initializers.RandomNormal(seed=seed),
            name="c_mean",
        )
        self.c_var = self.add_weight(
            shape=(n_clusters, latent_dim),
            initializer="ones",
            constraint=MinValue(min_var),
            name="c_var",
        )
        self.built = True

    def log_joint(self, z):
        """log p(c, z) for every component.

        Args:
            z: tensor of shape `(batch, D)`.

        Returns:
            Tensor of shape `(batch, K)`.
        """
        log_pdf = numerics.log_normal_diag(z, self.c_mean, self.c_var)
        log_theta = numerics.safe_log(self.theta_p)  # [K]
        if self.gamma_mode == "original":
            return ops.sum(log_pdf + log_theta[None, :, None], axis=-1)
        return ops.sum(log_pdf, axis=-1) + log_theta[None, :]

    def log_p_c_z(self, z):
        """log p(c|z), tensor of shape `(batch, K)`."""
        return ops.log_softmax(self.log_joint(z), axis=-1)

    def p_c_z(self, z):
        """p(c|z), tensor of shape `(batch, K)`."""
        return ops.exp(self.log_p_c_z(z))

    def training_log_p_c_z(self, z):
        """log gamma as the ELBO of training uses it, shape `(batch, K)`.

        In `"exact"` mode this is `log_p_c_z`. In `"original"` mode it is
        the original release's `log((p(c, z) + 1e-10) / sum_c (p(c, z) +
        1e-10))`, formed stably as `logaddexp(log p(c, z), log 1e-10)`
        before the log-softmax.

        Args:
            z: tensor of shape `(batch, D)`.

        Returns:
            Tensor of shape `(batch, K)`.
        """
        log_joint = self.log_joint(z)
        if self.gamma_mode == "original":
            offset = ops.cast(math.log(ORIGINAL_P_C_Z_OFFSET), log_joint.dtype)
            log_joint = ops.logaddexp(log_joint, offset)
        return ops.log_softmax(log_joint, axis=-1)

    def log_q_c_x(self, z_mean, z_log_var=None, n_samples=0, seed=None):
        """log q(c|x) = log E_q(z|x)[p(c|z)].

        With `n_samples=0` (or no `z_log_var`) the expectation is taken at
        z = z_mean, VaDE's usual deterministic approximation. With
        `n_samples=L > 0` it is the Monte Carlo average over L draws of z,
        formed as a logsumexp.

        Args:
            z_mean: tensor of shape `(batch, D)`.
            z_log_var: tensor of shape `(batch, D)` or `None`.
            n_samples: int >= 0.
            seed: int, `SeedGenerator` or `None`, for the draws.

        Returns:
            Tensor of shape `(batch, K)`.
        """
        if not n_samples or z_log_var is None:
            return self.log_p_c_z(z_mean)
        batch = ops.shape(z_mean)[0]
        epsilon = keras.random.normal(
            (n_samples, batch, self.latent_dim), dtype=z_mean.dtype, seed=seed
        )
        std = ops.exp(0.5 * numerics.clip_log_var(z_log_var))
        z = z_mean[None] + std[None] * epsilon
        log_p = self.log_p_c_z(ops.reshape(z, (-1, self.latent_dim)))
        stacked = ops.reshape(log_p, (n_samples, batch, self.n_clusters))
        return ops.logsumexp(stacked, axis=0) - math.log(n_samples)

    def q_c_x(self, z_mean, z_log_var=None, n_samples=0, seed=None):
        """q(c|x), tensor of shape `(batch, K)`; see `log_q_c_x`."""
        return ops.exp(self.log_q_c_x(z_mean, z_log_var, n_samples, seed))

    def call(self, inputs):
        return self.p_c_z(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_clusters)

    # --- The parameters as numpy arrays ------------------------------------

    def set_parameters(self, theta_p, c_mean, c_var):
        """Assigns the mixture parameters, checked and projected to be valid.

        Args:
            theta_p: array of shape `(K,)`, >= 0 (normalised to sum to 1).
            c_mean: array of shape `(K, D)`.
            c_var: array of shape `(K, D)`, > 0 (floored as the variable's
                constraint says).

        Raises:
            ValueError: for a wrong shape, a value that is not finite, a
                negative weight or a variance <= 0.
        """
        expected = {
            "theta_p": (self.n_clusters,),
            "c_mean": (self.n_clusters, self.latent_dim),
            "c_var": (self.n_clusters, self.latent_dim),
        }
        values = {"theta_p": theta_p, "c_mean": c_mean, "c_var": c_var}
        checked = {}
        for name, value in values.items():
            value = np.asarray(value, dtype="float32")
            if value.shape != expected[name]:
                raise ValueError(
                    f"{name} must have shape {expected[name]}. "
                    f"Received shape {value.shape}."
                )
            if not np.isfinite(value).all():
                raise ValueError(f"{name} contains NaN or inf.")
            checked[name] = value
        # The projection below mends rounding (a weight of 0, a variance
        # under the floor), not a sign error, which it would hide.
        if (checked["theta_p"] < 0).any() or (checked["c_var"] <= 0).any():
            raise ValueError(
                "theta_p must be >= 0 and c_var > 0. Received: smallest "
                f"theta_p {float(checked['theta_p'].min())}, smallest c_var "
                f"{float(checked['c_var'].min())}."
            )
        for name, value in checked.items():
            variable = getattr(self, name)
            if variable.constraint is not None:
                value = variable.constraint(value)
            variable.assign(value)

    def sample_z(
        self, cluster, n_samples, seed=None, min_posterior=None, max_draws=None
    ):
        """Draws z ~ N(c_mean[cluster], diag c_var[cluster]).

        With `min_posterior` (the original used 0.999) only draws whose
        p(cluster|z) reaches it are kept, drawing in rounds until
        `n_samples` are kept or `max_draws` draws were made.

        Args:
            cluster: int in `[0, K)`.
            n_samples: int >= 1.
            seed: int or `None`, seeds a numpy generator.
            min_posterior: float in (0, 1] or `None`.
            max_draws: int, the bound on draws; default
                `max(1000 * n_samples, 100000)`.

        Returns:
            float32 numpy array of shape `(n_samples, D)`.
        """
        if not validation.is_int(cluster) or not (
            0 <= cluster < self.n_clusters
        ):
            raise ValueError(
                f"cluster must be an integer in [0, {self.n_clusters}). "
                f"Received: cluster={cluster!r}"
            )
        n_samples = validation.check_int(n_samples, "n_samples", 1)
        if min_posterior is not None and not 0 < min_posterior <= 1:
            raise ValueError(
                "min_posterior must be in (0, 1] or None. "
                f"Received: min_posterior={min_posterior!r}"
            )
        if max_draws is None:
            max_draws = max(1000 * n_samples, 100000)
        rng = np.random.default_rng(seed)
        mean = ops.convert_to_numpy(self.c_mean)[cluster]
        std = np.sqrt(ops.convert_to_numpy(self.c_var)[cluster])
        kept, n_kept, drawn = [], 0, 0
        while n_kept < n_samples:
            if drawn >= max_draws:
                raise ValueError(
                    f"Only {n_kept} of {drawn} draws from cluster {cluster} "
                    f"reached p(c|z) >= {min_posterior}; {n_samples} were "
                    "asked for. Lower min_posterior or raise max_draws."
                )
            size = n_samples if min_posterior is None else 4 * n_samples
            z = mean + std * rng.standard_normal((size, self.latent_dim))
            z = z.astype("float32")
            drawn += size
            if min_posterior is not None:
                posterior = ops.convert_to_numpy(self.p_c_z(z))
                z = z[posterior[:, cluster] >= min_posterior]
            kept.append(z)
            n_kept += len(z)
        return np.concatenate(kept, axis=0)[:n_samples]

    def get_config(self):
        config = {
            "n_clusters": self.n_clusters,
            "latent_dim": self.latent_dim,
            "gamma_mode": self.gamma_mode,
            "min_var": self.min_var,
            "min_weight": self.min_weight,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


# The layer's name before the rename, for code and saved files that use it.
GMMPosterior = MixturePrior
keras.saving.get_custom_objects()["vade_tf>GMMPosterior"] = MixturePrior
