"""VaDE: Variational Deep Embedding (Jiang et al., IJCAI 2017).

The model reads top to bottom: the encoder and decoder builders, then the
`VaDE` model: its configuration, the forward pass and the ELBO terms, the
two-optimizer `compile` and the training step, and the public inference and
generation methods. The rest lives beside what it works on: pretraining in
`vade_tf.pretraining`, the mixture's start in `vade_tf.mixture`, input
checks in `vade_tf.validation`, the workflow in `vade_tf.workflow`.
"""

import contextlib
import functools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vade_tf import callbacks as vade_callbacks
from vade_tf import (
    compilation,
    datasets,
    distribution,
    fileio,
    losses,
    mixture,
    pretraining,
    recipes,
    validation,
)
from vade_tf import layers as vade_layers

# Rows per forward pass of the inference methods: on a 2-core AVX-512 CPU
# 4096 was 10-15% faster than 1000 over 70,000 rows, 8192 no faster
# (docs/performance.md, "Inference batch size").
INFERENCE_BATCH_SIZE = 4096
# The fewest rows `encode` pads a short batch to (`padded_batch_rows`).
MIN_PADDED_ROWS = 16
# Entries of the (rows, K, D) tensor per step of the mixture's posterior.
_MIXTURE_CHUNK_ENTRIES = 2**22
# Training steps per call of the compiled step function (`compile`'s
# default): on a 2-core CPU the fixed cost of a call was a tenth to a sixth
# of a batch-100 step (docs/performance.md, "Steps per call").
STEPS_PER_EXECUTION = 32
# `compile` arguments that `model.save` keeps (plain values).
_SAVED_COMPILE_ARGS = ("steps_per_execution", "run_eagerly", "auto_scale_loss")


# =============================================================================
# Networks
# =============================================================================


def layer_initializer(identifier, seed, index):
    """A fresh initializer per layer, seeded `seed + index` when seeded.

    One initializer instance shared by several layers would give every
    layer of the same shape the same weights (Keras 3 initializers keep
    their seed), so each layer gets its own copy.

    Args:
        identifier: a Keras initializer, its name or its config.
        seed: int or `None`, the model's seed.
        index: int, the layer's position.

    Returns:
        A new `keras.initializers.Initializer`.
    """
    initializer = keras.initializers.get(identifier)
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = None if seed is None else seed + index
    return type(initializer).from_config(config)


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


def build_encoder(
    input_dim,
    latent_dim,
    hidden_dims,
    kernel_initializer="glorot_uniform",
    seed=None,
):
    """The encoder x -> (z_mean, z_log_var) with stable layer names.

    Hidden Dense layers are named `encoder1`, `encoder2`, ...; the heads
    `z_mean` and `z_log_var`. Pretrained weights load by these names.
    `z_log_var` starts at zero whatever `kernel_initializer` says.

    Args:
        input_dim: int, the number of features.
        latent_dim: int, D.
        hidden_dims: sequence of ints, the hidden widths (500, 500, 2000).
        kernel_initializer: a Keras initializer or its name; each layer
            gets its own copy (see `layer_initializer`).
        seed: int or `None`, seeds the copies.

    Returns:
        A functional `keras.Model` from `(batch, input_dim)` to two tensors
        of shape `(batch, latent_dim)`.
    """
    inputs = keras.Input(shape=(input_dim,), name="x")
    hidden = inputs
    for index, width in enumerate(hidden_dims, start=1):
        hidden = keras.layers.Dense(
            width,
            activation="relu",
            kernel_initializer=layer_initializer(
                kernel_initializer, seed, index
            ),
            name=f"encoder{index}",
        )(hidden)
    z_mean = keras.layers.Dense(
        latent_dim,
        kernel_initializer=layer_initializer(
            kernel_initializer, seed, len(hidden_dims) + 1
        ),
        name="z_mean",
    )(hidden)
    # The log-variance head is not pretrained; it starts at zero (unit
    # variance for every input) and `VaDE.initialize_gmm` scales it to the
    # mixture it fits.
    z_log_var = keras.layers.Dense(
        latent_dim, kernel_initializer="zeros", name="z_log_var"
    )(hidden)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_decoder(
    input_dim,
    latent_dim,
    hidden_dims,
    likelihood="bernoulli",
    kernel_initializer="glorot_uniform",
    seed=None,
    n_clusters=1,
):
    """The decoder z -> x_hat, the mean of p(x|z).

    Hidden Dense layers `decoder1`, `decoder2`, ... mirror the encoder;
    `decoder{n+1}` is the linear output layer, with
    `likelihood.sample_parameters * input_dim` units. A likelihood with
    free parameters (the negative binomial's dispersion) gets them appended
    by a `SharedParameters` layer named `likelihood_parameters`. `x_hat`
    maps the raw outputs to the mean (`likelihood.mean_layer`: the sigmoid
    for bernoulli).

    Args:
        input_dim: int, the number of features.
        latent_dim: int, D.
        hidden_dims: sequence of ints, the encoder's hidden widths; the
            decoder uses them reversed.
        likelihood: a `vade_tf.losses.Likelihood` or its name.
        kernel_initializer: a Keras initializer or its name; each layer
            gets its own copy (see `layer_initializer`).
        seed: int or `None`, seeds the copies.
        n_clusters: int, K, for likelihoods with parameters per cluster.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to
        `(batch, input_dim)`.
    """
    likelihood = losses.get_likelihood(likelihood)
    inputs = keras.Input(shape=(latent_dim,), name="z")
    hidden = inputs
    offset = 100  # decoder seeds differ from the encoder's
    for index, width in enumerate(reversed(hidden_dims), start=1):
        hidden = keras.layers.Dense(
            width,
            activation="relu",
            kernel_initializer=layer_initializer(
                kernel_initializer, seed, offset + index
            ),
            name=f"decoder{index}",
        )(hidden)
    outputs = keras.layers.Dense(
        likelihood.sample_parameters * input_dim,
        kernel_initializer=layer_initializer(
            kernel_initializer, seed, offset + len(hidden_dims) + 1
        ),
        name=f"decoder{len(hidden_dims) + 1}",
    )(hidden)
    rows = likelihood.shared_parameters(n_clusters)
    if rows:
        outputs = vade_layers.SharedParameters(
            rows * input_dim, name=vade_layers.LIKELIHOOD_PARAMETERS
        )(outputs)
    x_hat = likelihood.mean_layer(input_dim, name="x_hat")(outputs)
    return keras.Model(inputs, x_hat, name="decoder")


