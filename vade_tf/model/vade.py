"""VaDE: Variational Deep Embedding (Jiang et al., IJCAI 2017).

The model reads top to bottom: the encoder and decoder builders, then the
`VaDE` model: its configuration, the forward pass and the ELBO terms, the
two-optimizer `compile` and the training step, and the public inference and
generation methods. The rest lives beside what it works on: pretraining in
`vade_tf.training.pretraining`, the mixture's start in
`vade_tf.training.latent_mixture`, input
checks in `vade_tf.validation`, the workflow in `vade_tf.workflow`.
"""

import contextlib

import keras
import tensorflow as tf
from keras import ops

from vade_tf import fileio, validation
from vade_tf.model import (
    elbo,
    fitting,
    inference,
    likelihoods,
    mixture_prior,
    networks,
    start,
)
from vade_tf.model import layers as vade_layers
from vade_tf.model.config import DEFAULTS
from vade_tf.training import compilation, distribute, weights

# Rows per forward pass of the inference methods (`vade_tf.model.inference`).
INFERENCE_BATCH_SIZE = inference.INFERENCE_BATCH_SIZE
# The constructor arguments `get_config` stores as they are.
_PLAIN_CONFIG = (
    "input_dim",
    "n_clusters",
    "latent_dim",
    "alpha",
    "beta",
    "gamma_mode",
    "seed",
)
# Training steps per call of the compiled step function
# (`vade_tf.model.fitting`).
STEPS_PER_EXECUTION = fitting.STEPS_PER_EXECUTION


# =============================================================================
# Dtype policy
# =============================================================================


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Keras's global dtype policy set to `policy` inside, restored after.

    Args:
        policy: a dtype policy or its name, such as `"mixed_bfloat16"`.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# =============================================================================
# The model
# =============================================================================


