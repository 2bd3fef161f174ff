"""VaDE: training step, two optimizers, constraints, I/O, inference."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import cluster, mixture

import vade_tf


def _np(x):
    return keras.ops.convert_to_numpy(x)


# --- Construction and configuration ------------------------------------------


def test_variables_have_the_documented_shapes(small_model):
    assert small_model.theta_p.shape == (3,)
    assert small_model.c_mean.shape == (3, 2)
    assert small_model.c_var.shape == (3, 2)
    mixture_ids = {id(v) for v in small_model.mixture_variables}
    network_ids = {id(v) for v in small_model.network_variables}
    assert mixture_ids.isdisjoint(network_ids)
    assert len(mixture_ids) + len(network_ids) == len(
        small_model.trainable_variables
    )


def test_sub_models_have_stable_layer_names(small_model):
    assert [layer.name for layer in small_model.encoder.layers[1:]] == [
        "encoder1",
        "encoder2",
        "z_mean",
        "z_log_var",
    ]
    assert [layer.name for layer in small_model.decoder.layers[1:]] == [
        "decoder1",
        "decoder2",
        "decoder3",
        "x_hat",
    ]
    z_mean, z_log_var = small_model.encoder(np.zeros((4, 12), "float32"))
    assert z_mean.shape == (4, 2) and z_log_var.shape == (4, 2)
    assert small_model.decoder(np.zeros((4, 2), "float32")).shape == (4, 12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_clusters": 1}, "n_clusters must be an integer >= 2.*=1"),
        ({"n_clusters": 2.5}, "n_clusters"),
        ({"input_dim": 0}, "input_dim"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"gamma_mode": "approx"}, "gamma_mode"),
        ({"alpha": 0.0}, "alpha"),
        ({"beta": -1.0}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"latent_dim": True}, "latent_dim"),
        ({"seed": "a"}, "seed must be an integer or None.*'a'"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, message):
    arguments = {"input_dim": 12, "n_clusters": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        vade_tf.VaDE(**arguments)


def test_get_config_round_trip_lists_every_argument():
    model = vade_tf.VaDE(
        input_dim=12,
        n_clusters=4,
        latent_dim=3,
        hidden_dims=(8, 6),
        likelihood="gaussian",
        alpha=2.0,
        beta=0.5,
        gamma_mode="original",
        seed=5,
        kernel_initializer="he_uniform",
    )
    config = model.get_config()
    for argument in (
        "input_dim",
        "n_clusters",
        "latent_dim",
        "hidden_dims",
        "likelihood",
        "alpha",
        "beta",
        "gamma_mode",
        "seed",
        "kernel_initializer",
    ):
        assert argument in config
    clone = vade_tf.VaDE.from_config(config)
    assert clone.get_config() == config
    assert clone.decoder.get_layer("x_hat").get_config()["activation"] == (
        "linear"
    )


# --- Training ----------------------------------------------------------------


def test_fit_logs_loss_reconstruction_and_kl(small_model, blobs):
    x, _ = blobs
    small_model.compile()
    history = small_model.fit(x, epochs=2, batch_size=40, verbose=0)
    assert set(history.history) >= {"loss", "reconstruction", "kl"}
    for values in history.history.values():
        assert np.isfinite(values).all()
    last = {k: v[-1] for k, v in history.history.items()}
    # Each logged value is a batch mean; the total is their sum.
    np.testing.assert_allclose(
        last["loss"], last["reconstruction"] + last["kl"], rtol=1e-4
    )


def test_evaluate_weights_batches_by_their_size(small_model, blobs):
    x, _ = blobs
    # A near-zero posterior variance makes every term deterministic.
    head = small_model.encoder.get_layer("z_log_var")
    head.bias.assign(np.full(head.bias.shape, -30.0, "float32"))
    small_model.compile(jit_compile=False)
    reconstruction, kl = (_np(t) for t in small_model.elbo_terms(x[:100]))
    logs = small_model.evaluate(
        x[:100], batch_size=90, verbose=0, return_dict=True
    )
    # 90 + 10 rows: the epoch figure is the per-sample mean, not the mean
    # of the two batch means.
    np.testing.assert_allclose(
        logs["reconstruction"], reconstruction.mean(), rtol=1e-5
    )
    np.testing.assert_allclose(logs["kl"], kl.mean(), rtol=1e-4)


def _negligible_draws(model):
    """Makes q(z|x) all but a point (std ~3e-7): the ELBO's draw of z no
    longer changes it from one call to the next."""
    head = model.encoder.get_layer("z_log_var")
    head.bias.assign(np.full(head.bias.shape, -30.0, "float32"))


def test_sample_weights_scale_each_sample(small_model, blobs):
    x, _ = blobs
    _negligible_draws(small_model)
    small_model.compile(jit_compile=False)
    weights = np.array([1.0] * 40 + [0.001] * 10, "float32")
    reconstruction, kl = (_np(t) for t in small_model.elbo_terms(x[:50]))
    logs = small_model.evaluate(
        x[:50],
        sample_weight=weights,
        batch_size=40,
        verbose=0,
        return_dict=True,
    )
    np.testing.assert_allclose(
        logs["reconstruction"], (reconstruction * weights).mean(), rtol=1e-4
    )


def test_validation_sample_weights_count_without_targets(small_model, blobs):
    # (x_val, None, weights), as `evaluate(x_val, sample_weight=...)`: the
    # weights are kept although there are no targets.
    x, _ = blobs
    _negligible_draws(small_model)  # the same ELBO at each call
    small_model.compile(jit_compile=False)
    weights = np.array([1.0] * 20 + [0.0] * 30, "float32")
    history = small_model.fit(
        x,
        epochs=1,
        batch_size=40,
        verbose=0,
        validation_data=(x[:50], None, weights),
    )
    expected = small_model.evaluate(
        x[:50],
        sample_weight=weights,
        batch_size=40,
        verbose=0,
        return_dict=True,
    )
    unweighted = small_model.evaluate(
        x[:50], batch_size=40, verbose=0, return_dict=True
    )
    assert history.history["val_loss"][-1] == pytest.approx(
        expected["loss"], rel=1e-5
    )
    assert expected["loss"] != pytest.approx(unweighted["loss"], rel=1e-3)


def test_float64_dataset_and_streamed_input_errors(small_model, blobs):
    x, _ = blobs
    small_model.compile(jit_compile=False)
    dataset = tf.data.Dataset.from_tensor_slices(x.astype("float64")).batch(40)
    history = small_model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
    for method in (
        "transform",
        "predict_proba",
        "initialize_mixture",
        "pretrain",
    ):
        with pytest.raises(ValueError, match="must be an array"):
            getattr(small_model, method)(dataset)


@pytest.mark.slow
def test_mirrored_strategy_steps_equal_single_device_steps(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    moved, difference = map(float, result.stdout.strip().splitlines()[-2:])
    # Every variable (networks and mixture) moved in the three steps of
    # batch 40, and moved the same under two replicas of 20 rows each.
    assert moved > 0
    assert difference < 1e-3


MIRRORED_SCRIPT = r"""
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
import keras
import vade_tf

