"""Layers and constraints that hold VaDE's Gaussian-mixture prior.

`GMMPosterior` owns the mixture parameters (`theta_p`, `c_mean`, `c_var`)
and computes, in log space, the joint log p(c, z), the posterior p(c|z)
(`p_c_z`) and VaDE's cluster posterior q(c|x) = E_q(z|x)[p(c|z)] (`q_c_x`).
`Sampling` draws z from q(z|x) with the reparameterisation trick.
"""

import math

import keras
import numpy as np
from keras import ops

from vade_tf import numerics, options, validation

GAMMA_MODES = options.GAMMA_MODES
# The original release adds this to every p(c, z) before normalising in
# training ("original" mode only; see `GMMPosterior.training_log_p_c_z`).
ORIGINAL_P_C_Z_OFFSET = 1e-10


# =============================================================================
# Constraints: keep the mixture valid after every optimizer step
# =============================================================================


@keras.saving.register_keras_serializable(package="vade_tf")
class SimplexConstraint(keras.constraints.Constraint):
    """Maps a weight vector onto the probability simplex with a floor.

    Negative entries count as 0. The result is `v = max(c * w, min_value)`
    with the one factor `c > 0` that makes `sum(v) = 1`: the weights are
    renormalised, and those that would fall below the floor are held at
    it while the others share what is left in their proportions (found
    exactly by sorting, not by one pass that can leave entries below the
    floor). With nothing positive left the result is uniform. Whatever the
    input, the output sums to 1 and no weight is below the floor, so every
    log weight stays finite; a vector already in that set is unchanged.

    Args:
        min_value: float, the smallest weight any component keeps; must be
            below `1 / n_components` (`GMMPosterior` checks this).
    """

    def __init__(self, min_value=1e-6):
        if not 0.0 < min_value < 1.0:
            raise ValueError(
                "Expected 0 < min_value < 1 for SimplexConstraint. "
                f"Received: min_value={min_value}"
            )
        self.min_value = min_value

    def __call__(self, w):
        w = ops.maximum(ops.convert_to_tensor(w), 0.0)
        n = ops.shape(w)[-1]
        floor = self.min_value
        descending = ops.flip(ops.sort(w, axis=-1), axis=-1)
        # With the j largest weights above the floor and the rest at it,
        # the factor is c_j = (1 - (n - j) floor) / (sum of the j largest).
        # The right j is the largest whose j-th weight stays above the
        # floor at c_j (a prefix of 1..n, never empty when w has a
        # positive entry).
        kept = ops.cast(ops.arange(1, n + 1), w.dtype)
        mass = ops.cumsum(descending, axis=-1)
        factors = (1.0 - (ops.cast(n, w.dtype) - kept) * floor) / ops.maximum(
            mass, 1e-30
        )
        above = factors * descending >= floor
        count = ops.sum(ops.cast(above, "int32"), axis=-1, keepdims=True)
        factor = ops.take_along_axis(
            factors, ops.maximum(count - 1, 0), axis=-1
        )
        uniform = ops.ones_like(w) / ops.cast(n, w.dtype)
        positive = ops.sum(w, axis=-1, keepdims=True) > 0
        return ops.where(positive, ops.maximum(factor * w, floor), uniform)

    def get_config(self):
        return {"min_value": self.min_value}


@keras.saving.register_keras_serializable(package="vade_tf")
class MinValue(keras.constraints.Constraint):
    """Clips a weight tensor below at `min_value` (a variance floor).

    Args:
        min_value: float, the floor.
    """

    def __init__(self, min_value=1e-6):
        if not min_value > 0.0:
            raise ValueError(
                "Expected min_value > 0 for MinValue. "
                f"Received: min_value={min_value}"
            )
        self.min_value = min_value

    def __call__(self, w):
        return ops.maximum(w, self.min_value)

    def get_config(self):
        return {"min_value": self.min_value}


