"""The terms of the VaDE evidence lower bound, in closed form.

VaDE maximises, for each sample x,

    ELBO(x) = E_q[log p(x|z)] + E_q[log p(z|c)] + E_q[log p(c)]
              - E_q[log q(z|x)] - E_q[log q(c|x)]

with q(z|x) = N(mu~, diag sigma~2) from the encoder and q(c|x) = gamma
from `vade_tf.layers.GMMPosterior`. Training minimises

    loss = alpha * reconstruction + kl

where `reconstruction = -log p(x|z)` (one sample of z) and `kl` gathers the
remaining four terms, each an exact expectation under q:

    kl = sum_c gamma_c sum_d 0.5 (log 2 pi sigma2_cd
                                  + sigma~2_d / sigma2_cd
                                  + (mu~_d - mu_cd)^2 / sigma2_cd)
         - sum_d 0.5 (log 2 pi + 1 + log sigma~2_d)
         - sum_c gamma_c log theta_c
         + sum_c gamma_c log gamma_c

The four lines are -E[log p(z|c)], +E[log q(z|x)], -E[log p(c)] and
+E[log q(c|x)].
`kl` is the Kullback-Leibler divergence KL(q(z, c|x) || p(z, c)) and is never
negative. The original release drops the `log 2 pi` of the entropy term (and
adds `D^2 log 2 pi / 2` in the prior term); those are constants that shift
the reported loss and leave every gradient unchanged.

Every function takes tensors of shape `(batch, ...)`, works in log space and
returns one value per sample, shape `(batch,)`. The likelihood of x given z is
a swappable object (`BernoulliLikelihood`, `GaussianLikelihood`, or your own
subclass of `Likelihood`).
"""

import math

import keras
import numpy as np
from keras import ops

from vade_tf import options

LOG_2PI = math.log(2.0 * math.pi)
# Encoder log-variances are clipped to [-LOG_VAR_LIMIT, LOG_VAR_LIMIT]
# wherever they are used, so exp() stays finite in float32 (variances from
# 1e-13 to 1e13; exp overflows above 88). Every term sees the same clipped
# value, so outside the range the loss is flat in z_log_var rather than
# pulled one way by one term alone.
LOG_VAR_LIMIT = 30.0
# The smallest value `safe_log` and the divisions by a variance let through.
TINY = 1e-30


# =============================================================================
# Likelihoods p(x|z)
# =============================================================================


class Likelihood:
    """The observation model p(x|z), parameterised by the decoder.

    The decoder's last Dense layer gives `input_dim` raw parameters per
    sample (`outputs`); `output_activation` maps them to the mean of
    p(x|z), which is what `model.decoder` returns. Subclasses implement
    `negative_log_likelihood` on the raw parameters, which lets them use the
    numerically stable form (for example binary cross-entropy from logits).

    A custom likelihood that should survive `model.save` and
    `keras.models.load_model` is registered with
    `@keras.saving.register_keras_serializable()` and returns its
    constructor arguments from `get_config`.
    """

    name = None
    output_activation = "linear"

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
        if low < 0.0 or high > 1.0:
            raise ValueError(
                "The bernoulli likelihood needs data in [0, 1]. Received "
                f"values in [{low:g}, {high:g}]. Scale the data to [0, 1] "
                "(for example divide images by 255) or use "
                'likelihood="gaussian".'
            )


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


_LIKELIHOODS = {
    likelihood.name: likelihood
    for likelihood in (BernoulliLikelihood, GaussianLikelihood)
}
# The names `get_likelihood` knows (tests check they match `_LIKELIHOODS`).
LIKELIHOODS = options.LIKELIHOODS


def get_likelihood(identifier):
    """Returns a `Likelihood` from its name or passes an instance through.

    Args:
        identifier: `"bernoulli"`, `"gaussian"`, a `Likelihood` instance or
            the config dict `serialize_likelihood` wrote for one.

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
        f"vade_tf.losses.Likelihood instance. Received: "
        f"likelihood={identifier!r}"
    )


def serialize_likelihood(likelihood):
    """The likelihood's name if it is a built-in one, else its Keras config."""
    if type(likelihood) is _LIKELIHOODS.get(likelihood.name):
        return likelihood.name
    return keras.saving.serialize_keras_object(likelihood)


# =============================================================================
# Mixture-prior terms
# =============================================================================


def clip_log_var(z_log_var):
    """`z_log_var` clipped to `[-LOG_VAR_LIMIT, LOG_VAR_LIMIT]`."""
    return ops.clip(z_log_var, -LOG_VAR_LIMIT, LOG_VAR_LIMIT)


def safe_log(x):
    """`log(max(x, TINY))`: finite for a weight or variance that reached 0."""
    return ops.log(ops.maximum(x, TINY))


