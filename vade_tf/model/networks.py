"""VaDE's two networks: the encoder x -> (z_mean, z_log_var) and the
decoder z -> x_hat, with the layer names pretrained weights load by.

Functional Keras models built outside the model class, as in the keras-io
VAE example; `vade_tf.VaDE` builds them from its configuration.
"""

import keras

from vade_tf.model import layers as vade_layers
from vade_tf.model import likelihoods
from vade_tf.training import weights


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
    # variance for every input) and `VaDE.initialize_mixture` scales it to the
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
        likelihood: a `vade_tf.model.likelihoods.Likelihood` or its name.
        kernel_initializer: a Keras initializer or its name; each layer
            gets its own copy (see `layer_initializer`).
        seed: int or `None`, seeds the copies.
        n_clusters: int, K, for likelihoods with parameters per cluster.

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to
        `(batch, input_dim)`.
    """
    likelihood = likelihoods.get_likelihood(likelihood)
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
            rows * input_dim, name=weights.LIKELIHOOD_PARAMETERS
        )(outputs)
    x_hat = likelihood.mean_layer(input_dim, name="x_hat")(outputs)
    return keras.Model(inputs, x_hat, name="decoder")


def build_networks(
    input_dim,
    latent_dim,
    hidden_dims,
    likelihood,
    kernel_initializer,
    seed,
    n_clusters,
):
    """VaDE's encoder, decoder and input scaling (`build_encoder`,
    `build_decoder`, and a `Standardize` layer, the identity until
    `vade_tf.workflow.build_model` or the user adapts it to data).

    Returns:
        Tuple `(encoder, decoder, input_scaling)`.
    """
    encoder = build_encoder(
        input_dim, latent_dim, hidden_dims, kernel_initializer, seed
    )
    decoder = build_decoder(
        input_dim,
        latent_dim,
        hidden_dims,
        likelihood,
        kernel_initializer,
        seed,
        n_clusters,
    )
    scaling = vade_layers.Standardize(input_dim, name="input_scaling")
    return encoder, decoder, scaling