# =============================================================================
# The model
# =============================================================================


@keras.saving.register_keras_serializable(package="vade_tf")
class VaDE(keras.Model):
    """Variational Deep Embedding: a VAE with a Gaussian-mixture prior.

    The generative model is c ~ Cat(theta_p), z|c ~ N(c_mean[c],
    diag c_var[c]), x|z ~ p(x | decoder(z)). The encoder gives
    q(z|x) = N(z_mean, exp(z_log_var)) and the cluster posterior
    q(c|x) = E_q(z|x)[p(c|z)] ("gamma"). Training maximises the ELBO (see
    `vade_tf.losses`) with two optimizers, one for the networks and one for
    the mixture, as in the original release.

    The usual workflow is `pretrain` (a deterministic autoencoder),
    `initialize_gmm` (a mixture on the latent means), `compile`, then `fit`;
    `vade_tf.workflow.train` runs it from a named recipe. Calling the model
    (and `predict`) returns q(c|x) at z = z_mean, shape
    `(batch, n_clusters)`.

    Args:
        input_dim: int, the number of features of a (flattened) sample.
        n_clusters: int >= 2, the number of mixture components K.
        latent_dim: int, the latent dimension D.
        hidden_dims: sequence of ints, the encoder's hidden widths; the
            decoder mirrors them.
        likelihood: `"bernoulli"` (data in [0, 1], sigmoid output),
            `"gaussian"` (real data, linear output), `"nb"` or `"zinb"`
            (counts: negative binomial, zero-inflated negative binomial)
            or a `vade_tf.losses.Likelihood`.
        alpha: float > 0, the weight of the reconstruction term.
        beta: float > 0, the weight of the prior terms (the KL divergence
            `kl`), as in beta-VAE; 1 is VaDE's ELBO. The loss is
            `alpha * reconstruction + beta * kl`.
        gamma_mode: `"exact"` or `"original"`; see
            `vade_tf.layers.GMMPosterior`.
        seed: int or `None`, seeds z sampling and the initial weights.
        kernel_initializer: initializer of every Dense kernel.
        **kwargs: passed to `keras.Model` (for example `name`).

    Example:

    ```python
    x, y = vade_tf.datasets.load_dataset("digits")
    model = vade_tf.VaDE(input_dim=64, n_clusters=10, seed=0)
    model.pretrain(x, epochs=50)
    model.initialize_gmm(x, random_state=0)
    model.compile()
    model.fit(x, epochs=50, batch_size=100)
    clusters = model.predict_clusters(x)
    samples = model.generate(cluster=3, n_samples=8)
    ```

    Reference:
        Jiang, Zheng, Tan, Tang, Zhou. Variational Deep Embedding: An
        Unsupervised and Generative Approach to Clustering. IJCAI 2017.
    """

    # `vade_tf.workflow.train` fits the mixture again on the trained latent
    # means when True (`vade_tf.baselines.VAEGMM`).
    fits_mixture_after_training = False

    def __init__(
        self,
        input_dim,
        n_clusters,
        latent_dim=10,
        hidden_dims=(500, 500, 2000),
        likelihood="bernoulli",
        alpha=1.0,
        beta=1.0,
        gamma_mode="exact",
        seed=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        kwargs.setdefault("name", "vade")
        super().__init__(**kwargs)
        hidden_dims = tuple(hidden_dims)
        for width in hidden_dims:
            validation.check_int(width, "each of hidden_dims", 1)
        validation.check_positive_float(alpha, "alpha")
        validation.check_positive_float(beta, "beta")

        # === Config ===
        self.input_dim = validation.check_int(input_dim, "input_dim", 1)
        self.n_clusters = validation.check_n_clusters(n_clusters)
        self.latent_dim = validation.check_int(latent_dim, "latent_dim", 1)
        self.hidden_dims = hidden_dims
        self.likelihood = losses.get_likelihood(likelihood)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.gamma_mode = gamma_mode
        if seed is not None and not validation.is_int(seed):
            raise ValueError(
                f"seed must be an integer or None. Received: seed={seed!r}"
            )
        self.seed = None if seed is None else int(seed)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        # === Layers ===
        # The networks follow the model's own dtype policy (the `dtype`
        # argument, which a saved model's config holds, else the global
        # policy at construction), so that a model saved under mixed
        # precision reloads with it whatever the global policy is then.
        with dtype_policy_scope(self.dtype_policy):
            self.encoder = build_encoder(
                self.input_dim,
                self.latent_dim,
                hidden_dims,
                self.kernel_initializer,
                self.seed,
            )
            self.decoder = build_decoder(
                self.input_dim,
                self.latent_dim,
                hidden_dims,
                self.likelihood,
                self.kernel_initializer,
                self.seed,
                self.n_clusters,
            )
            # Identity until `vade_tf.workflow.build_model` (or the user)
            # adapts it to data for the gaussian likelihood.
            self.input_scaling = vade_layers.Standardize(
                self.input_dim, name="input_scaling"
            )
        # The mixture, the draws of z and the ELBO stay in float32 under a
        # mixed-precision policy; only the two networks follow the policy.
        self.gmm = vade_layers.GMMPosterior(
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
        # All weights exist now: the model never needs a data-driven build.
        self.built = True

        # === Metrics ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
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
    def gmm_variables(self):
        """`[theta_p, c_mean, c_var]`, trained by `gmm_optimizer`."""
        return list(self.gmm.trainable_variables)

    @property
    def network_variables(self):
        """Every trainable variable but the mixture's, for `optimizer`."""
        gmm_ids = {id(variable) for variable in self.gmm_variables}
        return [v for v in self.trainable_variables if id(v) not in gmm_ids]

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.reconstruction_tracker,
            self.kl_tracker,
        ]

    # --- Forward passes and the ELBO ---------------------------------------

    def call(self, inputs, training=False):
        z_mean, _ = self.encoder_outputs(inputs, training=training)
        # Through the layer's `__call__`, not `p_c_z`: under mixed precision
        # `VaDE.__call__` autocasts float32 variables to the compute dtype,
        # and only the float32 layer's own call scope reads them unrounded.
        return self.gmm(z_mean)

    def encoder_outputs(self, x, training=False):
        """The parameters of q(z|x) as float32 tensors.

        `x` is standardised by `input_scaling` first (the identity unless
        it was adapted) and passed through the likelihood's
        `encoder_input` (`log1p` for counts, else the identity). The
        encoder computes in the dtype policy's compute dtype (float16 or
        bfloat16 under mixed precision); its outputs are cast to float32
        for the mixture and the ELBO.

        Args:
            x: tensor of shape `(batch, input_dim)`, in the data's units.
            training: bool.

        Returns:
            Tuple `(z_mean, z_log_var)`, each float32 `(batch, latent_dim)`.
        """
        return self._encode_standardized(self.input_scaling(x), training)

    def _encode_standardized(self, x, training):
        x = self.likelihood.encoder_input(x)
        z_mean, z_log_var = self.encoder(x, training=training)
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def decoder_outputs(self, z, training=False):
        """The decoder's raw outputs (logits for bernoulli), before `x_hat`.

        The decoder's layers are applied by name (`decoder1` to
        `decoder{n+1}`, then `likelihood_parameters` if the likelihood has
        free parameters), leaving out the final `x_hat`; the result is cast
        to float32 for the likelihood.

        Args:
            z: tensor of shape `(batch, latent_dim)`.

        Returns:
            float32 tensor of shape `(batch, width)`: `input_dim` columns
            for bernoulli and gaussian; see `build_decoder` for others.
        """
        hidden = z
        names = [f"decoder{i}" for i in range(1, len(self.hidden_dims) + 2)]
        if self.likelihood.shared_parameters(self.n_clusters):
            names.append(vade_layers.LIKELIHOOD_PARAMETERS)
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
            seed: `None` to draw z with the model's own `Sampling` layer
                (training), or a `keras.random.SeedGenerator` (or int) for
                draws that leave the layer's state alone (evaluation).

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
        """KL(q(z, c|x) || p(z, c)) per sample.

        Args:
            z_mean: float32 tensor of shape `(batch, latent_dim)`.
            z_log_var: float32 tensor of shape `(batch, latent_dim)`.
            log_gamma: float32 tensor of shape `(batch, n_clusters)`,
                log q(c|x) = log p(c|z) at the draw of z.

        Returns:
            Tensor of shape `(batch,)`; see `vade_tf.losses.vade_kl`.
        """
        return losses.vade_kl(
            z_mean, z_log_var, log_gamma, self.theta_p, self.c_mean, self.c_var
        )

    # --- Training ----------------------------------------------------------

    def compile(
        self,
        optimizer=None,
        gmm_optimizer=None,
        jit_compile=compilation.JIT_COMPILE,
        steps_per_execution=None,
        **kwargs,
    ):
        """Configures the two optimizers and builds them on their variables.

        Args:
            optimizer: optimizer of the encoder and decoder weights; default
                the "original" recipe's `Adam(learning_rate=0.002,
                epsilon=1e-4)`.
            gmm_optimizer: optimizer of `theta_p`, `c_mean`, `c_var`; the
                same default. Must be a different object from `optimizer`.
            jit_compile: True, False or "auto": compile the training step
                with XLA. "auto" (the default) is XLA, faster on CPU in
                float32 (docs/performance.md), except for a bfloat16
                network on a CPU with AMX, where TensorFlow's own kernels
                use its matrix tiles and XLA's do not
                (`vade_tf.compilation`). Off anyway under a strategy with
                several replicas.
            steps_per_execution: int or `None`, training steps run by one
                call of the compiled function (Keras's argument). `None`:
                `STEPS_PER_EXECUTION`, or 1 with more than one replica in
                sync (`distribution.multi_step_supported`). Batch-level
                callbacks see every `steps_per_execution`-th batch. A call
                never runs past the end of an epoch of array `x` (`fit`
                gives each epoch its own pass over the data); with an
                endless dataset and `steps_per_epoch`, use a divisor of
                `steps_per_epoch` (or 1).
            **kwargs: passed to `keras.Model.compile`. `loss` and `metrics`
                are not used: the loss is VaDE's ELBO.
        """
        for unused in ("metrics", "weighted_metrics"):
            if kwargs.get(unused) is not None:
                raise ValueError(
                    f"VaDE logs its own loss terms and takes no `{unused}`. "
                    f"Received: {unused}={kwargs[unused]!r}. Use "
                    "vade_tf.callbacks.ClusteringMetrics for clustering "
                    "scores."
                )
        if kwargs.get("loss") is not None:
            raise ValueError(
                "VaDE trains on its own ELBO and takes no `loss`. Received: "
                f"loss={kwargs['loss']!r}. Use `alpha` or `likelihood` in "
                "the constructor to change the reconstruction term."
            )
        default_optimizer, default_gmm_optimizer = recipes.ORIGINAL.optimizers()
        optimizer = keras.optimizers.get(optimizer or default_optimizer)
        gmm_optimizer = keras.optimizers.get(
            gmm_optimizer or default_gmm_optimizer
        )
        if optimizer is gmm_optimizer:
            raise ValueError(
                "`optimizer` and `gmm_optimizer` must be two different "
                "optimizer objects: each is built on its own variables."
            )
        super().compile(
            optimizer=optimizer,
            jit_compile=compilation.resolve(
                jit_compile, self.encoder.compute_dtype
            ),
            steps_per_execution=steps_per_execution
            or (
                STEPS_PER_EXECUTION
                if distribution.multi_step_supported()
                else 1
            ),
            **kwargs,
        )
        self.gmm_optimizer = gmm_optimizer
        # Build each optimizer on its own variables now, outside any traced
        # function; Keras would otherwise build `optimizer` on all of them.
        self.optimizer.build(self.network_variables)
        self.gmm_optimizer.build(self.gmm_variables)
        self._vade_compile_config = {
            "optimizer": keras.optimizers.serialize(self.optimizer),
            "gmm_optimizer": keras.optimizers.serialize(self.gmm_optimizer),
            "jit_compile": jit_compile,
            "steps_per_execution": steps_per_execution,
            **{k: v for k, v in kwargs.items() if k in _SAVED_COMPILE_ARGS},
        }

    def get_compile_config(self):
        return getattr(self, "_vade_compile_config", {})

    def compile_from_config(self, config):
        extra = {k: config[k] for k in _SAVED_COMPILE_ARGS if k in config}
        self.compile(
            optimizer=keras.optimizers.deserialize(config["optimizer"]),
            gmm_optimizer=keras.optimizers.deserialize(config["gmm_optimizer"]),
            jit_compile=config.get("jit_compile", compilation.JIT_COMPILE),
            **extra,
        )

    def _loss_and_terms(self, x, sample_weight, training):
        reconstruction, kl = self.elbo_terms(x, training=training)
        reconstruction = losses.weighted_mean(reconstruction, sample_weight)
        kl = losses.weighted_mean(kl, sample_weight)
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
        return distribution.reducible_logs(
            {metric.name: metric.result() for metric in self.metrics}
        )

    def train_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        network_variables = self.network_variables
        gmm_variables = self.gmm_variables
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._loss_and_terms(
                x, sample_weight, training=True
            )
            # Under a tf.distribute strategy the optimizers sum the replicas'
            # gradients: each replica contributes its share of the mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled_loss = loss / replicas if replicas > 1 else loss
            # Under "mixed_float16" Keras wraps `optimizer` in a
            # LossScaleOptimizer: the loss is multiplied by its scale here
            # and its `apply` divides the network's gradients back (and
            # skips a step whose float16 gradients overflowed). Otherwise
            # `scale_loss` returns the loss unchanged.
            scaled_loss = self.optimizer.scale_loss(scaled_loss)
        gradients = tape.gradient(
            scaled_loss, network_variables + gmm_variables
        )
        split = len(network_variables)
        # The float32 mixture has its own optimizer, which knows nothing of
        # the loss scale: its gradients are unscaled here, by the scale the
        # loss was multiplied with (the network's `apply` may change it).
        gmm_gradients = gradients[split:]
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            scale = ops.cast(self.optimizer.dynamic_scale, "float32")
            gmm_gradients = [gradient / scale for gradient in gmm_gradients]
        self.optimizer.apply(gradients[:split], network_variables)
        self.gmm_optimizer.apply(gmm_gradients, gmm_variables)
        return self._update_trackers(x, loss, reconstruction, kl)

    def test_step(self, data):
        x, _, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, reconstruction, kl = self._loss_and_terms(
            x, sample_weight, training=False
        )
        return self._update_trackers(x, loss, reconstruction, kl)

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        """`keras.Model.fit` on the ELBO; `y` is optional and ignored.

        Array inputs are checked first (`vade_tf.validation`: rank, feature
        count, finite values, the likelihood's support, at least
        `n_clusters` samples). `sample_weight` scales each sample's loss.
        """
        x = validation.check_model_input(self, x, clusters=True)
        y = _placeholder_targets(x, y, kwargs.get("sample_weight"))
        if isinstance(x, tf.data.Dataset):
            # A dataset shuffles itself (`vade_tf.streaming.stream` does);
            # Keras would only warn that it ignores `shuffle`.
            kwargs.setdefault("shuffle", False)
        if _batches_itself(x, y, kwargs):
            # An array to shuffle: VaDE's own pipeline (a stateless shuffle
            # per epoch from the model's seed, one pass per epoch) instead
            # of Keras's array adapter, which was slower per epoch and far
            # less steady on a 2-core CPU (docs/performance.md).
            batch_size = kwargs.pop("batch_size", None) or 32
            kwargs["shuffle"] = False  # the pipeline shuffles
            x, epoch_callback = datasets.shuffled_epochs(
                x,
                batch_size,
                datasets.batch_order_seed(self.seed),
                kwargs.get("initial_epoch", 0),
            )
            kwargs["callbacks"] = [
                epoch_callback,
                *(kwargs.get("callbacks") or []),
            ]
        if not any(
            isinstance(callback, vade_callbacks.StopOnNonFiniteLoss)
            for callback in kwargs.get("callbacks") or []
        ):
            kwargs["callbacks"] = [
                *(kwargs.get("callbacks") or []),
                vade_callbacks.StopOnNonFiniteLoss(),
            ]
        if kwargs.get("verbose", "auto") != 0 and not any(
            isinstance(callback, keras.callbacks.ProgbarLogger)
            for callback in kwargs.get("callbacks") or []
        ):
            kwargs["callbacks"] = [
                *(kwargs.get("callbacks") or []),
                vade_callbacks.StepProgbar(),
            ]
        if isinstance(validation_data, (tuple, list)):
            x_val = validation.check_model_input(
                self, validation_data[0], "validation_data"
            )
            rest = list(validation_data[1:])
            if len(rest) == 2:
                # (x_val, None, weights): Keras would drop the weights.
                rest[0] = _placeholder_targets(x_val, rest[0], rest[1])
            validation_data = (x_val, *rest)
        else:
            validation_data = validation.check_model_input(
                self, validation_data, "validation_data"
            )
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """`keras.Model.evaluate` of the ELBO terms on checked inputs."""
        x = validation.check_model_input(self, x)
        y = _placeholder_targets(x, y, kwargs.get("sample_weight"))
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, **kwargs):
        """`keras.Model.predict`: q(c|x) at z_mean, shape `(N, n_clusters)`."""
        return super().predict(validation.check_model_input(self, x), **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        """`keras.Model.save` to a `.keras` file (the whole model: config,
        weights, both optimizers; `keras.models.load_model` reads it back).

        The file is written to a temporary file beside it and renamed onto
        `filepath`, so an interrupted save leaves the earlier file whole.
        `overwrite` keeps Keras's meaning and default (True: replace an
        existing file); with False an existing file raises
        `FileExistsError` instead of Keras's interactive prompt.

        Keras's legacy `.h5` format is refused: it cannot store this
        subclassed model so that it loads again. For the autoencoder's
        weights in the original release's HDF5 layout, use
        `save_pretrained_weights`.
        """
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

    # --- Pretraining and the mixture's start (delegated) -------------------

    def pretrain(self, x, **kwargs):
        """Trains the deterministic autoencoder encoder -> z_mean -> decoder.

        See `vade_tf.pretraining.pretrain_autoencoder` for the options
        (`epochs`, `batch_size`, `recipe`, `noise`, `verbose` and any other
        `fit` keyword).

        Args:
            x: array of shape `(n_samples, input_dim)`.
            **kwargs: passed to `pretrain_autoencoder`.

        Returns:
            The Keras `History` of the autoencoder's training.
        """
        x = validation.check_model_input(self, x, clusters=True, streamed=False)
        history = pretraining.pretrain_autoencoder(self, x, **kwargs)
        losses_seen = history.history.get("loss", [])
        if losses_seen and not np.isfinite(losses_seen[-1]):
            raise FloatingPointError(
                "Pretraining diverged: the autoencoder's loss is "
                f"{losses_seen[-1]} after {len(losses_seen)} epochs. Likely "
                "causes: features far from unit scale with no "
                "standardisation (standardise them, or use "
                "input_scaling='auto'), or a learning rate too high."
            )
        return history

    def save_pretrained_weights(self, path, overwrite=False):
        """Writes the autoencoder's weights as HDF5; see `pretraining`."""
        pretraining.save_autoencoder_weights(self, path, overwrite=overwrite)

    def load_pretrained_weights(self, path):
        """Loads autoencoder weights (this project's or the original's)."""
        pretraining.load_autoencoder_weights(self, path)

    def initialize_gmm(
        self,
        x,
        gmm_init="gmm",
        random_state=None,
        n_init=1,
        posterior_var_ratio=mixture.POSTERIOR_VAR_RATIO,
        latent_std=None,
        n_restarts=1,
    ):
        """Fits the mixture prior on the latent means of `x`.

        `gmm_init="gmm"` fits `GaussianMixture(covariance_type="diag")`,
        started from the best of `n_init` k-means runs, and writes its
        weights, means and variances. `gmm_init="kmeans"` stops at k-means:
        each cluster's share of the points is its weight and the
        per-dimension variance of its members its variance. See
        `vade_tf.mixture.fit_latent_mixture`.

        The encoder's log-variance head is not pretrained. It is reset to a
        constant: per latent dimension, `posterior_var_ratio` times the
        mixture's mean variance in that dimension, so q(z|x) starts narrower
        than the clusters whatever the scale of the latent space, and
        training starts from the AE+GMM solution.

        Args:
            x: array of shape `(n_samples, input_dim)`.
            gmm_init: one of `vade_tf.recipes.GMM_INITS`.
            random_state: int or `None`, passed to scikit-learn.
            n_init: int, k-means runs tried by scikit-learn.
            posterior_var_ratio: float > 0, or `None` to leave the
                log-variance head as it is.
            latent_std: float > 0 or `None`. If given, the latent space is
                first rescaled (`vade_tf.mixture.scale_latent`, which
                leaves the model's function unchanged) so the latent means'
                per-dimension standard deviation averages `latent_std`.
                The autoencoder's latent scale is arbitrary, while Adam moves
                the mixture by about its learning rate per step whatever the
                scale, so at a small scale its steps are large against the
                clusters (docs/results.md).
            n_restarts: int >= 1. With more than 1, the whole fit is
                repeated from seeds drawn from `random_state` and the one
                whose mixture gives the latent means the highest
                log-likelihood is kept (labels are never used).

        Returns:
            The fitted scikit-learn estimator.
        """
        return mixture.initialize_mixture(
            self,
            x,
            gmm_init=gmm_init,
            random_state=random_state,
            n_init=n_init,
            posterior_var_ratio=posterior_var_ratio,
            latent_std=latent_std,
            n_restarts=n_restarts,
        )

    def set_gmm_parameters(self, theta_p, c_mean, c_var):
        """Assigns the mixture parameters; see `GMMPosterior.set_parameters`.

        Args:
            theta_p: array of shape `(n_clusters,)`, positive.
            c_mean: array of shape `(n_clusters, latent_dim)`.
            c_var: array of shape `(n_clusters, latent_dim)`, positive.
        """
        self.gmm.set_parameters(theta_p, c_mean, c_var)

    # --- Inference and generation ------------------------------------------

    def encode(self, x, batch_size=INFERENCE_BATCH_SIZE, *, check_input=True):
        """The parameters of q(z|x), in batches.

        Args:
            x: array of shape `(n_samples, input_dim)`.
            batch_size: int, rows per forward pass.
            check_input: bool; False skips the checks of `x` (shape, finite
                values, the likelihood's support) for a float32 array that
                was checked before, as callbacks do for data they score
                every epoch.

        Returns:
            Tuple of numpy arrays `(z_mean, z_log_var)`, each of shape
            `(n_samples, latent_dim)`.
        """
        if check_input:
            x = validation.check_model_input(self, x, streamed=False)
        batch_size = validation.check_int(batch_size, "batch_size", 1)
        means, log_vars = [], []
        for start in range(0, len(x), batch_size):
            batch = np.asarray(x[start : start + batch_size], dtype="float32")
            rows = len(batch)
            padded = padded_batch_rows(rows, batch_size)
            if rows < padded:
                # A short batch is padded (`padded_batch_rows`), so the
                # function sees a few shapes whatever the numbers of rows
                # it is given. The reason dates from the XLA encoder, which
                # compiled once per shape; without XLA, oneDNN may still
                # prepare kernels per shape, a cost not measured.
                batch = np.concatenate(
                    [
                        batch,
                        np.zeros((padded - rows, batch.shape[1]), "float32"),
                    ]
                )
            z_mean, z_log_var = self._compiled_encoder()(batch)
            means.append(z_mean.numpy()[:rows])
            log_vars.append(z_log_var.numpy()[:rows])
        return np.concatenate(means), np.concatenate(log_vars)

    def _compiled_encoder(self):
        """`encoder_outputs` as one graph function, built once.

        One call per batch runs the standardisation and the encoder in one
        traced function with a fixed input signature (no retracing, none of
        `predict_on_batch`'s per-call work). It runs without XLA: at
        inference batch sizes TensorFlow's oneDNN matrix products were
        faster than XLA's on an AVX-512 CPU (1.14x at batch 1000, 1.17x at
        4096; docs/performance.md), while training keeps XLA.
        """
        if getattr(self, "_encoder_function", None) is None:
            # A partial, not the bound method: TensorFlow counts traces per
            # code object, so each new model's one trace of the method
            # (several models in a grid search) added up to a warning of
            # "excessive retracing" that did not apply.
            self._encoder_function = tf.function(
                functools.partial(type(self).encoder_outputs, self),
                jit_compile=False,
                input_signature=[
                    tf.TensorSpec([None, self.input_dim], tf.float32)
                ],
                reduce_retracing=True,
            )
        return self._encoder_function

    def transform(
        self, x, batch_size=INFERENCE_BATCH_SIZE, *, check_input=True
    ):
        """The latent means z_mean, array of shape `(n_samples, latent_dim)`."""
        return self.encode(x, batch_size, check_input=check_input)[0]

    def predict_proba(
        self,
        x,
        batch_size=INFERENCE_BATCH_SIZE,
        n_samples=0,
        seed=None,
        *,
        check_input=True,
    ):
        """The cluster posterior q(c|x), array of shape `(N, n_clusters)`.

        Args:
            x: array of shape `(N, input_dim)`.
            batch_size: int.
            n_samples: int; 0 evaluates p(c|z) at z = z_mean (VaDE's usual
                choice); L > 0 averages p(c|z) over L draws of z ~ q(z|x).
            seed: int or `None`, for the draws.
            check_input: bool; see `encode`.

        Returns:
            numpy array of shape `(N, n_clusters)`; rows sum to 1.
        """
        n_samples = validation.check_int(n_samples, "n_samples", 0)
        if check_input:
            x = validation.check_model_input(self, x, streamed=False)
        batch_size = validation.check_int(batch_size, "batch_size", 1)
        generator = keras.random.SeedGenerator(seed) if n_samples else None
        # The mixture sees steps of about 4 million (draw, row, component,
        # dimension) entries, whatever `batch_size` is: its memory stays
        # bounded however many rows and draws there are, and the draws of
        # a seeded call do not depend on `batch_size`. The latent
        # parameters of all rows, 2 * latent_dim floats a row, are kept
        # meanwhile, as the probabilities are.
        z_mean, z_log_var = self.encode(x, batch_size, check_input=False)
        step = max(
            1,
            _MIXTURE_CHUNK_ENTRIES
            // (self.n_clusters * self.latent_dim * max(n_samples, 1)),
        )
        probs = []
        for start in range(0, len(z_mean), step):
            rows = slice(start, start + step)
            q = self.gmm.q_c_x(
                z_mean[rows], z_log_var[rows], n_samples, generator
            )
            probs.append(ops.convert_to_numpy(q))
        return np.concatenate(probs, axis=0)

    def predict_clusters(
        self,
        x,
        batch_size=INFERENCE_BATCH_SIZE,
        n_samples=0,
        seed=None,
        *,
        check_input=True,
    ):
        """The most probable cluster of each sample, int array `(N,)`."""
        probs = self.predict_proba(
            x, batch_size, n_samples, seed, check_input=check_input
        )
        return np.argmax(probs, axis=-1)

    def score_samples(self, x, batch_size=INFERENCE_BATCH_SIZE, seed=0):
        """Each sample's ELBO (higher is better), `-(alpha * rec + beta * kl)`.

        The reconstruction term is taken at one draw of z per sample, as in
        training, from a generator seeded with `seed`: the same model, data
        and seed give the same scores, and the model's own sampling state is
        left alone. For the gaussian likelihood the constant of log p(x|z) is
        left out, as in training.

        Args:
            x: array of shape `(N, input_dim)`.
            batch_size: int.
            seed: int, seeds the draws of z.

        Returns:
            float numpy array of shape `(N,)`.
        """
        x = validation.check_model_input(self, x, streamed=False)
        batch_size = validation.check_int(batch_size, "batch_size", 1)
        generator = keras.random.SeedGenerator(seed)
        scores = []
        for start in range(0, len(x), batch_size):
            reconstruction, kl = self.elbo_terms(
                x[start : start + batch_size], seed=generator
            )
            scores.append(
                -ops.convert_to_numpy(
                    self.alpha * reconstruction + self.beta * kl
                )
            )
        return np.concatenate(scores)

    def generate(
        self,
        cluster,
        n_samples,
        seed=None,
        min_posterior=None,
        max_draws=None,
    ):
        """Samples x from one mixture component.

        Draws z from the component (`GMMPosterior.sample_z`, optionally
        keeping only draws with p(cluster|z) >= `min_posterior`, as the
        original did with 0.999) and decodes it to the mean of p(x|z).

        Args:
            cluster: int in `[0, n_clusters)`.
            n_samples: int >= 1.
            seed: int or `None`.
            min_posterior: float in (0, 1] or `None`.
            max_draws: int, the bound on draws; default
                `max(1000 * n_samples, 100000)`.

        Returns:
            numpy array of shape `(n_samples, input_dim)`.
        """
        z = self.gmm.sample_z(
            cluster, n_samples, seed, min_posterior, max_draws
        )
        x_hat = self.decoder.predict(
            z, batch_size=INFERENCE_BATCH_SIZE, verbose=0
        )
        return ops.convert_to_numpy(self.input_scaling.inverse(x_hat))

    # --- Serialisation -----------------------------------------------------

    def get_config(self):
        base_config = super().get_config()
        config = {
            "input_dim": self.input_dim,
            "n_clusters": self.n_clusters,
            "latent_dim": self.latent_dim,
            "hidden_dims": list(self.hidden_dims),
            "likelihood": losses.serialize_likelihood(self.likelihood),
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma_mode": self.gamma_mode,
            "seed": self.seed,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["kernel_initializer"] = keras.initializers.deserialize(
            config["kernel_initializer"]
        )
        return cls(**config)


def padded_batch_rows(rows, batch_size):
    """The rows `VaDE.encode` pads a batch of `rows` rows to.

    The next power of two at or above `rows` (at least `MIN_PADDED_ROWS`),
    capped at `batch_size`: the encoder's function then sees at most
    log2(batch_size) + 1 shapes, however many sizes it is called with.

    Args:
        rows: int >= 1, the batch's rows.
        batch_size: int >= `rows`, the largest batch.

    Returns:
        int in `[rows, batch_size]`.
    """
    bucket = max(MIN_PADDED_ROWS, 1 << max(rows - 1, 0).bit_length())
    return max(rows, min(bucket, batch_size))


def _batches_itself(x, y, fit_kwargs):
    """Whether `VaDE.fit` feeds array `x` through `datasets.epoch_batches`:
    a shuffled array with nothing Keras's adapter must split or carry
    along (targets, sample weights, a validation split, a step count)."""
    return (
        isinstance(x, np.ndarray)
        and y is None
        and fit_kwargs.get("shuffle", True) is True
        and fit_kwargs.get("sample_weight") is None
        and not fit_kwargs.get("validation_split")
        and fit_kwargs.get("steps_per_epoch") is None
    )


def _placeholder_targets(x, y, sample_weight):
    """Zeros standing in for `y` when only sample weights are given.

    Keras drops `sample_weight` from the batches when `y` is `None`; VaDE
    needs no targets, so ignored zeros keep the weights in the batches.
    """
    if y is None and sample_weight is not None and isinstance(x, np.ndarray):
        return np.zeros((len(x),), dtype="float32")
    return y
