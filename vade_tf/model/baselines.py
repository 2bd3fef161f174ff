"""Baselines of the VaDE paper that share VaDE's networks and workflow.

`VAEGMM` is the paper's VAE+GMM baseline (72.94% on MNIST in Jiang et al.,
Table 2): VaDE's encoder and decoder trained as a plain VAE, whose prior is
N(0, I), then a Gaussian mixture fitted on the latent means. It runs
through `vade_tf.workflow.train` like a `VaDE`, so it pretrains (or loads)
the same autoencoder, trains with the same recipe, and its clusters come
from the same code: after training the workflow fits the mixture on the
latent means (`VaDE.initialize_mixture`), and `predict_clusters` gives each
sample's most probable component at z_mean, which for the exact posterior
is `GaussianMixture.predict` on the latent means.
"""

import keras

from vade_tf.model import elbo
from vade_tf.model import vade as vade_model


@keras.saving.register_keras_serializable(package="vade_tf")
class VAEGMM(vade_model.VaDE):
    """A plain VAE on VaDE's networks, clustered by a mixture afterwards.

    The loss is `alpha * reconstruction + beta * KL(q(z|x) || N(0, I))`;
    the mixture's variables (`theta_p`, `c_mean`, `c_var`) take no part in
    training and are not trainable. Build, pretrain and train it as a
    `VaDE` (same arguments); `vade_tf.workflow.train` fits the mixture on
    the trained latent means at the end (`fits_mixture_after_training`).

    Example:

    ```python
    x, y = vade_tf.data.datasets.load_dataset("digits")
    model = vade_tf.model.baselines.VAEGMM(input_dim=64, n_clusters=10, seed=0)
    result = vade_tf.workflow.train(model, x, random_state=0)
    clusters = model.predict_clusters(x)
    ```

    Reference:
        Jiang et al., IJCAI 2017, Section 4 ("VAE+GMM").
    """

    fits_mixture_after_training = True

    def __init__(self, input_dim, n_clusters, **kwargs):
        kwargs.setdefault("name", "vae_gmm")
        super().__init__(input_dim, n_clusters, **kwargs)
        if getattr(self.likelihood, "cluster_dependent", False):
            raise ValueError(
                "VAEGMM trains without clusters, so its likelihood cannot "
                "depend on them. Received a likelihood with per-cluster "
                f"parameters: {self.likelihood!r}."
            )
        # The prior is N(0, I): the mixture is fitted after training only.
        self.gmm.trainable = False

    def prior_kl(self, z_mean, z_log_var, log_gamma):
        """KL(q(z|x) || N(0, I)) per sample, shape `(batch,)` (`log_gamma`
        is not used: the prior has no clusters)."""
        return elbo.standard_normal_kl(z_mean, z_log_var)


def fit_mixture_after_training(model, x, recipe, *, random_state, default):
    """The VAE+GMM step: a mixture fitted on the trained latent means.

    For a model trained without its mixture (`fits_mixture_after_training`,
    `vade_tf.model.baselines.VAEGMM`) a diagonal Gaussian mixture
    (`mixture_init="gmm"`, from the best of `recipe.mixture_n_init` k-means
    runs) is fitted on the latent means and written into the model. The trained
    networks are left exactly as they are: no latent rescaling and no reset
    of the log-variance head. Other models are left alone.

    Args:
        model: a trained `vade_tf.VaDE`.
        x: array of shape `(n_samples, input_dim)`, checked.
        recipe: the `Recipe` of the run.
        random_state: int or `None`, seeds the mixture's fit.
        default: what to return for a model that needs no fit.

    Returns:
        The fitted scikit-learn estimator, or `default`.
    """
    if not model.fits_mixture_after_training:
        return default
    return model.initialize_mixture(
        x,
        mixture_init="gmm",
        random_state=random_state,
        n_init=recipe.mixture_n_init,
        posterior_var_ratio=None,
        latent_std=None,
    )
