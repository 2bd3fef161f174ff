"""Mixed precision: the networks follow the policy, the mixture stays float32.

Under "mixed_float16" Keras wraps the network optimizer in a
LossScaleOptimizer; the training step must scale the loss and the mixture's
gradients must come back unscaled. Each test sets the global policy and
restores float32 after itself.
"""

import keras
import numpy as np
import pytest
import scipy
import tensorflow as tf

import vade_tf
from vade_tf import metrics
from vade_tf.data import datasets, synthetic

POLICIES = ("mixed_float16", "mixed_bfloat16")


@pytest.fixture
def policy(request):
    with vade_tf.model.vade.dtype_policy_scope(request.param):
        yield request.param


def _small_model(seed=0):
    return vade_tf.VaDE(
        16, 3, latent_dim=2, hidden_dims=(32, 32), seed=seed, name="v"
    )


def _one_sgd_step(weights, x, learning_rate=0.05):
    """Builds the small model under the current policy, sets `weights`,
    takes one SGD step on `x`; returns (network deltas, mixture deltas)."""
    model = _small_model()
    model.set_weights(weights)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        mixture_optimizer=keras.optimizers.SGD(learning_rate),
        jit_compile=False,
    )
    before_net = [np.array(v) for v in model.network_variables]
    before_gmm = [np.array(v) for v in model.mixture_variables]
    model.fit(x, batch_size=len(x), epochs=1, verbose=0, shuffle=False)
    net = [
        np.array(v, dtype="float64") - b
        for v, b in zip(model.network_variables, before_net)
    ]
    gmm = [
        np.array(v, dtype="float64") - b
        for v, b in zip(model.mixture_variables, before_gmm)
    ]
    return net, gmm, model


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_mixture_variables_stay_float32(policy):
    model = _small_model()
    assert model.encoder.compute_dtype != "float32"
    for variable in model.mixture_variables:
        assert variable.dtype == "float32"
    x = np.random.default_rng(0).random((8, 16)).astype("float32")
    reconstruction, kl = model.elbo_terms(x)
    assert reconstruction.dtype == "float32" and kl.dtype == "float32"
    assert model.transform(x).dtype == np.float32
    assert model.generate(0, 3).dtype == np.float32


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_keras_predict_and_call_use_the_float32_mixture(policy):
    # `model.predict(x)` and `model(x)` go through `VaDE.__call__`, which
    # autocasts float32 variables to the half-precision compute dtype; the
    # mixture must still be applied in float32 with unrounded parameters.
    # The means are set where rounding them to 8 (bfloat16) or 11 (float16)
    # mantissa bits moves the posterior by far more than the tolerance.
    model = _small_model()
    rng = np.random.default_rng(2)
    c_mean = 3.0 + rng.normal(size=(3, 2)) / 7
    model.gmm.set_parameters([0.2, 0.3, 0.5], c_mean, np.full((3, 2), 0.05))
    x = rng.random((20, 16)).astype("float32")
    z = model.transform(x).astype("float64")
    log_joint = np.log([0.2, 0.3, 0.5]) + np.stack(
        [
            scipy.stats.multivariate_normal(c_mean[k], 0.05).logpdf(z)
            for k in range(3)
        ],
        axis=1,
    )
    expected = scipy.special.softmax(log_joint, axis=1)
    for probs in (model.predict(x, verbose=0), model(x)):
        probs = np.asarray(probs)
        assert probs.dtype == np.float32
        np.testing.assert_allclose(probs, expected, atol=2e-4)
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=2e-4)


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_one_step_moves_the_weights_like_float32(policy):
    # A sharp test of loss scaling: with SGD the step is proportional to
    # the gradient, so a loss scale left in (or divided out twice) would
    # change the step by a factor of 2**15. Half-precision rounding of the
    # activations leaves the step within 10% (float16) / 25% (bfloat16,
    # 8 mantissa bits) of the float32 one, measured as a relative norm.
    rng = np.random.default_rng(1)
    x = rng.random((64, 16)).astype("float32")
    keras.mixed_precision.set_dtype_policy("float32")
    reference = _small_model()
    weights = reference.get_weights()
    net32, gmm32, _ = _one_sgd_step(weights, x)
    keras.mixed_precision.set_dtype_policy(policy)
    net16, gmm16, model = _one_sgd_step(weights, x)
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    tolerance = 0.1 if policy == "mixed_float16" else 0.25
    for name, ours, theirs in (
        ("network", net16, net32),
        ("gmm", gmm16, gmm32),
    ):
        ours = np.concatenate([d.ravel() for d in ours])
        theirs = np.concatenate([d.ravel() for d in theirs])
        assert np.linalg.norm(theirs) > 0, name
        relative = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
        assert relative < tolerance, (name, relative)


