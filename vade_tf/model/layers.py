"""VaDE's layers and constraints: the mixture's constraints, the input
standardisation, the likelihoods' shared parameters, the draw of z.

`Sampling` draws z from q(z|x) with the reparameterisation trick. The
mixture prior itself, `MixturePrior`, is in `vade_tf.model.mixture_prior`.
"""


import keras
import numpy as np
from keras import ops

from vade_tf import numerics, validation

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
            below `1 / n_components` (`MixturePrior` checks this).
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
    `vade_tf.model.likelihoods.NegativeBinomialLikelihood.split_outputs`
    reads them (the shared log sizes, at the end, are not used).

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
