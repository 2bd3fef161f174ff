"""`MixtureAdam`: the mixture's steps are relative to its scale."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vade_tf import metrics, workflow
from vade_tf.model import elbo, layers, mixture_prior
from vade_tf.training import optimizers, recipes


def _mixture_steps(scale, n_steps=5, updates="relative"):
    """Takes `n_steps` mixture steps on a fixed batch whose latent space is
    multiplied by `scale`; returns theta_p, c_mean, c_var afterwards."""
    rng = np.random.default_rng(0)
    z_mean = rng.normal(size=(32, 2)).astype("float32")
    z_log_var = rng.normal(-2.0, 0.5, size=(32, 2)).astype("float32")
    layer = mixture_prior.MixturePrior(3, 2, name="gmm")
    layer.set_parameters(
        [0.2, 0.3, 0.5],
        rng.normal(size=(3, 2)) * scale,
        rng.uniform(0.1, 1.0, size=(3, 2)) * scale**2,
    )
    z_mean = tf.constant(z_mean * scale, dtype="float32")
    z_log_var = tf.constant(z_log_var + 2.0 * np.log(scale), dtype="float32")
    optimizer = (
        optimizers.MixtureAdam
        if updates == "relative"
        else keras.optimizers.Adam
    )(0.01, epsilon=1e-4)
    variables = layer.trainable_variables
    optimizer.build(variables)
    for _ in range(n_steps):
        with tf.GradientTape() as tape:
            log_gamma = layer.log_p_c_z(z_mean)
            loss = tf.reduce_mean(
                elbo.vade_kl(
                    z_mean,
                    z_log_var,
                    log_gamma,
                    layer.theta_p,
                    layer.c_mean,
                    layer.c_var,
                )
            )
        optimizer.apply(tape.gradient(loss, variables), variables)
    return [np.asarray(v, dtype="float64") for v in variables]


def test_steps_are_the_same_at_every_scale_of_the_latent_space():
    theta1, mean1, var1 = _mixture_steps(1.0)
    for scale in (1e-2, 30.0):
        theta, mean, var = _mixture_steps(scale)
        np.testing.assert_allclose(theta, theta1, rtol=1e-4)
        np.testing.assert_allclose(mean / scale, mean1, rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(var / scale**2, var1, rtol=1e-3)
    # Plain Adam is not: at scale 1e-2 its steps are 100 times too big.
    _, _, var_adam = _mixture_steps(1e-2, updates="absolute")
    assert not np.allclose(var_adam / 1e-4, var1, rtol=0.1)


def test_one_step_is_adam_on_the_rescaled_parameters():
    # Independent computation: Keras's Adam on log c_var, log theta_p and
    # c_mean / sqrt(c_var), with the chain-rule gradients.
    layer = mixture_prior.MixturePrior(3, 2, name="gmm")
    rng = np.random.default_rng(1)
    layer.set_parameters(
        [0.2, 0.3, 0.5], rng.normal(size=(3, 2)), rng.uniform(0.5, 2, (3, 2))
    )
    z = tf.constant(rng.normal(size=(16, 2)).astype("float32"))
    theta0, mean0, var0 = [np.array(v) for v in layer.trainable_variables]
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(tf.reduce_logsumexp(layer.log_joint(z), axis=1))
    g_theta, g_mean, g_var = [
        np.asarray(g) for g in tape.gradient(loss, layer.trainable_variables)
    ]
    optimizer = optimizers.MixtureAdam(0.01, epsilon=1e-4)
    optimizer.build(layer.trainable_variables)
    optimizer.apply([g_theta, g_mean, g_var], layer.trainable_variables)

    std0 = np.sqrt(var0)
    shadow = [
        keras.Variable(np.log(theta0), dtype="float32"),
        keras.Variable(mean0 / std0, dtype="float32"),
        keras.Variable(np.log(var0), dtype="float32"),
    ]
    adam = keras.optimizers.Adam(0.01, epsilon=1e-4)
    adam.build(shadow)
    adam.apply([g_theta * theta0, g_mean * std0, g_var * var0], shadow)
    expected_theta = layers.SimplexConstraint(layer.min_weight)(
        np.exp(np.asarray(shadow[0]))
    )
    np.testing.assert_allclose(
        np.asarray(layer.theta_p), expected_theta, rtol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(layer.c_mean), np.asarray(shadow[1]) * std0, rtol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(layer.c_var), np.exp(np.asarray(shadow[2])), rtol=1e-5
    )


def test_round_trips_through_its_config():
    optimizer = optimizers.MixtureAdam(0.003, epsilon=1e-3)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(clone, optimizers.MixtureAdam)
    assert clone.get_config() == optimizer.get_config()


@pytest.mark.slow  # 20 s a seed; the scale test above covers the mechanism
@pytest.mark.parametrize("seed", [0, 1])
def test_tight_latent_space_keeps_the_mixture_at_its_scale(seed):
    # Three well-separated blobs whose latent space is squeezed to a mean
    # per-dimension std of 0.05 (component variances ~1e-6). Plain Adam at
    # the original mixture rate 0.002 moves c_var by ~0.002 a step, 1,000
    # times the tightest variance (c_var grew to ~0.01 within 40 steps on
    # an AVX2 EPYC); relative steps keep c_var at its scale and, at the
    # tuned network rate 0.0002, every blob apart.
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 20))
    y = np.repeat(np.arange(3), 300)
    x = (centers[y] + 0.01 * rng.normal(size=(900, 20))).astype("float32")
    keras.utils.set_random_seed(seed)
    model = workflow.build_model(
        x, n_clusters=3, latent_dim=4, hidden_dims=(64, 64), seed=seed
    )
    recipe = recipes.get_recipe(
        "original",
        pretrain_epochs=30,
        mixture_n_init=1,
        latent_std=0.05,
        mixture_updates="relative",
        learning_rate=0.0002,
        epochs=5,
    )
    starts = {}

    def on_stage(stage, model):
        if stage == "initialized":
            starts["acc"] = metrics.cluster_acc(y, model.predict_clusters(x))[0]
            starts["c_var"] = np.asarray(model.c_var).copy()

    workflow.train(model, x, recipe, random_state=seed, on_stage=on_stage)
    assert starts["acc"] == 1.0
    assert np.max(starts["c_var"]) < 1e-2  # the latent space is tight
    # 45 steps of at most ~0.2% each, plus the constraint: c_var keeps its
    # scale (plain Adam's grows by orders of magnitude).
    ratio = np.asarray(model.c_var) / starts["c_var"]
    assert 0.5 < ratio.min() and ratio.max() < 2.0
    assert metrics.cluster_acc(y, model.predict_clusters(x))[0] == 1.0