@keras.saving.register_keras_serializable(package="vade_tf")
class VaDE(start.StartMixin, inference.InferenceMixin, keras.Model):
    """Variational Deep Embedding: a VAE with a Gaussian-mixture prior.

    c ~ Cat(theta_p), z|c ~ N(c_mean[c], diag c_var[c]), x|z ~ p(x |
    decoder(z)); the encoder gives q(z|x) = N(z_mean, exp(z_log_var)) and
    q(c|x) = E_q(z|x)[p(c|z)] ("gamma"). Training maximises the ELBO
    (`vade_tf.model.elbo`) with two optimizers, the networks' and the
    mixture's. The workflow is `pretrain`, `initialize_mixture`, `compile`,
    `fit` (`vade_tf.workflow.train` runs it from a recipe). Calling the
    model returns q(c|x) at z_mean, `(batch, K)`.

    Args:
        input_dim: int, the number of features of a (flattened) sample.
        n_clusters: int >= 2, the number of mixture components K.
        latent_dim: int, the latent dimension D.
        hidden_dims: ints, the encoder's hidden widths (the decoder mirrors).
        likelihood: `"bernoulli"` (data in [0, 1]), `"gaussian"`, `"nb"` or
            `"zinb"` (counts), or a `vade_tf.model.likelihoods.Likelihood`.
        alpha: float > 0, the weight of the reconstruction term.
        beta: float > 0, the weight of the prior (KL) terms, as in
            beta-VAE: the loss is `alpha * reconstruction + beta * kl`.
        gamma_mode: `"exact"` or `"original"` (see `MixturePrior`).
        seed: int or `None`, seeds z sampling and the initial weights.
        kernel_initializer: initializer of every Dense kernel.
        **kwargs: passed to `keras.Model` (for example `name`).

    Example:
    ```python
    x, y = vade_tf.data.datasets.load_dataset("digits")
    model = vade_tf.VaDE(input_dim=64, n_clusters=10, seed=0)
    model.pretrain(x, epochs=50)
    model.initialize_mixture(x, random_state=0)
    model.compile()
    model.fit(x, epochs=50, batch_size=100)
    clusters = model.predict_clusters(x)
    samples = model.generate(cluster=3, n_samples=8)
    ```

    Reference: Jiang, Zheng, Tan, Tang, Zhou. Variational Deep Embedding:
    An Unsupervised and Generative Approach to Clustering. IJCAI 2017.
    """

    # True: `workflow.train` fits the mixture after training (VAE+GMM).
    fits_mixture_after_training = False

    def __init__(
        self,
        input_dim,
        n_clusters,
        latent_dim=DEFAULTS.latent_dim,
        hidden_dims=DEFAULTS.hidden_dims,
        likelihood=DEFAULTS.likelihood,
        alpha=DEFAULTS.alpha,
        beta=DEFAULTS.beta,
        gamma_mode=DEFAULTS.gamma_mode,
        seed=None,
        kernel_initializer=DEFAULTS.kernel_initializer,
        **kwargs,
    ):
        kwargs.setdefault("name", "vade")
        super().__init__(**kwargs)
        # === Config ===
        self.input_dim = validation.check_int(input_dim, "input_dim", 1)
        self.n_clusters = validation.check_n_clusters(n_clusters)
        self.latent_dim = validation.check_int(latent_dim, "latent_dim", 1)
        self.hidden_dims = validation.check_widths(hidden_dims)
        self.likelihood = likelihoods.get_likelihood(likelihood)
        self.alpha = validation.check_positive_float(alpha, "alpha")
        self.beta = validation.check_positive_float(beta, "beta")
        self.gamma_mode = gamma_mode
        self.seed = validation.check_seed(seed)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        # === Layers ===
        # The networks follow the model's own dtype policy (a saved model's
        # config holds it), so a model saved under mixed precision reloads
        # with it whatever the global policy is then.
        with dtype_policy_scope(self.dtype_policy):
            self.encoder, self.decoder, self.input_scaling = (
                networks.build_networks(
                    self.input_dim,
                    self.latent_dim,
                    self.hidden_dims,
                    self.likelihood,
                    self.kernel_initializer,
                    self.seed,
                    self.n_clusters,
                )
            )
        # The mixture, the draws of z and the ELBO stay in float32 under a
        # mixed-precision policy; only the two networks follow the policy.
        self.gmm = mixture_prior.MixturePrior(
            self.n_clusters,
            self.latent_dim,
            gamma_mode=gamma_mode,
            seed=self.seed,
            name="gmm",
            dtype="float32",
        )
        self.sampling = vade_layers.Sampling(
            seed=self.seed, name="sampling", dtype="float32"
        )
        self.built = True  # every weight exists: no data-driven build

        # === Metrics ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # The mixture's optimizer, under the name saved files use for it.
        self.gmm_optimizer = None

    # --- The mixture parameters, as trainable variables on the model -------

    @property
    def theta_p(self):
        """Mixture weights, variable of shape `(n_clusters,)`."""
        return self.gmm.theta_p

    @property
    def c_mean(self):
        """Component means, variable of shape `(n_clusters, latent_dim)`."""
        return self.gmm.c_mean

    @property
    def c_var(self):
        """Component variances, variable of shape `(n_clusters, latent_dim)`."""
        return self.gmm.c_var

    @property
    def mixture_optimizer(self):
        """The optimizer of `mixture_variables` (set by `compile`)."""
        return self.gmm_optimizer

    @property
    def mixture_variables(self):
        """`[theta_p, c_mean, c_var]`, trained by `mixture_optimizer`."""
        return list(self.gmm.trainable_variables)

    @property
    def network_variables(self):
        """Every trainable variable but the mixture's, for `optimizer`."""
        mixture_ids = {id(variable) for variable in self.mixture_variables}
        return [v for v in self.trainable_variables if id(v) not in mixture_ids]

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # --- Forward passes and the ELBO ---------------------------------------

    def call(self, inputs, training=False):
        z_mean, _ = self.encoder_outputs(inputs, training=training)
        # The layer's own call scope reads its float32 variables unrounded
        # under mixed precision (`p_c_z` here would see them autocast).
        return self.gmm(z_mean)

    def encoder_outputs(self, x, training=False):
        """q(z|x)'s `(z_mean, z_log_var)`, float32 `(batch, latent_dim)`,
        for `x` `(batch, input_dim)` in the data's units (standardised by
        `input_scaling`, then the likelihood's `encoder_input`)."""
        return self._encode_standardized(self.input_scaling(x), training)

    def _encode_standardized(self, x, training):
        x = self.likelihood.encoder_input(x)
        z_mean, z_log_var = self.encoder(x, training=training)
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def decoder_outputs(self, z, training=False):
        """The decoder's raw outputs before `x_hat` (logits for bernoulli),
        float32 `(batch, width)` (`input_dim` columns for bernoulli and
        gaussian; see `vade_tf.model.networks.build_decoder`)."""
        hidden = z
        names = [f"decoder{i}" for i in range(1, len(self.hidden_dims) + 2)]
        if self.likelihood.shared_parameters(self.n_clusters):
            names.append(weights.LIKELIHOOD_PARAMETERS)
        for name in names:
            hidden = self.decoder.get_layer(name)(hidden, training=training)
        return ops.cast(hidden, "float32")

    def decoder_mean(self, z, training=False):
        """The mean of p(x|z) (`x_hat`) in the data's units, float32
        `(batch, input_dim)` (`input_scaling` undone)."""
        return self.input_scaling.inverse(self.decoder(z, training=training))

    def elbo_terms(self, x, training=False, seed=None):
        """Per-sample reconstruction and KL terms of the negative ELBO.

        z is drawn once from q(z|x) (the reparameterisation trick) and gamma
        is p(c|z) at that draw, as in the original release.

        Args:
            x: tensor of shape `(batch, input_dim)`.
            training: bool, passed to the sub-models.
            seed: `None` to draw z with the model's `Sampling` layer, or a
                `keras.random.SeedGenerator` (or int) that leaves it alone.

        Returns:
            Tuple `(reconstruction, kl)`, each of shape `(batch,)`.
        """
        # The likelihood scores the standardised data the decoder models.
        x = self.input_scaling(x)
        z_mean, z_log_var = self._encode_standardized(x, training)
        if seed is None:
            z = self.sampling([z_mean, z_log_var])
        else:
            z = vade_layers.reparameterize(z_mean, z_log_var, seed)
        outputs = self.decoder_outputs(z, training=training)
        # q(c|x) = p(c|z) at the draw, once for both terms that use it.
        log_gamma = self.gmm.training_log_p_c_z(z)
        if self.likelihood.cluster_dependent:
            # E_q(c|x)[-log p(x|z, c)].
            reconstruction = self.likelihood.negative_log_likelihood(
                x, outputs, gamma=ops.exp(log_gamma)
            )
        else:
            reconstruction = self.likelihood.negative_log_likelihood(x, outputs)
        kl = self.prior_kl(z_mean, z_log_var, log_gamma)
        return reconstruction, kl

    def prior_kl(self, z_mean, z_log_var, log_gamma):
        """KL(q(z, c|x) || p(z, c)) per sample, `(batch,)`, from z_mean and
        z_log_var `(batch, latent_dim)` and log_gamma `(batch, n_clusters)`
        (log p(c|z) at the draw); see `vade_tf.model.elbo.vade_kl`. The VAE+GMM
        baseline overrides it."""
        return elbo.vade_kl(
            z_mean, z_log_var, log_gamma, self.theta_p, self.c_mean, self.c_var
        )

    # --- Training ----------------------------------------------------------

    def compile(
        self,
        optimizer=None,
        mixture_optimizer=None,
        jit_compile=compilation.JIT_COMPILE,
        steps_per_execution=None,
        **kwargs,
    ):
        """Configures the two optimizers and builds them on their variables.

        Args:
            optimizer: optimizer of the encoder and decoder weights; default
                the "original" recipe's `Adam(0.002, epsilon=1e-4)`.
            mixture_optimizer: optimizer of `theta_p`, `c_mean`, `c_var`; the
                same default; a different object from `optimizer`.
            jit_compile: True, False or "auto" (XLA, except for a bfloat16
                network on a CPU with AMX; `vade_tf.training.compilation`).
            steps_per_execution: int or `None` for `STEPS_PER_EXECUTION`
                (1 with several replicas in sync); Keras's argument.
            **kwargs: passed to `keras.Model.compile`; no `loss` or
                `metrics`: the loss is VaDE's ELBO.
        """
        optimizer, mixture_optimizer = fitting.optimizer_pair(
            optimizer, mixture_optimizer, kwargs
        )
        super().compile(
            optimizer=optimizer,
            jit_compile=compilation.resolve(
                jit_compile, self.encoder.compute_dtype
            ),
            steps_per_execution=steps_per_execution
            or fitting.default_steps_per_execution(),
            **kwargs,
        )
        self.gmm_optimizer = mixture_optimizer
        # Build each optimizer on its own variables now, outside any traced
        # function; Keras would otherwise build `optimizer` on all of them.
        self.optimizer.build(self.network_variables)
        self.mixture_optimizer.build(self.mixture_variables)
        self._vade_compile_config = fitting.compile_config(
            self.optimizer,
            self.mixture_optimizer,
            jit_compile=jit_compile,
            steps_per_execution=steps_per_execution,
            **kwargs,
        )

    def get_compile_config(self):
        return getattr(self, "_vade_compile_config", {})

    def compile_from_config(self, config):
        self.compile(**fitting.compile_arguments(config))

    def _loss_and_terms(self, x, sample_weight, training):
        reconstruction, kl = self.elbo_terms(x, training=training)
        reconstruction = elbo.weighted_mean(reconstruction, sample_weight)
        kl = elbo.weighted_mean(kl, sample_weight)
        loss = self.alpha * reconstruction + self.beta * kl
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss, reconstruction, kl

    def _update_trackers(self, x, loss, reconstruction, kl):
        # Weighted by batch size, so a short last batch counts for its rows.
        batch = ops.shape(x)[0]
        self.loss_tracker.update_state(loss, sample_weight=batch)
        self.reconstruction_tracker.update_state(
            reconstruction, sample_weight=batch
        )
        self.kl_tracker.update_state(kl, sample_weight=batch)
        return distribute.reducible_logs(
            {metric.name: metric.result() for metric in self.metrics}
        )

    def train_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        network_variables = self.network_variables
        mixture_variables = self.mixture_variables
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._loss_and_terms(
                x, sample_weight, training=True
            )
            # The optimizers sum the replicas' gradients (tf.distribute):
            # each replica contributes its share of the mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled_loss = loss / replicas if replicas > 1 else loss
            # Times the loss scale under "mixed_float16" (Keras's
            # LossScaleOptimizer undoes it in `apply`), else unchanged.
            scaled_loss = self.optimizer.scale_loss(scaled_loss)
        gradients = tape.gradient(
            scaled_loss, network_variables + mixture_variables
        )
        split = len(network_variables)
        # The float32 mixture's optimizer knows no loss scale: its gradients
        # are unscaled here (before the network's `apply` may change it).
        mixture_gradients = gradients[split:]
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            scale = ops.cast(self.optimizer.dynamic_scale, "float32")
            mixture_gradients = [g / scale for g in mixture_gradients]
        self.optimizer.apply(gradients[:split], network_variables)
        self.mixture_optimizer.apply(mixture_gradients, mixture_variables)
        return self._update_trackers(x, loss, reconstruction, kl)

    def test_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, reconstruction, kl = self._loss_and_terms(
            x, sample_weight, training=False
        )
        return self._update_trackers(x, loss, reconstruction, kl)

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        """`keras.Model.fit` on the ELBO (`y` optional and ignored) on
        checked inputs, arrays batched in VaDE's seeded order, stopped with
        its cause when the loss is not finite (`fitting.fit_arguments`)."""
        x, y, validation_data, kwargs = fitting.fit_arguments(
            self, x, y, validation_data, kwargs
        )
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """`keras.Model.evaluate` of the ELBO terms on checked inputs."""
        x = validation.check_model_input(self, x)
        y = fitting.placeholder_targets(x, y, kwargs.get("sample_weight"))
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, **kwargs):
        """`keras.Model.predict`: q(c|x) at z_mean, shape `(N, n_clusters)`."""
        return super().predict(validation.check_model_input(self, x), **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        """`keras.Model.save` to a `.keras` file, through a temporary file
        renamed onto `filepath` (an interrupted save leaves the earlier file
        whole). `overwrite` is Keras's (default True); False raises
        `FileExistsError` for an existing file. Keras's legacy `.h5` cannot
        load this model back and is refused (`save_pretrained_weights`
        writes the autoencoder as HDF5)."""
        if str(filepath).lower().endswith((".h5", ".hdf5")):
            raise ValueError(
                "VaDE is saved as a .keras file; Keras's legacy .h5 format "
                "cannot load it back. Received: filepath="
                f"{str(filepath)!r}. Use a name ending in .keras, or "
                "save_pretrained_weights() for the autoencoder's weights "
                "as HDF5."
            )
        with fileio.atomic_output(
            filepath, overwrite=overwrite, suffix=".keras"
        ) as temporary:
            super().save(temporary, **kwargs)

    # --- Serialisation -----------------------------------------------------

    def get_config(self):
        config = {
            **{name: getattr(self, name) for name in _PLAIN_CONFIG},
            "hidden_dims": list(self.hidden_dims),
            "likelihood": likelihoods.serialize_likelihood(self.likelihood),
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["kernel_initializer"] = keras.initializers.deserialize(
            config["kernel_initializer"]
        )
        return cls(**config)