# =============================================================================
# Layers
# =============================================================================


def reparameterize(z_mean, z_log_var, seed=None):
    """One draw z = z_mean + exp(z_log_var / 2) * epsilon, epsilon ~ N(0, I).

    Args:
        z_mean: tensor of shape `(batch, D)`.
        z_log_var: tensor of shape `(batch, D)`.
        seed: int, `keras.random.SeedGenerator` or `None`.

    Returns:
        Tensor of shape `(batch, D)`.
    """
    epsilon = keras.random.normal(
        ops.shape(z_mean), dtype=z_mean.dtype, seed=seed
    )
    std = ops.exp(0.5 * numerics.clip_log_var(z_log_var))
    return z_mean + std * epsilon


@keras.saving.register_keras_serializable(package="vade_tf")
class Standardize(keras.layers.Layer):
    """Per-feature standardisation `(x - mean) / std`, and its inverse.

    VaDE applies it to the input before the encoder and the likelihood, and
    undoes it on what the decoder returns, so a model trained on unscaled
    features (values in the hundreds) takes and returns data in the user's
    units, in `predict`, `generate`, a saved model and the SavedModel
    export alike. Until `adapt` is called it is the identity (mean 0,
    std 1), as for the bernoulli likelihood.

    Args:
        input_dim: int, the number of features.

    Call arguments:
        inputs: tensor of shape `(batch, input_dim)`.

    Returns:
        The standardised tensor, float32, same shape.
    """

    def __init__(self, input_dim, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.input_dim = validation.check_int(input_dim, "input_dim", 1)
        self.mean = self.add_weight(
            shape=(self.input_dim,),
            initializer="zeros",
            trainable=False,
            name="mean",
        )
        self.std = self.add_weight(
            shape=(self.input_dim,),
            initializer="ones",
            trainable=False,
            name="std",
        )
        self.built = True

    def adapt(self, x):
        """Sets the mean and std from numpy data `x` `(n, input_dim)`.

        A constant feature (spread below float32's smallest normal number)
        keeps std 1: it is only shifted.
        """
        x = np.asarray(x, dtype="float64")
        std = x.std(axis=0)
        self.mean.assign(x.mean(axis=0).astype("float32"))
        # A spread float32 cannot hold as a normal number (a subnormal std
        # is flushed to zero on the CPU) counts as none.
        constant = std < np.finfo(np.float32).tiny
        self.std.assign(np.where(constant, 1.0, std).astype("float32"))

    @property
    def is_identity(self):
        """True while mean is 0 and std is 1 (nothing adapted)."""
        return bool(
            np.all(ops.convert_to_numpy(self.mean) == 0)
            and np.all(ops.convert_to_numpy(self.std) == 1)
        )

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        return (inputs - self.mean) / self.std

    def inverse(self, outputs):
        """`outputs * std + mean`: standardised values back in data units."""
        return ops.cast(outputs, "float32") * self.std + self.mean

    def transform(self, x):
        """`call` on a numpy array, returning float32 numpy."""
        mean = ops.convert_to_numpy(self.mean)
        std = ops.convert_to_numpy(self.std)
        return ((np.asarray(x, dtype="float32") - mean) / std).astype("float32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def load_own_variables(self, store):
        # Model files written before VaDE had this layer have no entry for
        # it: they keep the identity, which is what they were trained with.
        if len(store.keys()) == 0:
            return
        super().load_own_variables(store)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim}


# The name of the decoder's `SharedParameters` layer (the weight files and
# `VaDE.decoder_outputs` find it by this name).
LIKELIHOOD_PARAMETERS = "likelihood_parameters"


@keras.saving.register_keras_serializable(package="vade_tf")
class SharedParameters(keras.layers.Layer):
    """Appends trainable values, the same for every sample, to its input.

    The decoder's free likelihood parameters: the negative binomial's log
    size per feature (or per cluster and feature) is not a function of z,
    so it is a variable, broadcast over the batch and appended to the
    decoder's outputs. It then trains, saves and loads with the decoder.
    Kept in float32 under a mixed-precision policy.

    Args:
        units: int >= 1, the number of values appended.
        initializer: their initial values (default zeros: size 1).

    Call arguments:
        inputs: tensor of shape `(batch, n)`.

    Returns:
        float32 tensor of shape `(batch, n + units)`.
    """

    def __init__(self, units, initializer="zeros", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.units = validation.check_int(units, "units", 1)
        self.initializer = keras.initializers.get(initializer)
        self.values = self.add_weight(
            shape=(self.units,), initializer=self.initializer, name="values"
        )
        self.built = True

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        batch = ops.shape(inputs)[0]
        shared = ops.broadcast_to(self.values[None, :], (batch, self.units))
        return ops.concatenate([inputs, shared], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "initializer": keras.initializers.serialize(self.initializer),
        }


@keras.saving.register_keras_serializable(package="vade_tf")
class CountMean(keras.layers.Layer):
    """The mean of a (zero-inflated) negative binomial from raw outputs.

    `exp(log_mean)`, times `1 - sigmoid(dropout_logit)` when zero-inflated,
    from the decoder's raw outputs laid out as
    `vade_tf.losses.NegativeBinomialLikelihood.split_outputs` reads them
    (the shared log sizes, at the end, are not used).

    Args:
        input_dim: int, the number of features D.
        zero_inflated: bool.

    Call arguments:
        inputs: tensor of shape `(batch, n)`, n >= D (2 D when
            zero-inflated).

    Returns:
        float32 tensor of shape `(batch, D)`.
    """

    def __init__(self, input_dim, zero_inflated=False, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.input_dim = validation.check_int(input_dim, "input_dim", 1)
        self.zero_inflated = bool(zero_inflated)

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        dim = self.input_dim
        limit = numerics.LOG_MEAN_LIMIT
        mean = ops.exp(ops.clip(inputs[:, :dim], -limit, limit))
        if self.zero_inflated:
            mean = mean * ops.sigmoid(-inputs[:, dim : 2 * dim])
        return mean

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.input_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "zero_inflated": self.zero_inflated,
        }


@keras.saving.register_keras_serializable(package="vade_tf")
class Sampling(keras.layers.Layer):
    """Draws z ~ N(z_mean, exp(z_log_var)) by reparameterisation.

    Args:
        seed: int or `None`, seed of the layer's `SeedGenerator`.

    Call arguments:
        inputs: pair `(z_mean, z_log_var)`, each of shape `(batch, D)`.

    Returns:
        Tensor of shape `(batch, D)`.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._build_at_init()

    def call(self, inputs):
        z_mean, z_log_var = inputs
        return reparameterize(z_mean, z_log_var, self.seed_generator)

    # Keras saves a layer's own weights, not its SeedGenerator's state; a
    # checkpoint that resumes training needs the draws to go on where they
    # were, so the state is saved with the layer.
    _STATE_KEY = "seed_generator_state"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[self._STATE_KEY] = ops.convert_to_numpy(self.seed_generator.state)

    def load_own_variables(self, store):
        # Files written before the state was saved have no entry.
        if self._STATE_KEY in store:
            self.seed_generator.state.assign(store[self._STATE_KEY])

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="vade_tf")
class GMMPosterior(keras.layers.Layer):
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
            seed so the components differ even before `initialize_gmm`.

    Call arguments:
        inputs: tensor z of shape `(batch, D)`.

    Returns:
        `p(c|z)`, tensor of shape `(batch, K)`.

    Example:

    >>> layer = GMMPosterior(n_clusters=3, latent_dim=2)
    >>> layer(np.zeros((4, 2), "float32")).shape
    (4, 3)
    """

    def __init__(
        self,
        n_clusters,
        latent_dim,
        gamma_mode="exact",
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
