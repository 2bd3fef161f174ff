"""The observation model p(x|z): the likelihoods VaDE's decoder can have.

`BernoulliLikelihood` (data in [0, 1]), `GaussianLikelihood`, and for raw
counts `NegativeBinomialLikelihood` and its zero-inflated form, or your own
subclass of `Likelihood`. Each gives `-log p(x|z)` per sample from the
decoder's raw outputs, in a numerically stable form; `get_likelihood`
takes a name or an object.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vade_tf import choices, numerics, validation
from vade_tf.model import layers as vade_layers


class Likelihood:
    """The observation model p(x|z), parameterised by the decoder.

    The decoder's last Dense layer gives `sample_parameters * input_dim`
    raw parameters per sample, followed by the rows of `shared_parameters`
    (`outputs`); `mean_layer` (by default `output_activation`) maps them to
    the mean of p(x|z), which is what `model.decoder` returns. Subclasses
    implement `negative_log_likelihood` on the raw parameters, which lets
    them use the numerically stable form (for example binary cross-entropy
    from logits).

    A custom likelihood that should survive `model.save` and
    `keras.models.load_model` is registered with
    `@keras.saving.register_keras_serializable()` and returns its
    constructor arguments from `get_config`.
    """

    name = None
    output_activation = "linear"
    # Decoder outputs per feature and sample: 1 (the mean's parameter), or
    # more for likelihoods with other per-sample parameters (the ZINB's
    # dropout logit).
    sample_parameters = 1
    # True when p(x|z, c) depends on the cluster: `negative_log_likelihood`
    # then takes `gamma`, q(c|x), and returns the expectation over c.
    cluster_dependent = False

    def negative_log_likelihood(self, x, outputs):
        """Per-sample `-log p(x|z)` up to a constant.

        Args:
            x: tensor of shape `(batch, input_dim)`, the data.
            outputs: tensor of shape `(batch, input_dim)`, the decoder's
                raw (pre-activation) outputs.

        Returns:
            Tensor of shape `(batch,)`.
        """
        raise NotImplementedError

    def check_data(self, x):
        """Raises `ValueError` when numpy array `x` is outside the support."""

    def conform(self, x):
        """`x` as the likelihood scores it, after `check_data` passed; the
        identity by default.

        Args:
            x: float32 numpy array `(n_samples, input_dim)`.

        Returns:
            float32 numpy array of the same shape (a copy when changed).
        """
        return x

    def shared_parameters(self, n_clusters):
        """Rows of free per-feature parameters the decoder appends.

        The decoder's raw outputs are its last Dense layer's
        `sample_parameters * input_dim` columns followed by these rows of
        `input_dim` trainable values, the same for every sample (a
        dispersion per feature, or per cluster and feature). 0 by default.

        Args:
            n_clusters: int, the model's K.

        Returns:
            int >= 0.
        """
        return 0

    def encoder_input(self, x):
        """What the encoder sees of `x`; the identity by default.

        Args:
            x: tensor of shape `(batch, input_dim)`.

        Returns:
            Tensor of the same shape.
        """
        return x

    def adapted(self, x):
        """This likelihood with its data-dependent settings taken from the
        training data `x` (numpy): `self` by default, a new object when
        something is set. Called by `vade_tf.workflow.build_model`."""
        return self

    def mean_layer(self, input_dim, name="x_hat"):
        """The Keras layer from the decoder's raw outputs to the mean of
        p(x|z), shape `(batch, input_dim)`: `output_activation` by default.
        """
        return keras.layers.Activation(self.output_activation, name=name)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="vade_tf")
class BernoulliLikelihood(Likelihood):
    """Independent Bernoulli pixels, for data in [0, 1] (binary or grey).

    `-log p(x|z) = sum_i BCE(x_i, sigmoid(l_i))
                 = sum_i softplus(l_i) - x_i l_i`,
    that is `input_dim * binary_crossentropy` as in the original release,
    computed from the logits `l` so it never takes the log of zero.
    """

    name = "bernoulli"
    output_activation = "sigmoid"

    def negative_log_likelihood(self, x, outputs):
        return ops.sum(ops.softplus(outputs) - x * outputs, axis=-1)

    def check_data(self, x):
        low, high = float(np.min(x)), float(np.max(x))
        tolerance = validation.UNIT_INTERVAL_TOLERANCE
        if low < -tolerance or high > 1.0 + tolerance:
            raise ValueError(
                "The bernoulli likelihood needs data in [0, 1]. Received "
                f"values in [{str(np.float32(low))}, {str(np.float32(high))}]. "
                "Scale the data to [0, 1] (for example divide images by 255) "
                'or use likelihood="gaussian".'
            )

    def conform(self, x):
        # Values within the tolerance of [0, 1] (a scaler's rounding),
        # which `check_data` let through, onto it.
        if float(np.min(x)) < 0.0 or float(np.max(x)) > 1.0:
            return np.clip(x, 0.0, 1.0)
        return x


@keras.saving.register_keras_serializable(package="vade_tf")
class GaussianLikelihood(Likelihood):
    """Gaussian observations with variance 1/2 and a linear decoder output.

    `-log p(x|z) = sum_i (x_i - xhat_i)^2 + const`, that is
    `input_dim * MSE` as in the original release. This is the exact negative
    log-likelihood of N(x; xhat, 1/2) up to its constant; `alpha=0.5` gives
    the ELBO of a unit-variance Gaussian instead.
    """

    name = "gaussian"
    output_activation = "linear"

    def negative_log_likelihood(self, x, outputs):
        return ops.sum(ops.square(x - outputs), axis=-1)


# The library size counts are scaled to before the encoder's log1p when
# `normalize_library=True` and no data set it (`NegativeBinomialLikelihood`).
DEFAULT_TARGET_SUM = 1e4


DISPERSIONS = ("feature", "cluster")


def negative_binomial_log_prob(x, log_mean, log_size):
    """`log NB(x; mean, size)` elementwise, in log space.

    The negative binomial of mean mu and size (inverse dispersion) r, with
    variance mu + mu^2 / r:

        log NB(x) = lgamma(x + r) - lgamma(r) - lgamma(x + 1)
                    + r (log r - log(r + mu)) + x (log mu - log(r + mu))

    `log(r + mu)` is `logaddexp(log r, log mu)`, so neither is ever
    exponentiated. This is `scipy.stats.nbinom.logpmf(x, r, r / (r + mu))`.

    Args:
        x: tensor of counts (non-negative; any shape).
        log_mean: tensor broadcastable to `x`, log mu.
        log_size: tensor broadcastable to `x`, log r.

    Returns:
        Tensor of the broadcast shape.
    """
    # keras.ops has no lgamma; TensorFlow's is exact to float32 rounding.
    size = ops.exp(log_size)
    log_total = ops.logaddexp(log_size, log_mean)
    return (
        tf.math.lgamma(x + size)
        - tf.math.lgamma(size)
        - tf.math.lgamma(x + 1.0)
        + size * (log_size - log_total)
        + x * (log_mean - log_total)
    )


def zero_inflated_negative_binomial_log_prob(
    x, log_mean, log_size, dropout_logit
):
    """`log ZINB(x)`: a point mass at 0 (probability pi) or the NB.

    `p(0) = pi + (1 - pi) NB(0)` and `p(x) = (1 - pi) NB(x)` for x > 0, with
    pi = sigmoid(dropout_logit); `log pi = -softplus(-l)` and
    `log(1 - pi) = -softplus(l)`, and `p(0)` is a `logaddexp`.

    Args:
        x: tensor of counts.
        log_mean, log_size: as for `negative_binomial_log_prob`.
        dropout_logit: tensor broadcastable to `x`, the logit of pi.

    Returns:
        Tensor of the broadcast shape.
    """
    log_keep = -ops.softplus(dropout_logit)  # log(1 - pi)
    log_dropout = -ops.softplus(-dropout_logit)  # log pi
    log_nb = negative_binomial_log_prob(x, log_mean, log_size)
    # log NB(0) = r (log r - log(r + mu)).
    log_nb_zero = ops.exp(log_size) * (
        log_size - ops.logaddexp(log_size, log_mean)
    )
    log_zero = ops.logaddexp(log_dropout, log_keep + log_nb_zero)
    return ops.where(x > 0.5, log_keep + log_nb, log_zero)


@keras.saving.register_keras_serializable(package="vade_tf")
class NegativeBinomialLikelihood(Likelihood):
    """Counts from a negative binomial per feature, for count data.

    For single-cell RNA-seq, bag-of-words and other counts. The decoder's
    last layer gives log mu per feature; a trainable log size (inverse
    dispersion) r is kept per feature (`dispersion="feature"`) or per
    cluster and feature (`"cluster"`, then p(x|z, c) depends on the cluster
    and the reconstruction term is its expectation under q(c|x)). The
    log-likelihood is `negative_binomial_log_prob`, exact (no constant
    left out), in log space with `lgamma`.

    The encoder sees `log1p` of the counts; with `normalize_library=True`
    each row is first scaled to the library size `target_sum` (the counts
    per `target_sum`, as `scanpy.pp.normalize_total`), and the mean of the
    raw counts is mu = exp(decoder) * library / target_sum, so z describes
    the composition of a sample and not its depth. The likelihood always
    scores the raw counts. `decoder_mean` and `generate` give means at
    library size `target_sum`.

    Args:
        dispersion: `"feature"` or `"cluster"`.
        normalize_library: bool.
        target_sum: float > 0 or `None`; `None` is the median library size
            of the training data when `vade_tf.workflow.build_model` builds
            the model (`adapted`), else `DEFAULT_TARGET_SUM`.
    """

    name = "nb"
    zero_inflated = False

    def __init__(
        self, dispersion="feature", normalize_library=True, target_sum=None
    ):
        if dispersion not in DISPERSIONS:
            raise ValueError(
                f"dispersion must be one of {DISPERSIONS}. Received: "
                f"dispersion={dispersion!r}"
            )
        if not isinstance(normalize_library, (bool, np.bool_)):
            raise ValueError(
                "normalize_library must be True or False. Received: "
                f"normalize_library={normalize_library!r}"
            )
        if target_sum is not None:
            try:
                valid = bool(np.isfinite(target_sum) and target_sum > 0)
            except TypeError:
                valid = False
            if not valid or isinstance(target_sum, bool):
                raise ValueError(
                    "target_sum must be a finite number > 0 or None. "
                    f"Received: target_sum={target_sum!r}"
                )
        self.dispersion = dispersion
        self.normalize_library = bool(normalize_library)
        self.target_sum = None if target_sum is None else float(target_sum)

    @property
    def sample_parameters(self):
        return 2 if self.zero_inflated else 1

    @property
    def cluster_dependent(self):
        return self.dispersion == "cluster"

    def shared_parameters(self, n_clusters):
        return n_clusters if self.cluster_dependent else 1

    def check_data(self, x):
        low = float(np.min(x))
        if low < 0.0:
            raise ValueError(
                f"The {self.name} likelihood needs non-negative counts. "
                f"Received values down to {low:g}. Pass raw counts (not "
                'log-transformed or scaled data), or use likelihood="gaussian".'
            )
        fractional = x != np.floor(x)
        if fractional.any():
            row, col = np.argwhere(fractional)[0]
            raise ValueError(
                f"The {self.name} likelihood needs integer counts. Received "
                f"{int(fractional.sum())} non-integer values (the first at "
                f"row {row}, column {col}: {x[row, col]:g}). Pass raw counts "
                "(not normalised ones), or round them first."
            )

    def adapted(self, x):
        if self.target_sum is not None or not self.normalize_library:
            return self
        library = np.sum(np.asarray(x, dtype="float64"), axis=1)
        return type(self)(
            **{
                **self.get_config(),
                "target_sum": float(max(np.median(library), 1.0)),
            }
        )

    def _log_library_factor(self, x):
        """log(library / target_sum) per row, `(batch, 1)`; an all-zero
        row counts as library 1."""
        library = ops.maximum(ops.sum(x, axis=-1, keepdims=True), 1.0)
        return ops.log(library) - math.log(
            self.target_sum or DEFAULT_TARGET_SUM
        )

    def encoder_input(self, x):
        x = ops.cast(x, "float32")
        if self.normalize_library:
            x = x * ops.exp(-self._log_library_factor(x))
        return ops.log1p(x)

    def split_outputs(self, outputs, input_dim):
        """The decoder's raw outputs as `(log_mean, dropout_logit,
        log_size)`: `(batch, D)`, `(batch, D)` or `None`, and
        `(batch, rows, D)` with rows 1 or K; log_mean at library size
        `target_sum`, both logs clipped to their limits."""
        width = self.sample_parameters * input_dim
        log_mean = ops.clip(
            outputs[:, :input_dim],
            -numerics.LOG_MEAN_LIMIT,
            numerics.LOG_MEAN_LIMIT,
        )
        logit = outputs[:, input_dim:width] if self.zero_inflated else None
        log_size = ops.clip(
            outputs[:, width:],
            -numerics.LOG_SIZE_LIMIT,
            numerics.LOG_SIZE_LIMIT,
        )
        rows = log_size.shape[-1] // input_dim
        return log_mean, logit, ops.reshape(log_size, (-1, rows, input_dim))

    def log_prob(self, x, outputs):
        """`log p(x|z, c)` per sample and cluster row, `(batch, rows)`.

        Args:
            x: tensor of counts, shape `(batch, input_dim)`.
            outputs: the decoder's raw outputs.

        Returns:
            Tensor of shape `(batch, rows)`: rows is 1 for
            `dispersion="feature"`, K for `"cluster"`.
        """
        x = ops.cast(x, "float32")
        log_mean, logit, log_size = self.split_outputs(outputs, x.shape[-1])
        if self.normalize_library:
            log_mean = ops.clip(
                log_mean + self._log_library_factor(x),
                -numerics.LOG_MEAN_LIMIT,
                numerics.LOG_MEAN_LIMIT,
            )
        x, log_mean = x[:, None, :], log_mean[:, None, :]
        if self.zero_inflated:
            log_prob = zero_inflated_negative_binomial_log_prob(
                x, log_mean, log_size, logit[:, None, :]
            )
        else:
            log_prob = negative_binomial_log_prob(x, log_mean, log_size)
        return ops.sum(log_prob, axis=-1)

    def negative_log_likelihood(self, x, outputs, gamma=None):
        """Per-sample `-log p(x|z)`; for `dispersion="cluster"` the
        expectation `-sum_c gamma_c log p(x|z, c)` under `gamma`
        `(batch, K)`, uniform when `None` (as in pretraining)."""
        log_prob = self.log_prob(x, outputs)  # [batch, rows]
        if gamma is None:
            return -ops.mean(log_prob, axis=-1)
        return -ops.sum(ops.cast(gamma, "float32") * log_prob, axis=-1)

    def mean_layer(self, input_dim, name="x_hat"):

        return vade_layers.CountMean(
            input_dim, zero_inflated=self.zero_inflated, name=name
        )

    def get_config(self):
        return {
            "dispersion": self.dispersion,
            "normalize_library": self.normalize_library,
            "target_sum": self.target_sum,
        }

    def __repr__(self):
        config = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({config})"


@keras.saving.register_keras_serializable(package="vade_tf")
class ZeroInflatedNegativeBinomialLikelihood(NegativeBinomialLikelihood):
    """Counts with extra zeros: a point mass at 0 or a negative binomial.

    As `NegativeBinomialLikelihood`, and the decoder also gives a dropout
    logit per feature and sample; the log-likelihood is
    `zero_inflated_negative_binomial_log_prob`. The usual choice for
    single-cell RNA-seq, whose many zeros a negative binomial alone
    explains less well.
    """

    name = "zinb"
    zero_inflated = True


_LIKELIHOODS = {
    likelihood.name: likelihood
    for likelihood in (
        BernoulliLikelihood,
        GaussianLikelihood,
        NegativeBinomialLikelihood,
        ZeroInflatedNegativeBinomialLikelihood,
    )
}


# The names `get_likelihood` knows (tests check they match `_LIKELIHOODS`).
LIKELIHOODS = choices.LIKELIHOODS


def get_likelihood(identifier):
    """Returns a `Likelihood` from its name or passes an instance through.

    Args:
        identifier: a name in `LIKELIHOODS` (`"bernoulli"`, `"gaussian"`,
            `"nb"`, `"zinb"`), a `Likelihood` instance or the config dict
            `serialize_likelihood` wrote for one.

    Returns:
        A `Likelihood` instance.
    """
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, str) and identifier in _LIKELIHOODS:
        return _LIKELIHOODS[identifier]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise ValueError(
        f"Unknown likelihood. Expected one of {sorted(_LIKELIHOODS)} or a "
        f"vade_tf.model.likelihoods.Likelihood instance. Received: "
        f"likelihood={identifier!r}"
    )


def serialize_likelihood(likelihood):
    """The likelihood's name if it is a built-in one with its default
    settings, else its Keras config."""
    builtin = _LIKELIHOODS.get(likelihood.name)
    if type(likelihood) is builtin and (
        likelihood.get_config() == builtin().get_config()
    ):
        return likelihood.name
    return keras.saving.serialize_keras_object(likelihood)
