"""Autoencoder pretraining and both weight-file formats."""

import json

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import vade_tf
from vade_tf.data import augmentation
from vade_tf.training import latent_mixture, pretraining


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _write_keras1_file(path, model, rng, names=None):
    """Writes a file in the original release's Keras 1 HDF5 layout.

    Root attribute `layer_names`, one group per Dense layer with the
    attribute `weight_names` and datasets `<layer>_W` of shape (in, out)
    and `<layer>_b`, as Keras 1's `save_weights` wrote them.
    """
    widths = [model.input_dim, *model.hidden_dims, model.latent_dim]
    shapes = {}
    for i in range(len(widths) - 1):
        shapes[f"encoder{i + 1}"] = (widths[i], widths[i + 1])
        shapes[f"decoder{i + 1}"] = (widths[-1 - i], widths[-2 - i])
    names = names or list(shapes)
    values = {}
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            group = handle.create_group(name)
            group.attrs["weight_names"] = np.array(
                [f"{name}_W".encode(), f"{name}_b".encode()]
            )
            kernel = rng.normal(size=shapes[name]).astype("float32")
            bias = rng.normal(size=shapes[name][1]).astype("float32")
            group.create_dataset(f"{name}_W", data=kernel)
            group.create_dataset(f"{name}_b", data=bias)
            values[name] = (kernel, bias)
    return values


def test_pretrain_lowers_the_reconstruction_error(small_model, blobs):
    x, _ = blobs

    def reconstruction_error():
        x_hat = small_model.decoder.predict(small_model.transform(x), verbose=0)
        return np.mean((x_hat - x) ** 2)

    keras.utils.set_random_seed(0)
    before = reconstruction_error()
    history = small_model.pretrain(x, epochs=40, batch_size=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert reconstruction_error() < 0.7 * before
    # z_log_var is not part of the autoencoder and stays untouched.
    kernel, _ = small_model.encoder.get_layer("z_log_var").get_weights()
    assert not kernel.any()


def test_pretrain_with_denoising_and_custom_optimizer(small_model, blobs):
    x, _ = blobs
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    before = small_model.encoder.get_layer("encoder1").get_weights()[0]
    history = small_model.pretrain(
        x,
        epochs=2,
        batch_size=20,
        verbose=0,
        noise=0.2,
        optimizer=optimizer,
    )
    assert np.isfinite(history.history["loss"]).all()
    # The given SGD made every step (2 epochs of 6 batches) and moved the
    # weights.
    assert int(optimizer.iterations.numpy()) == 12
    after = small_model.encoder.get_layer("encoder1").get_weights()[0]
    assert not np.allclose(before, after)
    # The noise is input dropout at the given rate, in training only.
    autoencoder = pretraining.build_autoencoder(small_model, noise=0.2)
    noise = autoencoder.get_layer("noise")
    ones = np.ones((2000, 12), "float32")
    dropped = np.mean(
        keras.ops.convert_to_numpy(noise(ones, training=True)) == 0
    )
    assert 0.17 < dropped < 0.23
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(noise(ones, training=False)), ones
    )
    with pytest.raises(ValueError, match="noise"):
        small_model.pretrain(x, epochs=1, noise=1.5)


def _centred_blobs(n, side, rng):
    """Gaussian blobs near the centre of side x side images, flattened."""
    grid = np.arange(side) - (side - 1) / 2
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    centres = rng.uniform(-1, 1, size=(n, 2))
    images = np.exp(
        -(
            (rows - centres[:, :1, None]) ** 2
            + (cols - centres[:, 1:, None]) ** 2
        )
        / (2 * 1.5**2)
    )
    return images.reshape(n, side * side).astype("float32")


def _centre_of_mass(images, side):
    images = images.reshape(-1, side, side)
    grid = np.arange(side) - (side - 1) / 2
    mass = images.sum(axis=(1, 2))
    return np.stack(
        [
            (images.sum(2) * grid).sum(1) / mass,
            (images.sum(1) * grid).sum(1) / mass,
        ],
        axis=1,
    )


