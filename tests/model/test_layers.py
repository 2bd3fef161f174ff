"""MixturePrior, Sampling and the constraints: contract and numerics."""

import keras
import numpy as np
import pytest
from scipy import special, stats
from sklearn import mixture

from tests.layer_contract import check_layer_contract
from vade_tf.model import layers, mixture_prior


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _layer_with_parameters(rng, k=4, d=3, gamma_mode="exact"):
    layer = mixture_prior.MixturePrior(k, d, gamma_mode=gamma_mode)
    theta = rng.dirichlet(np.ones(k)).astype("float32")
    mean = rng.normal(size=(k, d)).astype("float32")
    var = rng.uniform(0.2, 2.0, size=(k, d)).astype("float32")
    layer.theta_p.assign(theta)
    layer.c_mean.assign(mean)
    layer.c_var.assign(var)
    return layer, theta, mean, var


def _numpy_log_joint(z, theta, mean, var, original=False):
    log_pdf = stats.norm.logpdf(z[:, None], mean[None], np.sqrt(var)[None])
    if original:
        return (log_pdf + np.log(theta)[None, :, None]).sum(-1)
    return log_pdf.sum(-1) + np.log(theta)[None]


@pytest.mark.parametrize("gamma_mode", ["exact", "original"])
def test_p_c_z_matches_numpy(rng, gamma_mode):
    layer, theta, mean, var = _layer_with_parameters(rng, gamma_mode=gamma_mode)
    z = rng.normal(size=(8, 3)).astype("float32")
    log_joint = _numpy_log_joint(
        z, theta, mean, var, original=gamma_mode == "original"
    )
    want = special.softmax(log_joint, axis=1)
    np.testing.assert_allclose(_np(layer.log_joint(z)), log_joint, rtol=1e-5)
    np.testing.assert_allclose(_np(layer(z)), want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        _np(layer.log_p_c_z(z)), np.log(want), rtol=1e-4, atol=1e-5
    )


def test_exact_gamma_equals_gaussian_mixture_predict_proba(rng):
    layer, theta, mean, var = _layer_with_parameters(rng)
    gmm = mixture.GaussianMixture(4, covariance_type="diag")
    gmm.weights_ = theta.astype("float64")
    gmm.means_ = mean.astype("float64")
    gmm.covariances_ = var.astype("float64")
    gmm.precisions_cholesky_ = 1.0 / np.sqrt(gmm.covariances_)
    z = rng.normal(scale=2, size=(50, 3)).astype("float32")
    np.testing.assert_allclose(
        _np(layer(z)), gmm.predict_proba(z), rtol=1e-4, atol=1e-6
    )


def test_original_mode_differs_from_exact_by_theta_power(rng):
    exact, theta, mean, var = _layer_with_parameters(rng)
    original = mixture_prior.MixturePrior(4, 3, gamma_mode="original")
    original.set_weights(exact.get_weights())
    z = rng.normal(size=(5, 3)).astype("float32")
    difference = _np(original.log_joint(z)) - _np(exact.log_joint(z))
    np.testing.assert_allclose(
        difference, np.tile(2 * np.log(theta), (5, 1)), rtol=1e-4
    )


def test_posterior_is_finite_far_from_every_component():
    layer = mixture_prior.MixturePrior(3, 2)
    layer.c_var.assign(np.full((3, 2), 1e-3, "float32"))
    z = np.full((2, 2), 1e3, "float32")
    gamma = _np(layer(z))
    assert np.isfinite(gamma).all()
    np.testing.assert_allclose(gamma.sum(1), 1.0, rtol=1e-5)


def test_q_c_x_with_samples_approaches_monte_carlo(rng):
    layer, theta, mean, var = _layer_with_parameters(rng)
    z_mean = rng.normal(size=(3, 3)).astype("float32")
    z_log_var = np.full((3, 3), np.log(0.3), "float32")
    got = _np(layer.q_c_x(z_mean, z_log_var, n_samples=5000, seed=3))
    draws = z_mean + np.sqrt(0.3) * rng.standard_normal((20000, 3, 3))
    want = np.mean(
        [
            special.softmax(_numpy_log_joint(d, theta, mean, var), axis=1)
            for d in draws.astype("float32")
        ],
        axis=0,
    )
    np.testing.assert_allclose(got, want, atol=0.02)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-5)
    # Without samples it is p(c|z_mean).
    np.testing.assert_allclose(
        _np(layer.q_c_x(z_mean, z_log_var)), _np(layer(z_mean)), rtol=1e-6
    )


