"""Input standardisation for the gaussian likelihood, kept in the model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vade_tf
from vade_tf import metrics, workflow
from vade_tf.model import layers
from vade_tf.training import recipes


def _unscaled_blobs(seed=1):
    # Three groups of 10 unscaled features, values from about -40 to 215,
    # as a user's CSV of raw measurements.
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-30, 200, (3, 10))
    y = np.repeat(np.arange(3), 300)
    x = centers[y] + rng.normal(0, 5, (900, 10))
    return x.astype("float32"), y


def test_standardize_matches_numpy_and_inverts():
    x, _ = _unscaled_blobs()
    x[:, 3] = 7.0  # a constant feature keeps std 1
    layer = layers.Standardize(10)
    assert layer.is_identity
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    layer.adapt(x)
    mean, std = x.astype("float64").mean(0), x.astype("float64").std(0)
    std[3] = 1.0
    np.testing.assert_allclose(
        np.asarray(layer(x)), (x - mean) / std, atol=1e-4
    )
    np.testing.assert_allclose(layer.transform(x), (x - mean) / std, atol=1e-4)
    np.testing.assert_allclose(
        np.asarray(layer.inverse(layer(x))), x, rtol=1e-5, atol=1e-3
    )
    clone = layers.Standardize.from_config(layer.get_config())
    assert clone.input_dim == 10


def test_build_model_standardises_for_gaussian_only():
    x, _ = _unscaled_blobs()
    model = workflow.build_model(x, 3, hidden_dims=(8,), latent_dim=2)
    assert model.likelihood.name == "gaussian"
    assert not model.input_scaling.is_identity
    kept = workflow.build_model(
        x, 3, hidden_dims=(8,), latent_dim=2, input_scaling="none"
    )
    assert kept.input_scaling.is_identity
    unit = np.random.default_rng(0).random((50, 10)).astype("float32")
    assert workflow.build_model(
        unit, 3, hidden_dims=(8,), latent_dim=2
    ).input_scaling.is_identity
    with pytest.raises(ValueError, match="input_scaling"):
        workflow.build_model(x, 3, input_scaling="minmax")


@pytest.mark.slow  # two short trainings, about 40 s
def test_unscaled_table_clusters_like_its_standardised_copy(tmp_path):
    # Without standardisation this table started at ACC 1.0 and ended
    # collapsed (0.667, a cluster with 0% of the points; AVX2 EPYC): the
    # gaussian reconstruction of values in the hundreds swamped the ELBO.
    x, y = _unscaled_blobs()
    recipe = recipes.get_recipe(
        "original", pretrain_epochs=30, epochs=10, mixture_n_init=3
    )
    results = {}
    for name, data in (
        ("raw", x),
        ("standardised", (x - x.mean(0)) / x.std(0)),
    ):
        keras.utils.set_random_seed(0)
        model = workflow.build_model(data, 3, hidden_dims=(64, 64, 256), seed=0)
        starts = {}
        workflow.train(
            model,
            data,
            recipe,
            random_state=0,
            on_stage=lambda stage, m, d=data, s=starts: s.setdefault(
                stage, metrics.cluster_acc(y, m.predict_clusters(d))[0]
            ),
        )
        results[name] = metrics.cluster_acc(y, model.predict_clusters(data))[0]
        assert results[name] >= starts["initialized"] - 1e-9, name
        if name == "raw":
            raw_model = model
    assert results["raw"] >= results["standardised"] - 0.01

    # The scaler is part of the saved model and of the export: both take
    # the raw table and give the same clusters.
    path = tmp_path / "model.keras"
    raw_model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict_proba(x), raw_model.predict_proba(x), atol=1e-5
    )
    export = vade_tf.export_saved_model(raw_model, str(tmp_path / "export"))
    served = tf.saved_model.load(export).signatures["serving_default"]
    np.testing.assert_allclose(
        served(x=tf.constant(x))["cluster_probs"].numpy(),
        raw_model.predict_proba(x),
        atol=1e-4,
    )
    # Samples come back in the data's units, near their cluster's points.
    cluster = int(raw_model.predict_clusters(x[:1])[0])
    samples = raw_model.generate(cluster, 200, seed=0)
    members = x[raw_model.predict_clusters(x) == cluster]
    assert np.abs(samples.mean(0) - members.mean(0)).max() < 10.0