def test_image_augmentation_shifts_and_rotates_within_bounds(rng):
    side = 20
    x = _centred_blobs(64, side, rng)
    # Shifts only: the blobs stay inside the image, so (bilinear) shifting
    # keeps each image's mass and moves its centre by at most 10% a side.
    shift = augmentation.image_augmentation((side, side), rotation=0.0, seed=3)
    moved = _np(shift(x, training=True))
    assert moved.shape == x.shape
    np.testing.assert_allclose(moved.sum(1), x.sum(1), rtol=1e-3)
    offset = _centre_of_mass(moved, side) - _centre_of_mass(x, side)
    assert np.abs(offset).max() <= 0.1 * side + 1e-3
    assert np.abs(offset).max() > 0.2  # it did move them
    # Rotations only (about the image centre): the distance of the centre of
    # mass from the image centre is kept, the direction is not.
    turn = augmentation.image_augmentation((side, side), shift=0.0, seed=3)
    turned = _np(turn(x, training=True))
    radius = np.linalg.norm(_centre_of_mass(x, side), axis=1)
    np.testing.assert_allclose(
        np.linalg.norm(_centre_of_mass(turned, side), axis=1), radius, atol=0.05
    )
    assert np.abs(turned - x).max() > 1e-3
    # Values stay in the input's range; inference leaves the input alone.
    assert moved.min() >= 0.0 and moved.max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(_np(shift(x, training=False)), x)


def test_image_augmentation_bad_arguments():
    with pytest.raises(ValueError, match="image_shape"):
        augmentation.image_augmentation((28,))
    with pytest.raises(ValueError, match="rotation"):
        augmentation.image_augmentation((28, 28), rotation=200.0)


@pytest.mark.slow
def test_augment_recipe_pretrains_on_images(rng):
    side = 8
    x = np.concatenate(
        [_centred_blobs(60, side, rng), 1 - _centred_blobs(60, side, rng)]
    )
    model = vade_tf.VaDE(
        input_dim=side * side,
        n_clusters=2,
        latent_dim=2,
        hidden_dims=(16,),
        seed=0,
    )
    history = model.pretrain(x, epochs=4, recipe="augment", verbose=0)
    assert len(history.history["loss"]) == 4
    assert history.history["loss"][-1] < history.history["loss"][0]
    # Non-square feature counts need the image shape, and get a clear error.
    flat = vade_tf.VaDE(
        input_dim=12, n_clusters=2, latent_dim=2, hidden_dims=(8,)
    )
    with pytest.raises(ValueError, match="image_shape"):
        flat.pretrain(x[:, :12], epochs=1, recipe="augment", verbose=0)
    with pytest.raises(ValueError, match="image_shape"):
        flat.pretrain(x[:, :12], epochs=1, augment=True, image_shape=(3, 5))
    history = flat.pretrain(
        x[:, :12], epochs=1, augment=True, image_shape=(3, 4), verbose=0
    )
    assert np.isfinite(history.history["loss"]).all()
    with pytest.raises(ValueError, match="validation_split"):
        model.pretrain(x, epochs=1, recipe="augment", validation_split=0.2)
    with pytest.raises(ValueError, match="augment"):
        model.pretrain(x, epochs=1, augment="yes")


def _standardised_model(x):
    # Values in the hundreds: the gaussian likelihood, input standardised.
    model = vade_tf.workflow.build_model(
        x, n_clusters=2, latent_dim=2, hidden_dims=(16,), seed=0
    )
    assert model.likelihood.name == "gaussian"
    assert not model.input_scaling.is_identity
    return model