def test_mixture_prior_contract_and_config_round_trip():
    layer = mixture_prior.MixturePrior(5, 2, gamma_mode="original", seed=3)
    assert [w.name for w in layer.trainable_weights] == [
        "theta_p",
        "c_mean",
        "c_var",
    ]
    assert layer.compute_output_shape((7, 2)) == (7, 5)
    clone = mixture_prior.MixturePrior.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(_np(clone.c_mean), _np(layer.c_mean))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"n_clusters": 1, "latent_dim": 2},
            "n_clusters.*Received: n_clusters=1",
        ),
        ({"n_clusters": 3, "latent_dim": 0}, "latent_dim"),
        ({"n_clusters": 3, "latent_dim": 2, "gamma_mode": "x"}, "gamma_mode"),
    ],
)
def test_mixture_prior_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mixture_prior.MixturePrior(**kwargs)


def _projection_reference(w, floor):
    """`max(c * max(w, 0), floor)` with the c where the sum is 1, found by
    root bracketing in float64 (`scipy.optimize.brentq`), a different
    method from the constraint's sort; uniform when nothing is positive."""
    from scipy import optimize

    w = np.maximum(np.asarray(w, dtype="float64"), 0.0)
    if w.sum() <= 0:
        return np.full(len(w), 1.0 / len(w))

    def excess(c):
        return np.maximum(c * w, floor).sum() - 1.0

    c = optimize.brentq(excess, 0.0, 1.0 / w[w > 0].min() + 1.0, xtol=1e-15)
    return np.maximum(c * w, floor)


def test_simplex_constraint_projects_and_serializes():
    constraint = layers.SimplexConstraint(min_value=0.01)
    valid = np.array([0.2, 0.3, 0.5], "float32")
    np.testing.assert_allclose(_np(constraint(valid)), valid, rtol=1e-6)
    # The case a one-pass projection got wrong (it gave [0.474, 0.126,
    # 0.2, 0.2], a weight below the floor).
    floor = layers.SimplexConstraint(min_value=0.2)
    np.testing.assert_allclose(
        _np(floor(np.array([0.79, 0.21, 0.0, 0.0], "float32"))),
        [0.4, 0.2, 0.2, 0.2],
        atol=1e-6,
    )
    # Renormalisation keeps proportions: [2, 6] -> [0.25, 0.75].
    np.testing.assert_allclose(
        _np(constraint(np.array([2.0, 6.0], "float32"))), [0.25, 0.75]
    )
    rng = np.random.default_rng(0)
    cases = [
        [-1.0, 0.5, 1.5],
        [2.0, 6.0],
        [-1.0, -2.0],
        [0.0, 0.0, 0.0, 0.0],
        [-5.0, 3.0, 2.0, 1000.0],
        *(
            rng.normal(0.1, s, size=n)
            for s, n in [(1.0, 5), (1e-3, 10), (50, 7)]
        ),
    ]
    for w in cases:
        for min_value in (1e-6, 0.01, 0.9 / len(w)):
            projected = _np(
                layers.SimplexConstraint(min_value)(np.asarray(w, "float32"))
            )
            assert abs(projected.sum() - 1.0) < 1e-5, (w, min_value)
            assert projected.min() >= min_value * (1 - 1e-6), (w, min_value)
            np.testing.assert_allclose(
                projected, _projection_reference(w, min_value), atol=2e-5
            )
    assert (
        layers.SimplexConstraint.from_config(constraint.get_config()).min_value
        == 0.01
    )
    with pytest.raises(ValueError, match="min_value"):
        layers.SimplexConstraint(min_value=0)


def test_min_value_constraint():
    constraint = layers.MinValue(0.1)
    np.testing.assert_allclose(
        _np(constraint(np.array([-1.0, 0.05, 3.0], "float32"))),
        [0.1, 0.1, 3.0],
    )
    with pytest.raises(ValueError, match="min_value"):
        layers.MinValue(0.0)


