"""Each ELBO term against an independent numpy/scipy computation."""

import keras
import numpy as np
import pytest
from scipy import special, stats

from vade_tf import numerics
from vade_tf.model import elbo, likelihoods


def _inputs(rng, batch=5, k=4, d=3):
    z_mean = rng.normal(size=(batch, d)).astype("float32")
    z_log_var = rng.normal(scale=0.5, size=(batch, d)).astype("float32")
    theta = rng.dirichlet(np.ones(k)).astype("float32")
    c_mean = rng.normal(size=(k, d)).astype("float32")
    c_var = rng.uniform(0.3, 2.0, size=(k, d)).astype("float32")
    logits = rng.normal(size=(batch, k))
    log_gamma = (logits - special.logsumexp(logits, 1, keepdims=True)).astype(
        "float32"
    )
    return z_mean, z_log_var, theta, c_mean, c_var, log_gamma


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_log_normal_diag_matches_scipy(rng):
    z_mean, _, _, c_mean, c_var, _ = _inputs(rng)
    got = _np(numerics.log_normal_diag(z_mean, c_mean, c_var))
    want = stats.norm.logpdf(
        z_mean[:, None, :], c_mean[None], np.sqrt(c_var)[None]
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_expected_neg_log_prior_z_is_a_gaussian_cross_entropy(rng):
    z_mean, z_log_var, _, c_mean, c_var, log_gamma = _inputs(rng)
    gamma = np.exp(log_gamma)
    got = _np(
        elbo.expected_neg_log_prior_z(z_mean, z_log_var, gamma, c_mean, c_var)
    )
    # Monte Carlo check of -E_q(z|x)[sum_c gamma_c log N(z | mu_c, var_c)].
    draws = z_mean[None] + np.exp(0.5 * z_log_var)[None] * rng.standard_normal(
        (200000,) + z_mean.shape
    )
    log_pdf = stats.norm.logpdf(
        draws[:, :, None, :], c_mean[None, None], np.sqrt(c_var)[None, None]
    ).sum(-1)
    want = -(gamma[None] * log_pdf).sum(-1).mean(0)
    np.testing.assert_allclose(got, want, rtol=5e-3)
    # And the closed form, term by term.
    closed = (
        gamma
        * 0.5
        * (
            np.log(2 * np.pi * c_var)[None]
            + np.exp(z_log_var)[:, None] / c_var[None]
            + (z_mean[:, None] - c_mean[None]) ** 2 / c_var[None]
        ).sum(-1)
    ).sum(-1)
    np.testing.assert_allclose(got, closed, rtol=1e-5)


def test_neg_entropy_q_z_matches_scipy(rng):
    z_mean, z_log_var, *_ = _inputs(rng)
    got = _np(elbo.neg_entropy_q_z(z_log_var))
    want = -stats.norm(z_mean, np.exp(0.5 * z_log_var)).entropy().sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_categorical_kl_matches_scipy(rng):
    *_, theta, _, _, log_gamma = _inputs(rng)
    got = _np(elbo.categorical_kl(log_gamma, theta))
    want = special.rel_entr(np.exp(log_gamma), theta[None]).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_vade_kl_is_nonnegative_for_any_gamma(rng):
    for _ in range(20):
        z_mean, z_log_var, theta, c_mean, c_var, log_gamma = _inputs(rng)
        kl = _np(
            elbo.vade_kl(z_mean, z_log_var, log_gamma, theta, c_mean, c_var)
        )
        assert (kl >= -1e-4).all(), kl


def test_vade_kl_is_the_sum_of_the_terms_at_bayes_posterior(rng):
    z_mean, z_log_var, theta, c_mean, c_var, _ = _inputs(rng)
    # With gamma = p(c|z) at z = z_mean and tiny posterior variance, the
    # KL reduces to -log p(z) - entropy, which is finite; the sum of the
    # three terms must equal their separate numpy forms.
    log_joint = np.log(theta)[None] + stats.norm.logpdf(
        z_mean[:, None], c_mean[None], np.sqrt(c_var)[None]
    ).sum(-1)
    log_gamma = log_joint - special.logsumexp(log_joint, 1, keepdims=True)
    log_gamma = log_gamma.astype("float32")
    gamma = np.exp(log_gamma)
    got = _np(elbo.vade_kl(z_mean, z_log_var, log_gamma, theta, c_mean, c_var))
    want = (
        (
            gamma
            * 0.5
            * (
                np.log(2 * np.pi * c_var)[None]
                + np.exp(z_log_var)[:, None] / c_var[None]
                + (z_mean[:, None] - c_mean[None]) ** 2 / c_var[None]
            ).sum(-1)
        ).sum(-1)
        - 0.5 * (np.log(2 * np.pi) + 1 + z_log_var).sum(-1)
        + (gamma * (log_gamma - np.log(theta)[None])).sum(-1)
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_bernoulli_nll_equals_input_dim_times_bce(rng):
    x = rng.uniform(size=(6, 20)).astype("float32")
    logits = rng.normal(scale=3, size=(6, 20)).astype("float32")
    got = _np(
        likelihoods.BernoulliLikelihood().negative_log_likelihood(x, logits)
    )
    p = special.expit(logits.astype("float64"))
    bce = -(x * np.log(p) + (1 - x) * np.log1p(-p)).mean(-1)
    np.testing.assert_allclose(got, 20 * bce, rtol=1e-5)


def test_bernoulli_nll_is_finite_for_saturated_logits():
    x = np.array([[0.0, 1.0]], "float32")
    logits = np.array([[200.0, -200.0]], "float32")
    got = _np(
        likelihoods.BernoulliLikelihood().negative_log_likelihood(x, logits)
    )
    np.testing.assert_allclose(got, [400.0], rtol=1e-6)


def test_gaussian_nll_equals_input_dim_times_mse(rng):
    x = rng.normal(size=(4, 7)).astype("float32")
    mean = rng.normal(size=(4, 7)).astype("float32")
    got = _np(likelihoods.GaussianLikelihood().negative_log_likelihood(x, mean))
    np.testing.assert_allclose(got, 7 * ((x - mean) ** 2).mean(-1), rtol=1e-5)


def test_bernoulli_check_data_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\].*\[-1.0, 2.0\]"):
        likelihoods.BernoulliLikelihood().check_data(np.array([[-1.0, 2.0]]))


def test_get_likelihood():
    assert isinstance(
        likelihoods.get_likelihood("gaussian"), likelihoods.GaussianLikelihood
    )
    custom = likelihoods.BernoulliLikelihood()
    assert likelihoods.get_likelihood(custom) is custom
    with pytest.raises(ValueError, match="Unknown likelihood.*'poisson'"):
        likelihoods.get_likelihood("poisson")


def test_weighted_mean_divides_by_the_batch_size(rng):
    values = rng.normal(size=5).astype("float32")
    weights = np.array([1, 0, 2, 0, 1], "float32")
    np.testing.assert_allclose(
        _np(elbo.weighted_mean(values)), values.mean(), rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(elbo.weighted_mean(values, weights)),
        (values * weights).sum() / 5,
        rtol=1e-6,
    )


@keras.saving.register_keras_serializable(package="vade_tf_tests")
class PoissonLikelihood(likelihoods.Likelihood):
    """Counts with rate exp(output), for the serialization test."""

    name = "poisson"

    def __init__(self, scale=1.0):
        self.scale = scale

    def negative_log_likelihood(self, x, outputs):
        rate = keras.ops.exp(outputs) * self.scale
        return keras.ops.sum(rate - x * keras.ops.log(rate), axis=-1)

    def get_config(self):
        return {"scale": self.scale}


def test_custom_likelihood_round_trips_through_a_keras_file(tmp_path, rng):
    import vade_tf

    model = vade_tf.VaDE(
        6,
        2,
        latent_dim=2,
        hidden_dims=(8,),
        likelihood=PoissonLikelihood(scale=2.0),
    )
    x = rng.poisson(3.0, size=(20, 6)).astype("float32")
    model.pretrain(x, epochs=1, verbose=0)  # the likelihood's own loss
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.likelihood, PoissonLikelihood)
    assert loaded.likelihood.scale == 2.0
    assert likelihoods.serialize_likelihood(
        likelihoods.BernoulliLikelihood()
    ) == ("bernoulli")