def test_augmented_pretraining_standardises_as_the_model_does(rng):
    # An augmentation that moves nothing must train exactly as no
    # augmentation: on the standardised images, not on the raw ones.
    x = (200 * _centred_blobs(80, 4, rng) + 50).astype("float32")
    losses = []
    for augment in (False, {"rotation": 0.0, "shift": 0.0}):
        model = _standardised_model(x)
        history = model.pretrain(
            x, epochs=3, augment=augment, image_shape=(4, 4), verbose=0
        )
        losses.append(history.history["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)


@pytest.mark.slow  # over 6 s on 2 cores
def test_pretraining_validation_data_is_standardised_like_x(rng):
    x = (200 * rng.random((120, 6)) + 50).astype("float32")
    x_val = x[:30]
    model = _standardised_model(x)
    val_losses = []
    for validation_data in (
        x_val,
        (x_val, x_val),
        tf.data.Dataset.from_tensor_slices(x_val).batch(10),
    ):
        history = model.pretrain(
            x, epochs=1, validation_data=validation_data, verbose=0
        )
        val_losses.append(history.history["val_loss"][-1])
        # What the autoencoder now reconstructs of x_val, standardised.
        standardised = model.input_scaling.transform(x_val)
        autoencoder = pretraining.build_autoencoder(model)
        expected = np.mean((autoencoder(standardised) - standardised) ** 2)
        assert val_losses[-1] == pytest.approx(float(expected), rel=1e-4)
    # Unstandardised, x_val would score in the tens of thousands.
    assert max(val_losses) < 10


def test_own_format_round_trip(small_model, tmp_path):
    path = tmp_path / "ae.weights.h5"
    small_model.save_pretrained_weights(path)
    other = vade_tf.VaDE(12, 3, latent_dim=2, hidden_dims=(16, 8), seed=9)
    other.load_pretrained_weights(path)
    x = np.random.default_rng(0).uniform(size=(5, 12)).astype("float32")
    np.testing.assert_allclose(
        other.transform(x), small_model.transform(x), rtol=1e-6
    )
    np.testing.assert_allclose(
        other.decoder.predict(other.transform(x), verbose=0),
        small_model.decoder.predict(small_model.transform(x), verbose=0),
        rtol=1e-6,
    )
    with h5py.File(path) as handle:
        assert [n.decode() for n in handle.attrs["layer_names"]] == [
            "encoder1",
            "encoder2",
            "encoder3",
            "decoder1",
            "decoder2",
            "decoder3",
        ]
        assert json.loads(handle.attrs["vade_tf_config"])["input_dim"] == 12


def test_save_refuses_to_overwrite_and_writes_atomically(small_model, tmp_path):
    path = tmp_path / "ae.weights.h5"
    small_model.save_pretrained_weights(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        small_model.save_pretrained_weights(path)
    assert path.read_bytes() == before
    small_model.save_pretrained_weights(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae.weights.h5"]
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        small_model.save_pretrained_weights(tmp_path / "ae.bin")


def test_original_release_keras1_layout_loads_by_name(
    small_model, tmp_path, rng
):
    path = tmp_path / "ae_blobs_weights.h5"
    values = _write_keras1_file(path, small_model, rng)
    # Loading through the .json name finds the weights file beside it.
    (tmp_path / "ae_blobs.json").write_text("{}")
    small_model.load_pretrained_weights(tmp_path / "ae_blobs.json")
    layers = vade_tf.training.weights.autoencoder_layers(small_model)
    for name, (kernel, bias) in values.items():
        got_kernel, got_bias = layers[name].get_weights()
        np.testing.assert_array_equal(got_kernel, kernel)
        np.testing.assert_array_equal(got_bias, bias)
    # encoder3 (the latent layer in the file) is the z_mean head.
    np.testing.assert_array_equal(
        small_model.encoder.get_layer("z_mean").get_weights()[0],
        values["encoder3"][0],
    )


def test_mismatched_file_names_the_first_mismatch(small_model, tmp_path, rng):
    wide = vade_tf.VaDE(12, 3, latent_dim=2, hidden_dims=(20, 8))
    path = tmp_path / "wide_weights.h5"
    _write_keras1_file(path, wide, rng)
    before = [w.copy() for w in small_model.get_weights()]
    with pytest.raises(ValueError, match=r"Layer 'encoder1'.*\(12, 20\)"):
        small_model.load_pretrained_weights(path)
    # Nothing was assigned.
    for b, a in zip(before, small_model.get_weights()):
        np.testing.assert_array_equal(b, a)

    partial = tmp_path / "partial_weights.h5"
    _write_keras1_file(
        partial, small_model, rng, names=["encoder1", "encoder2", "encoder3"]
    )
    with pytest.raises(ValueError, match="no layer 'decoder1'"):
        small_model.load_pretrained_weights(partial)


def test_likelihood_mismatch_is_refused(small_model, tmp_path):
    path = tmp_path / "ae.weights.h5"
    small_model.save_pretrained_weights(path)
    gaussian = vade_tf.VaDE(
        12, 3, latent_dim=2, hidden_dims=(16, 8), likelihood="gaussian"
    )
    with pytest.raises(ValueError, match="bernoulli autoencoder"):
        gaussian.load_pretrained_weights(path)


def test_missing_or_foreign_weight_files(small_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="No weights file"):
        small_model.load_pretrained_weights(tmp_path / "nope.weights.h5")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="layer_names"):
        small_model.load_pretrained_weights(foreign)


def test_fit_latent_mixture_kmeans_variances(rng):
    z = np.concatenate(
        [rng.normal(0, 1, (200, 2)), rng.normal(10, 2, (200, 2))]
    )
    _, weights, means, variances = latent_mixture.fit_latent_mixture(
        z, 2, mixture_init="kmeans", random_state=0
    )
    order = np.argsort(means[:, 0])
    np.testing.assert_allclose(weights, [0.5, 0.5])
    np.testing.assert_allclose(variances[order], [[1, 1], [4, 4]], rtol=0.3)


def test_scale_latent_leaves_the_model_unchanged(small_model, blobs):
    x, _ = blobs
    from vade_tf.model import elbo

    def kl():
        z_mean, z_log_var = small_model.encoder(x)
        log_gamma = small_model.gmm.log_p_c_z(z_mean)
        return _np(
            elbo.vade_kl(
                z_mean,
                z_log_var,
                log_gamma,
                small_model.theta_p,
                small_model.c_mean,
                small_model.c_var,
            )
        )

    small_model.initialize_mixture(x, random_state=0)
    z = small_model.transform(x)
    proba = small_model.predict_proba(x)
    x_hat = _np(small_model.decoder(z))
    kl_before = kl()
    latent_mixture.scale_latent(small_model, 7.0)
    np.testing.assert_allclose(small_model.transform(x), 7.0 * z, rtol=1e-5)
    np.testing.assert_allclose(small_model.predict_proba(x), proba, atol=1e-5)
    np.testing.assert_allclose(
        _np(small_model.decoder(7.0 * z)), x_hat, rtol=1e-5, atol=1e-6
    )
    # KL(q(z|x) || p(z|c)) is invariant: the log-density Jacobians cancel.
    np.testing.assert_allclose(kl(), kl_before, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="factor"):
        latent_mixture.scale_latent(small_model, 0.0)


def test_initialize_gmm_latent_std(small_model, blobs):
    x, _ = blobs
    small_model.initialize_mixture(x, random_state=0, latent_std=4.0)
    z = small_model.transform(x)
    np.testing.assert_allclose(np.mean(z.std(axis=0)), 4.0, rtol=1e-4)
    with pytest.raises(ValueError, match="latent_std"):
        small_model.initialize_mixture(x, latent_std=-1.0)


def test_cosine_pretraining_schedule_matches_its_formula():
    steps, peak = 200, 3e-3
    schedule = pretraining.pretraining_schedule("cosine", peak, steps)
    rates = np.array([float(schedule(step)) for step in range(steps + 1)])
    # Independently: linear from 0 to the peak over the first 5% of the
    # steps, then half a cosine period from the peak down to 0.
    warmup = steps // 20
    step = np.arange(steps + 1)
    expected = np.where(
        step < warmup,
        peak * step / warmup,
        peak * 0.5 * (1 + np.cos(np.pi * (step - warmup) / (steps - warmup))),
    )
    np.testing.assert_allclose(rates, expected, rtol=1e-5, atol=1e-9)
    assert rates.max() == pytest.approx(peak, rel=1e-6)
    assert pretraining.pretraining_schedule("constant", peak, steps) == peak
    with pytest.raises(ValueError, match="schedule"):
        pretraining.pretraining_schedule("linear", peak, steps)
    with pytest.raises(ValueError, match="learning_rate"):
        pretraining.pretraining_schedule("cosine", 0.0, steps)


def test_pretrain_schedule_and_rate_reach_the_optimizer(rng):
    x = rng.random((96, 12)).astype("float32")
    model = vade_tf.VaDE(input_dim=12, n_clusters=2, latent_dim=2,
                         hidden_dims=(8,), seed=0)  # fmt: skip

    def final_rate(**kwargs):
        history = pretraining.pretrain_autoencoder(
            model, x, epochs=2, batch_size=32, verbose=0, **kwargs
        )
        return float(_np(history.model.optimizer.learning_rate))

    assert final_rate() == pytest.approx(1e-3)  # the "adam" recipe's
    assert final_rate(learning_rate=0.01) == pytest.approx(0.01)
    # Six steps of cosine decay from 0.01 end at 0.
    assert final_rate(learning_rate=0.01, schedule="cosine") == pytest.approx(
        0.0, abs=1e-9
    )
    recipe = vade_tf.training.recipes.get_recipe(
        pretrain_learning_rate=0.01, pretrain_schedule="cosine"
    )
    assert (recipe.pretrain_learning_rate, recipe.pretrain_schedule) == (
        0.01,
        "cosine",
    )
    with pytest.raises(ValueError, match="pretrain_schedule"):
        recipe.replace(pretrain_schedule="step")
    with pytest.raises(ValueError, match="pretrain_learning_rate"):
        recipe.replace(pretrain_learning_rate=-1.0)
    with pytest.raises(ValueError, match="your own optimizer"):
        pretraining.pretrain_autoencoder(
            model, x, epochs=1, optimizer="adam", schedule="cosine"
        )