def test_sampling_moments_and_seed():
    z_mean = np.full((20000, 2), 3.0, "float32")
    z_log_var = np.full((20000, 2), np.log(4.0), "float32")
    first = _np(layers.Sampling(seed=7)([z_mean, z_log_var]))
    second = _np(layers.Sampling(seed=7)([z_mean, z_log_var]))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first.mean(0), [3.0, 3.0], atol=0.05)
    np.testing.assert_allclose(first.std(0), [2.0, 2.0], atol=0.05)
    config = layers.Sampling(seed=7).get_config()
    assert layers.Sampling.from_config(config).seed == 7


# --- The original release's training gamma, transcribed ----------------------


def _original_release_gamma_and_loss(z, z_mean, z_log_var, theta, mean, var):
    """VaDE.py's `get_gamma` and the prior terms of `vae_loss`, in float64.

    A transcription of the original Theano code (batch, D, K layout): the
    joint is `exp(sum_d(log theta - 0.5 log(2 pi var) - (z - mu)^2 /
    (2 var))) + 1e-10`, normalised over the K clusters.
    """
    d = z.shape[1]
    z3 = z[:, :, None]  # [batch, D, K]
    mu3 = mean.T[None]
    var3 = var.T[None]
    theta3 = theta[None, None, :]
    p_c_z = (
        np.exp(
            np.sum(
                np.log(theta3)
                - 0.5 * np.log(2 * np.pi * var3)
                - (z3 - mu3) ** 2 / (2 * var3),
                axis=1,
            )
        )
        + 1e-10
    )
    gamma = p_c_z / p_c_z.sum(-1, keepdims=True)
    gamma_t = gamma[:, None, :]
    prior = np.sum(
        0.5
        * gamma_t
        * (
            d * np.log(2 * np.pi)
            + np.log(var3)
            + np.exp(z_log_var)[:, :, None] / var3
            + (z_mean[:, :, None] - mu3) ** 2 / var3
        ),
        axis=(1, 2),
    )
    loss = (
        prior
        - 0.5 * np.sum(z_log_var + 1, axis=-1)
        - np.sum(np.log(theta)[None] * gamma, axis=-1)
        + np.sum(np.log(gamma) * gamma, axis=-1)
    )
    return gamma, loss


def _original_regime(seed=0, k=10, d=10, batch=64):
    """The regime of the original's trained MNIST mixture: theta 0.1,
    variances around 0.4, D = 10, z drawn from the mixture."""
    rng = np.random.default_rng(seed)
    theta = np.full(k, 1.0 / k)
    mean = rng.normal(scale=2.0, size=(k, d))
    var = rng.uniform(0.2, 0.6, size=(k, d))
    clusters = rng.integers(k, size=batch)
    z = mean[clusters] + np.sqrt(var[clusters]) * rng.normal(size=(batch, d))
    z_mean = z + 0.1 * rng.normal(size=(batch, d))
    z_log_var = np.log(rng.uniform(0.02, 0.08, size=(batch, d)))
    return z, z_mean, z_log_var, theta, mean, var


def _port_layer(theta, mean, var, dtype="float64"):
    k, d = mean.shape
    layer = mixture_prior.MixturePrior(k, d, gamma_mode="original", dtype=dtype)
    layer.theta_p.assign(theta.astype(dtype))
    layer.c_mean.assign(mean.astype(dtype))
    layer.c_var.assign(var.astype(dtype))
    return layer


def test_original_mode_training_gamma_is_the_original_formula():
    z, z_mean, z_log_var, theta, mean, var = _original_regime()
    want, _ = _original_release_gamma_and_loss(
        z, z_mean, z_log_var, theta, mean, var
    )
    # The regime the constant matters in: p(c, z) far below 1e-10.
    log_joint = _numpy_log_joint(z, theta, mean, var, original=True)
    assert np.median(log_joint.max(axis=1)) < np.log(1e-10)
    for dtype, tolerance in (("float64", 1e-10), ("float32", 2e-5)):
        layer = _port_layer(theta, mean, var, dtype)
        got = np.exp(_np(layer.training_log_p_c_z(z.astype(dtype))))
        np.testing.assert_allclose(got, want, atol=tolerance)
    # Without the constant (prediction) gamma is far sharper.
    sharp = _np(layer.p_c_z(z.astype("float32")))
    assert np.mean(np.abs(sharp - want).max(axis=1)) > 0.3


