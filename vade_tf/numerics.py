"""Floors, limits and the log-space helpers every term of VaDE shares.

A leaf module (Keras ops and the standard library only): the ELBO terms
(`vade_tf.model.elbo`), the mixture prior and the sampling layer
(`vade_tf.model.layers`) and the mixture's start take these from here, so each
constant is spelled once.
"""

import math

from keras import ops

LOG_2PI = math.log(2.0 * math.pi)
# Encoder log-variances are clipped to [-LOG_VAR_LIMIT, LOG_VAR_LIMIT]
# wherever they are used, so exp() stays finite in float32 (variances from
# 1e-13 to 1e13; exp overflows above 88). Every term sees the same clipped
# value, so outside the range the loss is flat in z_log_var rather than
# pulled one way by one term alone.
LOG_VAR_LIMIT = 30.0
# The smallest value `safe_log` and the divisions by a variance let through.
TINY = 1e-30
# The range `NegativeBinomialLikelihood` keeps log means and log sizes in:
# means from e^-30 to e^30 (about 1e13), sizes from e^-10 to e^10 (4.5e-5 to
# 2.2e4; beyond, the negative binomial is a Poisson to the precision that
# float32 keeps of lgamma(x + r) - lgamma(r), about 0.01 per entry there).
LOG_MEAN_LIMIT = 30.0
LOG_SIZE_LIMIT = 10.0


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
