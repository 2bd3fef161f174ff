"""The terms of the VaDE evidence lower bound, in closed form.

VaDE maximises, for each sample x,

    ELBO(x) = E_q[log p(x|z)] + E_q[log p(z|c)] + E_q[log p(c)]
              - E_q[log q(z|x)] - E_q[log q(c|x)]

with q(z|x) = N(mu~, diag sigma~2) from the encoder and q(c|x) = gamma
from `vade_tf.model.mixture_prior.MixturePrior`. Training minimises

    loss = alpha * reconstruction + beta * kl

(beta = 1 is the ELBO; `VaDE(beta=)` weighs the prior terms as in
beta-VAE) where `reconstruction = -log p(x|z)` (one sample of z) and `kl`
gathers the remaining four terms, each an exact expectation under q:

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
a swappable object of `vade_tf.model.likelihoods` (Bernoulli, Gaussian, the
count likelihoods NB and ZINB, or your own subclass of
`vade_tf.model.likelihoods.Likelihood`).
"""

import math

from keras import ops

from vade_tf import numerics

# =============================================================================
# Mixture-prior terms
# =============================================================================


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
    z_var = ops.exp(numerics.clip_log_var(z_log_var))[
        :, None, :
    ]  # [batch, 1, D]
    diff = z_mean[:, None, :] - c_mean[None, :, :]  # [batch, K, D]
    c_var = ops.maximum(c_var, numerics.TINY)
    per_component = 0.5 * ops.sum(
        numerics.LOG_2PI + ops.log(c_var) + (z_var + ops.square(diff)) / c_var,
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
    return -0.5 * ops.sum(
        numerics.LOG_2PI + 1.0 + numerics.clip_log_var(z_log_var), axis=-1
    )


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
    log_gamma = ops.maximum(log_gamma, math.log(numerics.TINY))
    log_theta = numerics.safe_log(theta_p)[None, :]
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


def standard_normal_kl(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)), the prior term of a plain VAE.

    `0.5 sum_d (mu~_d^2 + sigma~2_d - 1 - log sigma~2_d)`.

    Args:
        z_mean: tensor of shape `(batch, D)`.
        z_log_var: tensor of shape `(batch, D)`.

    Returns:
        Tensor of shape `(batch,)`.
    """
    z_log_var = numerics.clip_log_var(z_log_var)
    return 0.5 * ops.sum(
        ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1
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