x = np.random.default_rng(0).uniform(size=(120, 12)).astype("float32")


def three_steps(strategy):
    with strategy.scope():
        model = vade_tf.VaDE(12, 3, latent_dim=2, hidden_dims=(8,), seed=0)
        model.initialize_mixture(x, random_state=0)
        # A point-mass q(z|x): the replicas' draws of z cannot differ.
        head = model.encoder.get_layer("z_log_var")
        head.bias.assign(np.full(head.bias.shape, -30.0, "float32"))
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            mixture_optimizer=keras.optimizers.Adam(0.01),
            jit_compile=False,
        )
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.fit(x, epochs=1, batch_size=40, shuffle=False, verbose=0)
    return before, [v.numpy() for v in model.trainable_variables]


start, single = three_steps(tf.distribute.get_strategy())
_, mirrored = three_steps(
    tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
)
moved = min(float(np.abs(b - a).max()) for a, b in zip(start, single))
print(moved)
print(max(
    float(np.abs(a - b).max() / (np.abs(a - s).max() + 1e-12))
    for a, b, s in zip(single, mirrored, start)
))
"""


def test_numpy_integer_seed(blobs):
    model = vade_tf.VaDE(12, 3, hidden_dims=(8,), seed=np.int64(4))
    assert model.get_config()["seed"] == 4


def test_evaluate_matches_the_elbo_terms(small_model, blobs):
    x, _ = blobs
    small_model.alpha = 3.0
    small_model.compile(jit_compile=False)
    logs = small_model.evaluate(
        x, batch_size=len(x), verbose=0, return_dict=True
    )
    np.testing.assert_allclose(
        logs["loss"], 3.0 * logs["reconstruction"] + logs["kl"], rtol=1e-4
    )
    assert logs["kl"] > 0  # a KL divergence


def _numpy_negative_elbo(model, x):
    """VaDE's reconstruction and KL terms in float64 numpy and scipy, for a
    model whose q(z|x) is a point mass (z = z_mean)."""
    from scipy import special, stats

    z, log_var = (np.asarray(_np(t), "float64") for t in model.encoder(x))
    logits = np.asarray(_np(model.decoder_outputs(z.astype("float32"))))
    reconstruction = np.sum(
        np.logaddexp(0.0, logits) - x * logits, axis=-1
    )  # Bernoulli -log p(x|z)
    theta = np.asarray(_np(model.theta_p), "float64")
    mean = np.asarray(_np(model.c_mean), "float64")
    var = np.asarray(_np(model.c_var), "float64")
    log_p_z_c = stats.norm.logpdf(
        z[:, None, :], mean[None], np.sqrt(var)[None]
    ).sum(-1)
    log_gamma = np.log(theta) + log_p_z_c
    log_gamma -= special.logsumexp(log_gamma, axis=1, keepdims=True)
    gamma = np.exp(log_gamma)
    z_var = np.exp(log_var)
    cross_entropy = 0.5 * np.sum(
        np.log(2 * np.pi * var)[None]
        + (z_var[:, None] + (z[:, None] - mean[None]) ** 2) / var[None],
        axis=-1,
    )
    kl = (
        np.sum(gamma * cross_entropy, axis=1)
        - 0.5 * np.sum(np.log(2 * np.pi * z_var) + 1.0, axis=1)
        + np.sum(gamma * (log_gamma - np.log(theta)), axis=1)
    )
    return reconstruction, kl


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_loss_is_reconstruction_plus_beta_times_kl_against_numpy(blobs, beta):
    x, _ = blobs
    model = vade_tf.VaDE(
        12, 3, latent_dim=2, hidden_dims=(16, 8), alpha=1.5, beta=beta, seed=3
    )
    model.initialize_mixture(x, random_state=0, posterior_var_ratio=None)
    # A point-mass q(z|x): the one draw of z is z_mean, so the numpy
    # reference needs no random numbers.
    head = model.encoder.get_layer("z_log_var")
    head.bias.assign(np.full(head.bias.shape, -25.0, "float32"))
    reconstruction, kl = _numpy_negative_elbo(model, x)
    model.compile(jit_compile=False)
    logs = model.evaluate(x, batch_size=len(x), verbose=0, return_dict=True)
    np.testing.assert_allclose(
        logs["reconstruction"], reconstruction.mean(), rtol=1e-4
    )
    np.testing.assert_allclose(logs["kl"], kl.mean(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(
        logs["loss"],
        1.5 * reconstruction.mean() + beta * kl.mean(),
        rtol=1e-4,
    )
    scores = model.score_samples(x)
    np.testing.assert_allclose(
        scores, -(1.5 * reconstruction + beta * kl), rtol=1e-4, atol=1e-2
    )


def test_gradients_reach_every_weight_and_the_mixture(small_model, blobs):
    x, _ = blobs
    variables = small_model.trainable_variables
    with tf.GradientTape() as tape:
        reconstruction, kl = small_model.elbo_terms(x[:32], training=True)
        loss = tf.reduce_mean(reconstruction + kl)
    gradients = tape.gradient(loss, variables)
    for variable, gradient in zip(variables, gradients):
        assert gradient is not None, variable.path
        assert np.abs(_np(gradient)).sum() > 0, variable.path
    assert {v.name for v in small_model.mixture_variables} == {
        "theta_p",
        "c_mean",
        "c_var",
    }


@pytest.mark.parametrize("jit_compile", [True, False])
def test_both_optimizers_step_on_their_own_variables(
    small_model, blobs, jit_compile
):
    x, _ = blobs
    network = keras.optimizers.Adam(1e-3)
    gmm = keras.optimizers.Adam(1e-2)
    small_model.compile(
        optimizer=network, mixture_optimizer=gmm, jit_compile=jit_compile
    )
    before = [_np(v).copy() for v in small_model.trainable_variables]
    small_model.fit(x, epochs=1, batch_size=40, verbose=0)
    assert int(network.iterations) == 3 and int(gmm.iterations) == 3
    after = [_np(v) for v in small_model.trainable_variables]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))
    # Each optimizer holds slots for its own variables only: iterations,
    # learning rate and two Adam moments per variable.
    assert len(gmm.variables) == 2 + 2 * 3
    assert len(network.variables) == 2 + 2 * len(small_model.network_variables)


def test_constraints_hold_after_large_steps(small_model, blobs):
    x, _ = blobs
    small_model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        mixture_optimizer=keras.optimizers.SGD(50.0),
    )
    small_model.fit(x, epochs=2, batch_size=20, verbose=0)
    theta = _np(small_model.theta_p)
    c_var = _np(small_model.c_var)
    assert np.all(theta >= 0.999 * small_model.gmm.min_weight)
    np.testing.assert_allclose(theta.sum(), 1.0, rtol=1e-5)
    assert np.all(c_var >= small_model.gmm.min_var)
    assert np.isfinite(_np(small_model.c_mean)).all()


def test_compile_rejects_a_loss_and_a_shared_optimizer(small_model):
    with pytest.raises(ValueError, match="takes no `loss`"):
        small_model.compile(loss="mse")
    with pytest.raises(ValueError, match="takes no `metrics`"):
        small_model.compile(metrics=["mae"])
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two different"):
        small_model.compile(optimizer=optimizer, mixture_optimizer=optimizer)


def test_default_optimizers_are_the_original_adam(small_model):
    small_model.compile()
    for optimizer in (small_model.optimizer, small_model.mixture_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        np.testing.assert_allclose(float(optimizer.learning_rate), 0.002)
        assert optimizer.epsilon == 1e-4
    assert small_model.optimizer is not small_model.mixture_optimizer


def test_fit_accepts_a_tf_data_dataset(small_model, blobs):
    x, _ = blobs
    small_model.compile()
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(30)
    history = small_model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
    # Every batch of both epochs took one step of each optimizer.
    steps = 2 * int(np.ceil(len(x) / 30))
    assert int(small_model.optimizer.iterations) == steps
    assert int(small_model.mixture_optimizer.iterations) == steps
    np.testing.assert_allclose(float(np.sum(_np(small_model.theta_p))), 1.0)


# --- Saving ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["m.h5", "M.HDF5"])
def test_legacy_h5_save_is_refused_with_the_alternatives(
    small_model, tmp_path, name
):
    # Keras would write it, then fail to load it ("Unknown layer: 'VaDE'").
    with pytest.raises(ValueError, match=r"\.keras file.*save_pretrained"):
        small_model.save(tmp_path / name)
    assert not os.path.exists(tmp_path / name)


@pytest.mark.slow
def test_keras_file_round_trip_gives_identical_predictions(
    small_model, blobs, tmp_path
):
    x, _ = blobs
    small_model.compile(steps_per_execution=2)
    small_model.fit(x, epochs=1, batch_size=40, verbose=0)
    path = tmp_path / "m.keras"
    small_model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, vade_tf.VaDE)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), small_model.predict(x, verbose=0)
    )
    np.testing.assert_array_equal(_np(loaded.c_var), _np(small_model.c_var))
    assert loaded.steps_per_execution == small_model.steps_per_execution
    # Both optimizers come back with their state, so training resumes.
    assert int(loaded.mixture_optimizer.iterations) == 3
    assert int(loaded.optimizer.iterations) == 3
    loaded.fit(x, epochs=1, batch_size=40, verbose=0)


# --- Mixture initialisation --------------------------------------------------


def test_initialize_gmm_writes_the_gaussian_mixture(small_model, blobs):
    x, _ = blobs
    estimator = small_model.initialize_mixture(x, random_state=0, n_init=3)
    z = small_model.transform(x).astype("float64")
    # EM started from the best k-means partition, built independently.
    labels = cluster.KMeans(3, n_init=3, random_state=0).fit_predict(z)
    members = [z[labels == k] for k in range(3)]
    reference = mixture.GaussianMixture(
        3,
        covariance_type="diag",
        weights_init=np.bincount(labels) / len(z),
        means_init=np.stack([m.mean(0) for m in members]),
        precisions_init=np.stack([1 / (m.var(0) + 1e-6) for m in members]),
        random_state=0,
    ).fit(z)
    np.testing.assert_allclose(estimator.means_, reference.means_, rtol=1e-5)
    np.testing.assert_allclose(
        _np(small_model.c_mean), reference.means_, rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        _np(small_model.c_var), reference.covariances_, rtol=1e-4
    )
    np.testing.assert_allclose(
        _np(small_model.theta_p), reference.weights_, rtol=1e-4
    )
    np.testing.assert_allclose(
        small_model.predict_proba(x), reference.predict_proba(z), atol=1e-4
    )


def test_initialize_gmm_scales_the_log_variance_head(small_model, blobs):
    x, _ = blobs
    head = small_model.encoder.get_layer("z_log_var")
    head.kernel.assign(np.ones(head.kernel.shape, "float32"))
    small_model.initialize_mixture(x, random_state=0, posterior_var_ratio=0.05)
    _, z_log_var = small_model.encoder.predict(x, verbose=0)
    expected = np.log(0.05 * _np(small_model.c_var).mean(0))
    np.testing.assert_allclose(
        z_log_var, np.tile(expected, (120, 1)), rtol=1e-5, atol=1e-5
    )
    kernel_before = _np(head.kernel).copy()
    small_model.initialize_mixture(x, random_state=0, posterior_var_ratio=None)
    np.testing.assert_array_equal(_np(head.kernel), kernel_before)
    c_mean = _np(small_model.c_mean).copy()
    with pytest.raises(ValueError, match="posterior_var_ratio"):
        small_model.initialize_mixture(x, posterior_var_ratio=0.0)
    np.testing.assert_array_equal(_np(small_model.c_mean), c_mean)


def test_initialize_gmm_with_kmeans(small_model, blobs):
    x, y = blobs
    small_model.initialize_mixture(
        x, mixture_init="kmeans", random_state=0, n_init=3
    )
    z = small_model.transform(x).astype("float64")
    # The best of 3 k-means runs, built independently: its centres are the
    # means, its shares the weights, its members' variances the variances.
    kmeans = cluster.KMeans(3, n_init=3, random_state=0).fit(z)
    labels = kmeans.labels_
    np.testing.assert_allclose(
        _np(small_model.c_mean), kmeans.cluster_centers_, rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        _np(small_model.theta_p), np.bincount(labels) / len(z), rtol=1e-5
    )
    variances = np.stack([z[labels == k].var(0) + 1e-6 for k in range(3)])
    np.testing.assert_allclose(_np(small_model.c_var), variances, rtol=1e-4)
    with pytest.raises(ValueError, match="mixture_init must be one of"):
        small_model.initialize_mixture(x, mixture_init="spectral")


def test_set_gmm_parameters_checks_shapes(small_model):
    with pytest.raises(ValueError, match=r"c_mean must have shape \(3, 2\)"):
        small_model.set_mixture_parameters(
            np.ones(3) / 3, np.zeros((2, 2)), np.ones((3, 2))
        )
    # A sign error is refused, not projected away.
    with pytest.raises(ValueError, match="smallest c_var -1"):
        small_model.set_mixture_parameters(
            np.ones(3) / 3, np.zeros((3, 2)), -np.ones((3, 2))
        )
    with pytest.raises(ValueError, match="theta_p must be >= 0"):
        small_model.set_mixture_parameters(
            np.array([0.6, 0.6, -0.2]), np.zeros((3, 2)), np.ones((3, 2))
        )
    # A zero weight is rounding, projected onto the simplex's floor.
    small_model.set_mixture_parameters(
        np.array([0.5, 0.5, 0.0]), np.zeros((3, 2)), np.ones((3, 2))
    )
    assert float(np.min(small_model.theta_p)) > 0


# --- Inference ---------------------------------------------------------------


def test_predict_proba_clusters_and_transform(small_model, blobs):
    x, _ = blobs
    proba = small_model.predict_proba(x, batch_size=50)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    clusters = small_model.predict_clusters(x)
    np.testing.assert_array_equal(clusters, proba.argmax(1))
    z = small_model.transform(x)
    assert z.shape == (120, 2)
    np.testing.assert_allclose(
        proba, _np(small_model.gmm.p_c_z(z)), rtol=1e-4, atol=1e-6
    )
    sampled = small_model.predict_proba(x, n_samples=20, seed=0)
    np.testing.assert_allclose(sampled.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(
        sampled, small_model.predict_proba(x, n_samples=20, seed=0)
    )


def test_sampled_predict_proba_steps_do_not_depend_on_batch_size(
    small_model, blobs, monkeypatch
):
    # A mixture step of 25 rows at 20 draws (K = 3, D = 2): 5 steps for 120
    # rows, whatever rows the encoder takes per pass.
    x, _ = blobs
    monkeypatch.setattr(
        vade_tf.model.inference, "MIXTURE_CHUNK_ENTRIES", 3 * 2 * 20 * 25
    )
    step_rows = []
    q_c_x = small_model.gmm.q_c_x

    def recording(z_mean, *args):
        step_rows.append(len(z_mean))
        return q_c_x(z_mean, *args)

    monkeypatch.setattr(small_model.gmm, "q_c_x", recording)
    by_batch = {
        batch_size: small_model.predict_proba(
            x, batch_size=batch_size, n_samples=20, seed=0
        )
        for batch_size in (7, 50, 4096)
    }
    assert step_rows == [25, 25, 25, 25, 20] * 3
    for proba in by_batch.values():
        np.testing.assert_allclose(proba, by_batch[50], rtol=1e-5, atol=1e-7)


def test_encode_pads_short_batches_to_a_few_shapes(small_model, blobs):
    x, _ = blobs
    sizes = range(1, 101)
    padded = {vade_tf.model.inference.padded_batch_rows(n, 100) for n in sizes}
    # Powers of two from the minimum up, then the cap: few compiled shapes.
    assert padded == {16, 32, 64, 100}
    assert all(
        n <= vade_tf.model.inference.padded_batch_rows(n, 100) <= 100
        for n in range(1, 101)
    )
    # never below rows:
    assert vade_tf.model.inference.padded_batch_rows(7, 4) == 7
    # Padding rows never leak into the results: every size agrees with the
    # encoder applied to the rows alone.
    for rows in (1, 17, 33, 100, 120):
        z_mean, z_log_var = small_model.encode(x[:rows], batch_size=100)
        expected = small_model.encoder_outputs(x[:rows])
        assert z_mean.shape == (rows, 2)
        np.testing.assert_allclose(
            z_mean, _np(expected[0]), rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            z_log_var, _np(expected[1]), rtol=1e-4, atol=1e-5
        )


def test_generate_shapes_and_min_posterior(small_model):
    samples = small_model.generate(1, 5, seed=0)
    assert samples.shape == (5, 12)
    assert ((samples >= 0) & (samples <= 1)).all()
    np.testing.assert_array_equal(samples, small_model.generate(1, 5, seed=0))
    small_model.set_mixture_parameters(
        np.ones(3) / 3,
        np.array([[0, 0], [4, 4], [8, 0]], "float32"),
        np.ones((3, 2)),
    )
    kept = small_model.generate(1, 10, seed=0, min_posterior=0.9)
    assert kept.shape == (10, 12)
    small_model.set_mixture_parameters(
        np.ones(3) / 3,
        np.array([[0, 0], [0, 0], [8, 0]], "float32"),
        np.ones((3, 2)),
    )  # clusters 0 and 1 coincide: p(1|z) never exceeds 1/2
    with pytest.raises(ValueError, match="min_posterior"):
        small_model.generate(1, 3, seed=0, min_posterior=0.9, max_draws=100)
    with pytest.raises(ValueError, match="cluster must be"):
        small_model.generate(3, 2)


# --- Bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "x, message",
    [
        (np.zeros((5, 3, 4)), r"rank 2.*\(5, 3, 4\).*reshape"),
        (np.zeros((5, 11)), r"12 features.*\(5, 11\)"),
        (np.full((5, 12), np.nan), "NaN or inf"),
        (np.full((5, 12), 2.0), r"\[0, 1\]"),
        (np.zeros((2, 12)), "2 samples, fewer than n_clusters=3"),
        ("not numbers", "numeric array"),
    ],
)
def test_fit_rejects_bad_input(small_model, x, message):
    small_model.compile()
    with pytest.raises(ValueError, match=message):
        small_model.fit(x, epochs=1, verbose=0)


@pytest.mark.parametrize("method", ["pretrain", "initialize_mixture"])
def test_too_few_samples_for_the_clusters(small_model, method):
    with pytest.raises(ValueError, match="fewer than n_clusters=3"):
        getattr(small_model, method)(np.zeros((2, 12), "float32"))


def test_predict_rejects_wrong_feature_count(small_model):
    with pytest.raises(ValueError, match="12 features"):
        small_model.predict_proba(np.zeros((4, 10)))
    with pytest.raises(ValueError, match="12 features"):
        small_model.predict(np.zeros((4, 10)))


def test_gaussian_likelihood_accepts_any_real_values(blobs):
    x, _ = blobs
    model = vade_tf.VaDE(
        12, 3, latent_dim=2, hidden_dims=(8,), likelihood="gaussian", seed=0
    )
    model.compile()
    history = model.fit(5.0 * x - 2.0, epochs=1, batch_size=40, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_mixture_log_likelihood_matches_scikit_learn(rng):
    from vade_tf.training import latent_mixture as vade_mixture

    z = rng.normal(size=(300, 3))
    gmm = mixture.GaussianMixture(3, covariance_type="diag", random_state=0)
    gmm.fit(z)
    ours = vade_mixture.mixture_log_likelihood(
        z, gmm.weights_, gmm.means_, gmm.covariances_
    )
    np.testing.assert_allclose(ours, gmm.score(z), rtol=1e-10)


def test_initialize_gmm_restarts_keep_the_most_likely_fit(small_model, rng):
    from vade_tf.training import latent_mixture as vade_mixture

    # Four groups for three clusters: starts disagree on which to merge.
    z = np.concatenate(
        [
            rng.normal(c, 0.3, size=(60, 2))
            for c in ([0, 0], [4, 0], [0, 4], [4, 4])
        ]
    )
    restarts = 5
    best = vade_mixture.fit_best_latent_mixture(
        z, 3, "kmeans", random_state=0, n_init=1, n_restarts=restarts
    )
    seeds = np.random.SeedSequence(0).generate_state(restarts)
    scores = [
        vade_mixture.mixture_log_likelihood(
            z, *vade_mixture.fit_latent_mixture(z, 3, "kmeans", int(s), 1)[1:]
        )
        for s in seeds
    ]
    assert vade_mixture.mixture_log_likelihood(z, *best[1:]) == max(scores)
    with pytest.raises(ValueError, match="n_restarts"):
        vade_mixture.fit_best_latent_mixture(z, 3, n_restarts=0)
    x = rng.random((80, 12)).astype("float32")
    small_model.initialize_mixture(x, n_restarts=3, random_state=0)
    assert np.isclose(np.asarray(small_model.theta_p).sum(), 1.0)


@pytest.mark.slow  # over 6 s on 2 cores
def test_fit_on_an_array_orders_batches_from_the_model_seed(blobs):
    x, _ = blobs

    def fit_after(global_seed, **fit_kwargs):
        keras.utils.set_random_seed(global_seed)
        model = vade_tf.VaDE(
            input_dim=12,
            n_clusters=3,
            latent_dim=2,
            hidden_dims=(16, 8),
            seed=1,
        )
        model.compile(jit_compile=False)
        history = model.fit(
            x, epochs=2, batch_size=50, verbose=0, **fit_kwargs
        ).history
        return model, history

    first, history = fit_after(1)
    second, _ = fit_after(2)
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()
    # Every epoch visits each row once, in ceil(120 / 50) = 3 batches: with
    # the default steps_per_execution (32 > 3) a call stops at the epoch's
    # end, so two epochs are 6 optimizer steps, not 64.
    per_call = vade_tf.model.vade.STEPS_PER_EXECUTION
    assert first.steps_per_execution == per_call > 3
    assert int(first.optimizer.iterations.numpy()) == 6
    # One step per call: batch callbacks see every batch.
    model = vade_tf.VaDE(
        input_dim=12, n_clusters=3, latent_dim=2, hidden_dims=(16, 8), seed=1
    )
    model.compile(jit_compile=False, steps_per_execution=1)
    steps = []
    counter = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: steps.append(batch)
    )
    model.fit(x, epochs=2, batch_size=50, verbose=0, callbacks=[counter])
    assert steps == [0, 1, 2, 0, 1, 2]
    # Keras's own paths stay available: no shuffling, a validation split.
    for kwargs in ({"shuffle": False}, {"validation_split": 0.25}):
        _, history = fit_after(1, **kwargs)
        assert np.isfinite(history["loss"]).all()


def test_steps_per_execution_defaults_to_one_step_per_call_across_replicas(
    monkeypatch,
):
    def compiled(**kwargs):
        model = vade_tf.VaDE(input_dim=6, n_clusters=2, hidden_dims=(4,))
        model.compile(jit_compile=False, **kwargs)
        return model.steps_per_execution

    assert compiled() == vade_tf.model.vade.STEPS_PER_EXECUTION
    assert compiled(steps_per_execution=5) == 5
    # Keras's multi-step loop fails with several replicas in sync.
    monkeypatch.setattr(
        vade_tf.training.distribute, "multi_step_supported", lambda: False
    )
    assert compiled() == 1


def test_many_models_encode_without_a_retracing_warning(blobs, caplog):
    # Each model traces its encoder once (a grid search builds many): that
    # is not the "excessive retracing" TensorFlow warns about.
    x, _ = blobs
    caplog.set_level("WARNING", logger="tensorflow")
    for seed in range(7):
        model = vade_tf.VaDE(12, 3, latent_dim=2, hidden_dims=(8,), seed=seed)
        for rows in (5, 50, 120):
            model.transform(x[:rows])
    assert "retracing" not in caplog.text


def test_the_old_mixture_optimizer_name_still_compiles(small_model):
    adam = keras.optimizers.Adam(0.01)
    small_model.compile(gmm_optimizer=adam, jit_compile=False)
    assert small_model.mixture_optimizer is adam
    config = small_model.get_compile_config()
    config["gmm_optimizer"] = config.pop("mixture_optimizer")  # an old file
    small_model.compile_from_config(config)
    learning_rate = small_model.mixture_optimizer.learning_rate
    assert float(learning_rate) == pytest.approx(0.01)


def test_saved_files_keep_the_mixture_optimizer_under_its_first_name(
    small_model, blobs, tmp_path
):
    # Files saved before the rename to `mixture_optimizer` hold its state
    # under `gmm_optimizer`; the stored name stays, so both load alike.
    import io
    import zipfile

    import h5py

    x, _ = blobs
    small_model.initialize_mixture(x, random_state=0)
    small_model.compile(jit_compile=False)
    small_model.fit(x, epochs=1, batch_size=40, verbose=0)
    path = tmp_path / "model.keras"
    small_model.save(path)
    with zipfile.ZipFile(path) as archive:
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "r") as store:
        names = []
        store.visit(names.append)
    assert any(name.startswith("gmm_optimizer/") for name in names), names
    loaded = keras.models.load_model(path)
    steps = int(small_model.mixture_optimizer.iterations)
    assert steps > 0 and int(loaded.mixture_optimizer.iterations) == steps