@pytest.mark.slow  # about 30 s per policy: half precision is emulated on CPUs
@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_short_fit_stays_finite_and_clusters_the_digits(policy, tmp_path):
    x, y = datasets.load_dataset("digits")
    keras.utils.set_random_seed(0)
    model = vade_tf.VaDE(
        x.shape[1], 10, latent_dim=10, hidden_dims=(128, 128, 512), seed=0
    )
    model.pretrain(x, epochs=15, batch_size=64, verbose=0)
    model.initialize_mixture(x, mixture_init="kmeans", n_init=3, random_state=0)
    start = metrics.cluster_acc(y, model.predict_clusters(x))[0]
    model.compile(jit_compile=False)
    history = model.fit(x, epochs=4, batch_size=100, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    probs = model.predict_proba(x)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    acc = metrics.cluster_acc(y, np.argmax(probs, axis=1))[0]
    # The float32 run of the same settings starts near 0.8 (AVX2 EPYC).
    assert acc > 0.6, (start, acc)
    sampled = model.predict_proba(x[:50], n_samples=4, seed=0)
    assert np.isfinite(sampled).all()

    # The SavedModel export serves float32 like a float32 model.
    export_dir = tmp_path / "export"
    vade_tf.export_saved_model(model, str(export_dir))
    served = tf.saved_model.load(str(export_dir / "1"))
    out = served.signatures["serving_default"](x=tf.constant(x[:20]))
    assert out["cluster_probs"].dtype == tf.float32
    np.testing.assert_allclose(
        out["cluster_probs"].numpy(), probs[:20], atol=2e-3
    )


@pytest.mark.slow  # keeps the fast suite short; about 4 s per policy
@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_count_likelihood_trains_finite_with_float32_parameters(policy):
    x, _ = synthetic.make_count_clusters(
        n_samples=60, n_features=16, n_clusters=3, random_state=0
    )
    model = vade_tf.workflow.build_model(
        x, 3, likelihood="zinb", latent_dim=2, hidden_dims=(32,), seed=0
    )
    dispersion = model.decoder.get_layer("likelihood_parameters")
    assert dispersion.values.dtype == "float32"
    assert model.decoder_outputs(np.zeros((2, 2), "float32")).dtype == (
        "float32"
    )
    model.pretrain(x, epochs=1, verbose=0, jit_compile=False)
    model.initialize_mixture(x, random_state=0)
    model.compile(jit_compile=False)
    history = model.fit(x, epochs=2, batch_size=30, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    probs = model.predict_proba(x)
    assert probs.dtype == np.float32 and probs.shape == (len(x), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    generated = model.generate(0, 2, seed=0)
    assert generated.shape == (2, x.shape[1]) and np.isfinite(generated).all()


@pytest.mark.parametrize("policy", POLICIES, indirect=True)
def test_a_saved_mixed_model_reloads_mixed_under_float32(policy, tmp_path):
    # The networks follow the model's own policy (in its config), not the
    # global one at load time.
    model = _small_model()
    compute_dtype = model.encoder.compute_dtype
    x = np.random.default_rng(3).random((10, 16)).astype("float32")
    expected = model.predict_proba(x)
    path = str(tmp_path / "m.keras")
    model.save(path)
    keras.mixed_precision.set_dtype_policy("float32")
    loaded = keras.models.load_model(path)
    assert loaded.encoder.compute_dtype == compute_dtype != "float32"
    assert loaded.decoder.compute_dtype == compute_dtype
    assert all(v.dtype == "float32" for v in loaded.mixture_variables)
    np.testing.assert_allclose(loaded.predict_proba(x), expected, atol=1e-6)
    # A model built under float32 stays float32.
    assert _small_model().encoder.compute_dtype == "float32"


def test_workflow_trains_under_mixed_float16_with_the_step_decay():
    # Under "mixed_float16" the network optimizer is a LossScaleOptimizer,
    # whose config holds no learning rate of its own: the recipe's
    # StepDecay reads and sets its inner optimizer's.
    x = np.random.default_rng(4).random((60, 16)).astype("float32")
    recipe = vade_tf.training.recipes.get_recipe(
        "original",
        pretrain_epochs=1,
        epochs=2,
        batch_size=30,
        mixture_n_init=1,
        lr_decay=0.5,
        lr_decay_every=1,
    )
    with vade_tf.model.vade.dtype_policy_scope("mixed_float16"):
        model = vade_tf.workflow.build_model(
            x, n_clusters=3, latent_dim=2, hidden_dims=(8,), seed=0
        )
        result = vade_tf.workflow.train(model, x, recipe, jit_compile=False)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    rate = recipe.learning_rate
    np.testing.assert_allclose(
        result.history["learning_rate"], [rate, rate * 0.5], rtol=1e-6
    )
    assert np.isfinite(result.history["loss"]).all()


def test_the_dtype_argument_sets_the_networks_policy_alone():
    model = vade_tf.VaDE(
        16, 3, latent_dim=2, hidden_dims=(32,), dtype="mixed_bfloat16"
    )
    assert keras.config.dtype_policy().name == "float32"
    assert model.encoder.compute_dtype == "bfloat16"
    assert model.decoder.compute_dtype == "bfloat16"
    assert model.gmm.compute_dtype == "float32"
    x = np.random.default_rng(4).random((8, 16)).astype("float32")
    reconstruction, kl = model.elbo_terms(x)
    assert reconstruction.dtype == "float32" and kl.dtype == "float32"
