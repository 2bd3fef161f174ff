"""The model's start: the pretrained autoencoder and the mixture prior.

`StartMixin` gives `vade_tf.VaDE` its `pretrain`, weight-file and
`initialize_mixture` methods, each a call into `vade_tf.training.pretraining`
(the autoencoder, its recipes and weight files) or
`vade_tf.training.latent_mixture` (the mixture fitted on the latent means),
where the work and its documentation live.
"""

import warnings

from vade_tf import validation
from vade_tf.training import latent_mixture, pretraining, weights


class StartMixin:
    """Pretraining and the mixture's start, for `vade_tf.VaDE`."""

    def pretrain(self, x, **kwargs):
        """Trains the deterministic autoencoder encoder -> z_mean -> decoder
        on `x` `(n_samples, input_dim)`; returns its Keras `History`. See
        `vade_tf.training.pretraining.pretrain_autoencoder` for the options."""
        x = validation.check_model_input(self, x, clusters=True, streamed=False)
        return pretraining.pretrain_autoencoder(self, x, **kwargs)

    def save_pretrained_weights(self, path, overwrite=False):
        """Writes the autoencoder's weights as HDF5; see `pretraining`."""
        weights.save_autoencoder_weights(self, path, overwrite=overwrite)

    def load_pretrained_weights(self, path):
        """Loads autoencoder weights (this project's or the original's)."""
        weights.load_autoencoder_weights(self, path)

    def initialize_mixture(
        self,
        x,
        mixture_init="gmm",
        random_state=None,
        n_init=1,
        posterior_var_ratio=latent_mixture.POSTERIOR_VAR_RATIO,
        latent_std=None,
        n_restarts=1,
    ):
        """Fits the mixture prior on the latent means of `x` and starts the
        log-variance head below the mixture's scale; returns the fitted
        scikit-learn estimator. See
        `vade_tf.training.latent_mixture.initialize_mixture` for every
        argument (`mixture_init` "gmm" or "kmeans", `latent_std` to rescale
        the latent space first, `n_restarts` fits kept by likelihood)."""
        return latent_mixture.initialize_mixture(
            self,
            x,
            mixture_init=mixture_init,
            random_state=random_state,
            n_init=n_init,
            posterior_var_ratio=posterior_var_ratio,
            latent_std=latent_std,
            n_restarts=n_restarts,
        )

    def set_mixture_parameters(self, theta_p, c_mean, c_var):
        """Assigns theta_p `(K,)`, c_mean and c_var `(K, D)`; see
        `vade_tf.model.mixture_prior.MixturePrior.set_parameters`."""
        self.gmm.set_parameters(theta_p, c_mean, c_var)

    # The methods' names before "mixture" became the one word for it.
    def initialize_gmm(self, x, gmm_init="gmm", **kwargs):
        """Deprecated name of `initialize_mixture` (`gmm_init` is its
        `mixture_init`)."""
        _renamed("initialize_gmm", "initialize_mixture")
        return self.initialize_mixture(x, mixture_init=gmm_init, **kwargs)

    def set_gmm_parameters(self, theta_p, c_mean, c_var):
        """Deprecated name of `set_mixture_parameters`."""
        _renamed("set_gmm_parameters", "set_mixture_parameters")
        self.set_mixture_parameters(theta_p, c_mean, c_var)


def _renamed(old, new):
    warnings.warn(
        f"VaDE.{old} is now VaDE.{new}.", DeprecationWarning, stacklevel=3
    )