def test_original_mode_loss_and_gradients_are_the_originals():
    import tensorflow as tf

    from vade_tf.model import elbo

    z, z_mean, z_log_var, theta, mean, var = _original_regime(seed=1)
    d = z.shape[1]
    layer = _port_layer(theta, mean, var)

    def port_loss(z, z_mean, c_mean):
        layer.c_mean.assign(c_mean)
        log_gamma = layer.training_log_p_c_z(z)
        return elbo.vade_kl(
            z_mean,
            tf.constant(z_log_var),
            log_gamma,
            layer.theta_p,
            layer.c_mean,
            layer.c_var,
        )

    _, want = _original_release_gamma_and_loss(
        z, z_mean, z_log_var, theta, mean, var
    )
    got = _np(port_loss(tf.constant(z), tf.constant(z_mean), mean))
    # The original's loss is this one plus 0.5 D^2 log(2 pi) per unit of
    # gamma (gamma sums to one): a constant.
    np.testing.assert_allclose(
        want - got, 0.5 * d**2 * np.log(2 * np.pi), atol=1e-6
    )

    # Gradients with respect to z (through gamma), z_mean and c_mean, as
    # directional derivatives of the transcription (central differences).
    variables = [tf.Variable(z), tf.Variable(z_mean)]
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(port_loss(*variables, mean))
    grads = tape.gradient(total, variables + [layer.c_mean])
    rng = np.random.default_rng(2)
    step = 1e-6
    for index, base in enumerate((z, z_mean, mean)):
        direction = rng.normal(size=base.shape)

        def transcription(shift, index=index, base=base, direction=direction):
            shifted = [z, z_mean, mean]
            shifted[index] = base + shift * direction
            return _original_release_gamma_and_loss(
                shifted[0], shifted[1], z_log_var, theta, shifted[2], var
            )[1].sum()

        numeric = (transcription(step) - transcription(-step)) / (2 * step)
        analytic = float(np.sum(_np(grads[index]) * direction))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


# Every layer of the package under the same contract (`layer_contract`),
# plus one numeric property each, against numpy.
def test_standardize_contract_and_moments(rng):
    x = rng.normal(5.0, 3.0, size=(64, 4)).astype("float32")
    layer = layers.Standardize(4)
    identity = check_layer_contract(layer, x, (64, 4))
    np.testing.assert_allclose(identity, x)  # not adapted: the identity
    layer.adapt(x)
    out = _np(layer(x))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)


def test_shared_parameters_contract_and_broadcast(rng):
    x = rng.normal(size=(6, 5)).astype("float32")
    layer = layers.SharedParameters(3, initializer="ones")
    out = check_layer_contract(layer, x, (6, 8))
    np.testing.assert_array_equal(out[:, :5], x)
    np.testing.assert_array_equal(out[:, 5:], np.ones((6, 3)))


def test_count_mean_contract_and_formula(rng):
    d = 3
    raw = rng.normal(size=(7, 2 * d + d)).astype("float32")
    out = check_layer_contract(
        layers.CountMean(d, zero_inflated=True), raw, (7, d)
    )
    log_mean, logit = raw[:, :d], raw[:, d : 2 * d]
    expected = np.exp(log_mean) * (1.0 - 1.0 / (1.0 + np.exp(-logit)))
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_sampling_contract_and_moments(rng):
    mean = np.tile(np.array([[1.0, -2.0]], "float32"), (20000, 1))
    log_var = np.tile(np.array([[0.0, np.log(4.0)]], "float32"), (20000, 1))
    out = check_layer_contract(
        layers.Sampling(seed=0),
        (mean, log_var),
        (20000, 2),
        deterministic=False,
    )
    np.testing.assert_allclose(out.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(out.var(axis=0), [1.0, 4.0], rtol=0.05)


def test_mixture_prior_layer_contract_and_posterior(rng):
    z = rng.normal(size=(9, 2)).astype("float32")
    layer = mixture_prior.MixturePrior(4, 2, seed=1)
    gamma = check_layer_contract(layer, z, (9, 4))
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-5)
    theta, mean, var = _np(layer.theta_p), _np(layer.c_mean), _np(layer.c_var)
    log_joint = _numpy_log_joint(z.astype("float64"), theta, mean, var)
    norm = special.logsumexp(log_joint, axis=1, keepdims=True)
    expected = np.exp(log_joint - norm)
    np.testing.assert_allclose(gamma, expected, rtol=1e-4, atol=1e-6)
