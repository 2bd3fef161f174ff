"""Property-based tests: gamma and every ELBO term stay finite, with finite
gradients, for extreme inputs.

Hypothesis draws latent points up to |z| = 1e4, log-variances far outside
the clip range, component variances down to their floor and up to 1e4,
mixture weights down to their floor, and one-hot or all-zero data.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vade_tf.model import elbo, layers, likelihoods, mixture_prior

K, D, BATCH = 4, 3, 5
MIN_VAR = 1e-6
MIN_WEIGHT = 1e-6

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    # The "explain" phase traces every line, which TensorFlow's C++ calls
    # do not survive.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


def _floats(low, high):
    return st.floats(low, high, allow_nan=False, width=32)


def _array(shape, low, high):
    return hnp.arrays("float32", shape, elements=_floats(low, high))


# Variances from the floor up, drawn on a log scale so the floor is common.
_log10_var = _array((K, D), np.log10(MIN_VAR), 4.0)
# Weights from their floor up (before the projection onto the simplex).
_log10_weight = _array((K,), np.log10(MIN_WEIGHT), 0.0)


def _mixture(log10_var, log10_weight, c_mean):
    layer = mixture_prior.MixturePrior(
        K, D, min_var=MIN_VAR, min_weight=MIN_WEIGHT
    )
    layer.set_parameters(10.0**log10_weight, c_mean, 10.0**log10_var)
    return layer


def _all_finite(*tensors):
    return all(np.isfinite(np.asarray(t)).all() for t in tensors)


@pytest.mark.parametrize("gamma_mode", mixture_prior.GAMMA_MODES)
@SETTINGS
@given(
    z=_array((BATCH, D), -1e4, 1e4),
    c_mean=_array((K, D), -1e4, 1e4),
    log10_var=_log10_var,
    log10_weight=_log10_weight,
)
def test_gamma_is_a_finite_distribution_with_finite_gradients(
    gamma_mode, z, c_mean, log10_var, log10_weight
):
    layer = _mixture(log10_var, log10_weight, c_mean)
    layer.gamma_mode = gamma_mode
    theta = np.asarray(layer.theta_p)
    assert abs(theta.sum() - 1.0) < 1e-5 and theta.min() >= MIN_WEIGHT * 0.999
    z = tf.constant(z)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        log_gamma = layer.training_log_p_c_z(z)
        gamma = layer.p_c_z(z)
        # Any smooth function of gamma; its gradient must be finite too.
        objective = tf.reduce_sum(log_gamma * tf.exp(log_gamma))
    assert _all_finite(log_gamma, gamma)
    np.testing.assert_allclose(np.sum(gamma, axis=1), 1.0, atol=1e-5)
    grads = tape.gradient(objective, [z, *layer.trainable_variables])
    assert _all_finite(*grads)


@SETTINGS
@given(
    z_mean=_array((BATCH, D), -1e4, 1e4),
    z_log_var=_array((BATCH, D), -200.0, 200.0),
    c_mean=_array((K, D), -1e4, 1e4),
    log10_var=_log10_var,
    log10_weight=_log10_weight,
    one_hot_gamma=st.booleans(),
)
def test_every_kl_term_is_finite_with_finite_gradients(
    z_mean, z_log_var, c_mean, log10_var, log10_weight, one_hot_gamma
):
    layer = _mixture(log10_var, log10_weight, c_mean)
    z_mean = tf.constant(z_mean)
    z_log_var = tf.constant(z_log_var)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([z_mean, z_log_var])
        if one_hot_gamma:
            # A hard assignment: log gamma is 0 for one cluster and -inf
            # for the others.
            log_gamma = tf.math.log(tf.one_hot(tf.range(BATCH) % K, K))
        else:
            log_gamma = layer.training_log_p_c_z(z_mean)
        gamma = tf.exp(log_gamma)
        terms = {
            "prior": elbo.expected_neg_log_prior_z(
                z_mean, z_log_var, gamma, layer.c_mean, layer.c_var
            ),
            "entropy": elbo.neg_entropy_q_z(z_log_var),
            "categorical": elbo.categorical_kl(log_gamma, layer.theta_p),
            "kl": elbo.vade_kl(
                z_mean,
                z_log_var,
                log_gamma,
                layer.theta_p,
                layer.c_mean,
                layer.c_var,
            ),
        }
        totals = {name: tf.reduce_sum(value) for name, value in terms.items()}
    for name, value in terms.items():
        assert _all_finite(value), name
        grads = tape.gradient(
            totals[name],
            [z_mean, z_log_var, *layer.trainable_variables],
        )
        grads = [g for g in grads if g is not None]  # terms use a subset
        assert _all_finite(*grads), name


@SETTINGS
@given(
    z_mean=_array((BATCH, D), -1e4, 1e4),
    z_log_var=_array((BATCH, D), -200.0, 200.0),
)
def test_a_draw_of_z_is_finite_for_any_log_variance(z_mean, z_log_var):
    z = layers.reparameterize(tf.constant(z_mean), tf.constant(z_log_var), 0)
    assert _all_finite(z)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@SETTINGS
@given(
    logits=_array((BATCH, 8), -1e4, 1e4),
    data=st.sampled_from(["zeros", "ones", "one_hot"]),
)
def test_reconstruction_is_finite_for_extreme_outputs(likelihood, logits, data):
    x = {
        "zeros": np.zeros((BATCH, 8), "float32"),
        "ones": np.ones((BATCH, 8), "float32"),
        "one_hot": np.eye(BATCH, 8, dtype="float32"),
    }[data]
    outputs = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(outputs)
        value = likelihoods.get_likelihood(likelihood).negative_log_likelihood(
            tf.constant(x), outputs
        )
        total = tf.reduce_sum(value)
    gradient = tape.gradient(total, outputs)
    assert gradient is not None
    assert _all_finite(value, gradient)


@SETTINGS
@given(
    w=hnp.arrays(
        "float32",
        st.integers(2, 12),
        elements=_floats(-1e6, 1e6),
    ),
    floor_fraction=st.floats(1e-6, 0.99),
)
def test_simplex_projection_lands_on_the_simplex_with_its_floor(
    w, floor_fraction
):
    floor = floor_fraction / len(w)
    projected = np.asarray(layers.SimplexConstraint(floor)(w))
    assert np.isfinite(projected).all()
    assert abs(projected.sum() - 1.0) < 1e-5
    assert projected.min() >= floor * (1 - 1e-5)
    # Idempotent: a projected vector is left where it is.
    again = np.asarray(layers.SimplexConstraint(floor)(projected))
    np.testing.assert_allclose(again, projected, atol=1e-6)