def log_normal_diag(z, mean, var):
    """Log density of diagonal Gaussians, one per component.

    Args:
        z: tensor of shape `(batch, D)`.
        mean: tensor of shape `(K, D)`.
        var: tensor of shape `(K, D)`, positive.

    Returns:
        Tensor of shape `(batch, K, D)`: `log N(z_d | mean_kd, var_kd)`.
    """
    diff = z[:, None, :] - mean[None, :, :]  # [batch, K, D]
    var = ops.maximum(var, TINY)
    return -0.5 * (LOG_2PI + ops.log(var) + ops.square(diff) / var)


def expected_neg_log_prior_z(z_mean, z_log_var, gamma, c_mean, c_var):
    """`-E_q[log p(z|c)]`, the Gaussian cross-entropy weighted by gamma.

    `sum_c gamma_c sum_d 0.5 (log 2 pi sigma2_cd + sigma~2_d / sigma2_cd
    + (mu~_d - mu_cd)^2 / sigma2_cd)`.

    Args:
        z_mean: tensor of shape `(batch, D)`, mu~.
        z_log_var: tensor of shape `(batch, D)`, log sigma~2.
        gamma: tensor of shape `(batch, K)`, q(c|x).
        c_mean: tensor of shape `(K, D)`.
        c_var: tensor of shape `(K, D)`.

    Returns:
        Tensor of shape `(batch,)`.
    """
    z_var = ops.exp(clip_log_var(z_log_var))[:, None, :]  # [batch, 1, D]
    diff = z_mean[:, None, :] - c_mean[None, :, :]  # [batch, K, D]
    c_var = ops.maximum(c_var, TINY)
    per_component = 0.5 * ops.sum(
        LOG_2PI + ops.log(c_var) + (z_var + ops.square(diff)) / c_var,
        axis=-1,
    )  # [batch, K]
    return ops.sum(gamma * per_component, axis=-1)


def neg_entropy_q_z(z_log_var):
    """`E_q[log q(z|x)] = -sum_d 0.5 (log 2 pi + 1 + log sigma~2_d)`.

    Args:
        z_log_var: tensor of shape `(batch, D)`.

    Returns:
        Tensor of shape `(batch,)`.
    """
    return -0.5 * ops.sum(LOG_2PI + 1.0 + clip_log_var(z_log_var), axis=-1)


def categorical_kl(log_gamma, theta_p):
    """`E_q[log q(c|x)] - E_q[log p(c)]`.

    `= sum_c gamma_c (log gamma_c - log theta_c)`.

    Args:
        log_gamma: tensor of shape `(batch, K)`, log q(c|x).
        theta_p: tensor of shape `(K,)`, the mixture weights.

    Returns:
        Tensor of shape `(batch,)`.
    """
    gamma = ops.exp(log_gamma)
    # gamma log gamma -> 0 as gamma -> 0; bounding log gamma below keeps a
    # hard assignment (log gamma = -inf) at 0 instead of 0 * inf = NaN.
    log_gamma = ops.maximum(log_gamma, math.log(TINY))
    log_theta = safe_log(theta_p)[None, :]
    return ops.sum(gamma * (log_gamma - log_theta), axis=-1)


def vade_kl(z_mean, z_log_var, log_gamma, theta_p, c_mean, c_var):
    """KL(q(z, c|x) || p(z, c)): the four closed-form prior terms.

    Args:
        z_mean: tensor of shape `(batch, D)`.
        z_log_var: tensor of shape `(batch, D)`.
        log_gamma: tensor of shape `(batch, K)`, log q(c|x).
        theta_p: tensor of shape `(K,)`.
        c_mean: tensor of shape `(K, D)`.
        c_var: tensor of shape `(K, D)`.

    Returns:
        Tensor of shape `(batch,)`.
    """
    gamma = ops.exp(log_gamma)
    return (
        expected_neg_log_prior_z(z_mean, z_log_var, gamma, c_mean, c_var)
        + neg_entropy_q_z(z_log_var)
        + categorical_kl(log_gamma, theta_p)
    )


def weighted_mean(values, sample_weight=None):
    """Batch mean of per-sample `values`, each times its sample weight.

    As Keras's "sum_over_batch_size" reduction, the weighted sum is divided
    by the batch size, not by the sum of the weights: a batch of
    down-weighted samples contributes a smaller loss and gradient.

    Args:
        values: tensor of shape `(batch,)`.
        sample_weight: `None` or tensor of shape `(batch,)` or `(batch, 1)`.

    Returns:
        Scalar tensor.
    """
    if sample_weight is None:
        return ops.mean(values)
    weight = ops.reshape(ops.cast(sample_weight, values.dtype), (-1,))
    return ops.mean(values * weight)
