"""The negative binomial and zero-inflated NB likelihoods of count data."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

import vade_tf
from vade_tf import workflow
from vade_tf.model import layers, likelihoods


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _parameters(rng, shape):
    log_mean = rng.normal(1.0, 2.0, size=shape).astype("float32")
    log_size = rng.normal(0.0, 1.5, size=shape).astype("float32")
    logit = rng.normal(0.0, 2.0, size=shape).astype("float32")
    return log_mean, log_size, logit


def _counts(rng, shape):
    # Zeros, small counts and a few large ones.
    x = rng.negative_binomial(2, 0.2, size=shape).astype("float32")
    x[rng.random(shape) < 0.3] = 0.0
    x[rng.random(shape) < 0.05] = 1000.0
    return x


def test_negative_binomial_log_prob_matches_scipy(rng):
    x = _counts(rng, (40, 30))
    log_mean, log_size, _ = _parameters(rng, x.shape)
    got = _np(likelihoods.negative_binomial_log_prob(x, log_mean, log_size))
    mean, size = (
        np.exp(log_mean.astype("float64")),
        np.exp(log_size.astype("float64")),
    )
    expected = stats.nbinom.logpmf(x, size, size / (size + mean))
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-4)


def test_zinb_log_prob_is_the_mixture_of_a_zero_mass_and_the_nb(rng):
    x = _counts(rng, (40, 30))
    log_mean, log_size, logit = _parameters(rng, x.shape)
    got = _np(
        likelihoods.zero_inflated_negative_binomial_log_prob(
            x, log_mean, log_size, logit
        )
    )
    mean, size = (
        np.exp(log_mean.astype("float64")),
        np.exp(log_size.astype("float64")),
    )
    dropout = special.expit(logit.astype("float64"))
    nb = stats.nbinom.pmf(x, size, size / (size + mean))
    with np.errstate(divide="ignore"):
        expected = np.log(np.where(x == 0, dropout, 0.0) + (1 - dropout) * nb)
    finite = np.isfinite(expected)  # pmf underflows to 0 for huge counts
    assert finite.mean() > 0.9
    np.testing.assert_allclose(
        got[finite], expected[finite], rtol=2e-5, atol=2e-4
    )
    # Where the pmf underflows, the same in log space.
    log_nb = stats.nbinom.logpmf(x, size, size / (size + mean))
    np.testing.assert_allclose(
        got[~finite],
        (np.log1p(-dropout) + log_nb)[~finite],
        rtol=2e-5,
    )


@pytest.mark.parametrize("name", ["nb", "zinb"])
@pytest.mark.parametrize("normalize_library", [True, False])
def test_finite_values_and_gradients_for_zero_rows_and_huge_counts(
    name, normalize_library
):
    likelihood = type(likelihoods.get_likelihood(name))(
        normalize_library=normalize_library
    )
    d = 6
    x = np.zeros((4, d), "float32")
    x[1] = 1e6  # counts up to a million
    x[2, 0] = 1e6
    x[3] = np.arange(d)
    width = likelihood.sample_parameters * d + d
    for scale in (0.0, 50.0):  # ordinary outputs, then saturated ones
        outputs = tf.Variable(
            np.random.default_rng(1).normal(0, 1, (4, width)) * 1.0 + scale
        )
        with tf.GradientTape() as tape:
            value = likelihood.negative_log_likelihood(
                x, tf.cast(outputs, "float32")
            )
        gradient = tape.gradient(value, outputs)
        assert np.isfinite(_np(value)).all()
        assert np.isfinite(_np(gradient)).all()
        encoded = _np(likelihood.encoder_input(x))
        assert np.isfinite(encoded).all()


def test_encoder_input_is_log1p_of_library_normalised_counts(rng):
    x = _counts(rng, (10, 8))
    x[0] = 0.0
    likelihood = likelihoods.NegativeBinomialLikelihood(target_sum=100.0)
    library = np.maximum(x.sum(axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(
        _np(likelihood.encoder_input(x)),
        np.log1p(x / library * 100.0),
        rtol=1e-5,
        atol=1e-6,
    )
    raw = likelihoods.NegativeBinomialLikelihood(normalize_library=False)
    np.testing.assert_allclose(
        _np(raw.encoder_input(x)), np.log1p(x), rtol=1e-6
    )


def test_library_size_scales_the_mean_the_likelihood_scores(rng):
    # With normalize_library the decoder's mean is at library size
    # target_sum; the likelihood scores the counts at their own library.
    x = _counts(rng, (6, 5))
    x[:, 0] += 1.0  # no all-zero row
    log_mean, log_size, _ = _parameters(rng, (6, 5))
    likelihood = likelihoods.NegativeBinomialLikelihood(target_sum=50.0)
    outputs = np.concatenate([log_mean, log_size[:1].repeat(6, 0)], axis=1)
    got = _np(likelihood.negative_log_likelihood(x, outputs))
    library = x.sum(axis=1, keepdims=True).astype("float64")
    mean = np.exp(log_mean.astype("float64")) * library / 50.0
    size = np.exp(log_size[:1].astype("float64"))
    expected = -stats.nbinom.logpmf(x, size, size / (size + mean)).sum(1)
    np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_cluster_dispersion_takes_the_expectation_under_gamma(rng):
    k, d = 3, 4
    x = _counts(rng, (5, d))
    likelihood = likelihoods.ZeroInflatedNegativeBinomialLikelihood(
        dispersion="cluster", normalize_library=False
    )
    assert likelihood.cluster_dependent
    assert likelihood.shared_parameters(k) == k
    log_mean, _, logit = _parameters(rng, (5, d))
    log_size = rng.normal(size=(k, d)).astype("float32")
    outputs = np.concatenate(
        [log_mean, logit, np.tile(log_size.reshape(1, -1), (5, 1))], axis=1
    )
    gamma = rng.dirichlet(np.ones(k), size=5).astype("float32")
    per_cluster = np.stack(
        [
            _np(
                likelihoods.zero_inflated_negative_binomial_log_prob(
                    x, log_mean, log_size[c], logit
                )
            ).sum(1)
            for c in range(k)
        ],
        axis=1,
    )
    np.testing.assert_allclose(
        _np(likelihood.negative_log_likelihood(x, outputs, gamma=gamma)),
        -(gamma * per_cluster).sum(1),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        _np(likelihood.negative_log_likelihood(x, outputs)),
        -per_cluster.mean(1),
        rtol=1e-5,
    )


def test_count_mean_layer_matches_numpy(rng):
    d = 4
    outputs = rng.normal(size=(3, 3 * d)).astype("float32")
    mean = np.exp(outputs[:, :d])
    np.testing.assert_allclose(
        _np(layers.CountMean(d)(outputs)), mean, rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(layers.CountMean(d, zero_inflated=True)(outputs)),
        mean * (1.0 - special.expit(outputs[:, d : 2 * d])),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "x, message",
    [
        (np.array([[1.0, -2.0]]), "non-negative counts.*-2"),
        (np.array([[1.0, 0.5]]), "integer counts.*row 0, column 1: 0.5"),
    ],
)
def test_count_likelihoods_refuse_what_is_not_counts(x, message):
    for name in ("nb", "zinb"):
        with pytest.raises(ValueError, match=message):
            likelihoods.get_likelihood(name).check_data(x)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dispersion": "gene"}, "dispersion must be one of"),
        ({"target_sum": 0.0}, "target_sum"),
        ({"target_sum": "a"}, "target_sum must be a finite number.*'a'"),
        ({"target_sum": True}, "target_sum"),
        ({"normalize_library": "yes"}, "normalize_library"),
    ],
)
def test_constructor_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        likelihoods.NegativeBinomialLikelihood(**kwargs)


@pytest.mark.slow  # over 6 s on 2 cores
@pytest.mark.parametrize("dispersion", ["feature", "cluster"])
def test_model_layout_training_and_keras_file_round_trip(
    dispersion, rng, tmp_path
):
    x = rng.poisson(4.0, size=(60, 7)).astype("float32")
    likelihood = likelihoods.ZeroInflatedNegativeBinomialLikelihood(
        dispersion=dispersion
    )
    model = workflow.build_model(
        x,
        n_clusters=3,
        likelihood=likelihood,
        latent_dim=2,
        hidden_dims=(16,),
        seed=0,
    )
    # The median library size, kept in the config; the object passed in is
    # left as it was.
    assert model.likelihood.target_sum == float(np.median(x.sum(axis=1)))
    assert likelihood.target_sum is None
    rows = 3 if dispersion == "cluster" else 1
    assert model.decoder.get_layer("decoder2").units == 2 * 7
    assert model.decoder.get_layer("likelihood_parameters").units == rows * 7
    assert model.decoder_outputs(np.zeros((2, 2), "float32")).shape == (
        2,
        (2 + rows) * 7,
    )
    parameters = model.decoder.get_layer("likelihood_parameters").values
    before = _np(parameters).copy()
    # XLA for one case, to cover lgamma compiled; plain TF for the other.
    jit_compile = dispersion == "feature"
    model.pretrain(x, epochs=2, verbose=0, jit_compile=jit_compile)
    pretrained = _np(parameters).copy()
    assert not np.allclose(before, pretrained)  # pretraining trains them
    # The pretrained dispersions travel with the autoencoder's weight file.
    weights = tmp_path / "ae.weights.h5"
    model.save_pretrained_weights(weights)
    fresh = workflow.build_model(
        x,
        n_clusters=3,
        likelihood=likelihood,
        latent_dim=2,
        hidden_dims=(16,),
        seed=1,
    )
    fresh.load_pretrained_weights(weights)
    np.testing.assert_array_equal(
        _np(fresh.decoder.get_layer("likelihood_parameters").values),
        pretrained,
    )
    other = workflow.build_model(
        x,
        n_clusters=3,
        likelihood=likelihoods.ZeroInflatedNegativeBinomialLikelihood(
            dispersion=dispersion, normalize_library=False
        ),
        latent_dim=2,
        hidden_dims=(16,),
    )
    with pytest.raises(ValueError, match="settings"):
        other.load_pretrained_weights(weights)
    model.initialize_mixture(x, random_state=0)
    model.compile(jit_compile=jit_compile)
    history = model.fit(x, epochs=2, batch_size=20, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(pretrained, _np(parameters))
    assert model.generate(1, 3, seed=0).min() >= 0.0
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.likelihood.get_config() == model.likelihood.get_config()
    np.testing.assert_allclose(
        loaded.predict_proba(x), model.predict_proba(x), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        loaded.score_samples(x), model.score_samples(x), rtol=1e-5
    )


def test_build_model_refuses_to_standardise_counts(rng):
    x = rng.poisson(4.0, size=(20, 5)).astype("float32")
    with pytest.raises(ValueError, match="raw counts.*standardize"):
        workflow.build_model(x, 2, likelihood="nb", input_scaling="standardize")
    with pytest.raises(ValueError, match="integer counts"):
        workflow.train(
            workflow.build_model(x + 0.5, 2, likelihood="nb"), x + 0.5
        )


def test_vae_gmm_refuses_a_cluster_dependent_likelihood():
    with pytest.raises(ValueError, match="per-cluster"):
        vade_tf.model.baselines.VAEGMM(
            5,
            2,
            likelihood=likelihoods.NegativeBinomialLikelihood(dispersion="cluster"),
        )


@pytest.mark.slow
def test_zinb_vade_clusters_simulated_counts():
    # 3,000 x 500 counts from a known 5-cluster ZINB mixture, simulated
    # here; the library's defaults apart from the likelihood.
    x, y = vade_tf.data.synthetic.make_count_clusters(random_state=0)
    model = workflow.build_model(x, n_clusters=5, likelihood="zinb", seed=0)
    workflow.train(model, x, random_state=0)
    acc, _ = vade_tf.metrics.cluster_acc(y, model.predict_clusters(x))
    assert acc >= 0.90
