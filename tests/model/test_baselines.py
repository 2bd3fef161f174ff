"""The VAE+GMM baseline: VaDE's networks as a plain VAE, then a mixture."""

import keras
import numpy as np

import vade_tf
from vade_tf import workflow
from vade_tf.model import baselines, elbo
from vade_tf.training import recipes


def test_standard_normal_kl_matches_the_gaussian_kl_formula(rng):
    z_mean = rng.normal(size=(6, 3))
    z_log_var = rng.normal(scale=0.7, size=(6, 3))
    var = np.exp(z_log_var)
    # KL(N(m, v) || N(0, 1)) per dimension, summed.
    expected = np.sum(0.5 * (var + z_mean**2 - 1.0) - 0.5 * z_log_var, 1)
    got = keras.ops.convert_to_numpy(
        elbo.standard_normal_kl(
            z_mean.astype("float32"), z_log_var.astype("float32")
        )
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_vae_gmm_trains_the_networks_and_fits_the_mixture_after(blobs):
    x, _ = blobs
    model = baselines.VAEGMM(12, 3, latent_dim=2, hidden_dims=(16, 8), seed=0)
    assert model.mixture_variables == []  # the mixture is not trained
    assert len(model.network_variables) == len(model.trainable_variables)
    recipe = recipes.get_recipe(
        "tuned", pretrain_epochs=2, epochs=3, mixture_n_init=1
    )
    seen = {}

    def on_stage(stage, model):
        seen[stage] = [np.array(v) for v in model.gmm.variables]

    trained = {}

    class KeepWeights(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            trained["weights"] = [np.array(w) for w in model.encoder.weights]

    result = workflow.train(
        model,
        x,
        recipe,
        random_state=0,
        on_stage=on_stage,
        callbacks=[KeepWeights()],
        jit_compile=False,
    )
    # The refit leaves the trained networks exactly as they are (no latent
    # rescaling, no log-variance reset: the VAE's N(0, I) prior is not
    # invariant to them).
    for kept, now in zip(trained["weights"], model.encoder.weights):
        np.testing.assert_array_equal(kept, np.array(now))
    # The end fits the mixture again, on the trained latent means.
    assert not all(
        np.allclose(before, after)
        for before, after in zip(seen["initialized"], seen["trained"])
    )
    z = model.transform(x)
    np.testing.assert_array_equal(
        result.mixture.predict(z), model.predict_clusters(x)
    )
    assert np.isfinite(result.history["loss"]).all()
    assert result.history["kl"][-1] < result.history["kl"][0]


def test_vae_gmm_loss_is_the_vae_elbo(blobs):
    x, _ = blobs
    model = baselines.VAEGMM(12, 3, latent_dim=2, hidden_dims=(16,), seed=1)
    head = model.encoder.get_layer("z_log_var")
    head.bias.assign(np.full(head.bias.shape, -25.0, "float32"))
    z_mean, z_log_var = model.encode(x)
    reconstruction, kl = model.elbo_terms(x[:5], seed=0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(kl),
        0.5
        * np.sum(
            np.exp(z_log_var[:5]) + z_mean[:5] ** 2 - 1.0 - z_log_var[:5],
            axis=1,
        ),
        rtol=1e-4,
    )


def test_vae_gmm_round_trips_through_a_keras_file(blobs, tmp_path):
    x, _ = blobs
    model = vade_tf.model.baselines.VAEGMM(
        12, 3, latent_dim=2, hidden_dims=(8,), beta=2.0, seed=0
    )
    model.initialize_mixture(x, random_state=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, baselines.VAEGMM)
    assert loaded.beta == 2.0 and loaded.mixture_variables == []
    np.testing.assert_allclose(
        loaded.predict_proba(x), model.predict_proba(x), rtol=1e-5
    )
