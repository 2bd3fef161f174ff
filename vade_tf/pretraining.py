"""Autoencoder pretraining, its weight files, and the latent mixture fit.

VaDE starts from a deterministic autoencoder (encoder -> z_mean -> decoder)
and a Gaussian mixture fitted on its latent means; without them training
collapses into one cluster.

Weight files are HDF5 in the layout of the original release (Keras 1/2
`save_weights`): a root attribute `layer_names`, one group per Dense layer
with an attribute `weight_names` listing its kernel W of shape (in, out) and
bias b. The layers are named `encoder1..n+1` (the last is the latent mean)
and `decoder1..n+1`, so this project's files and the original
`ae_<dataset>_weights.h5` load through the same code, by name.
"""

import json
import os

import h5py
import keras
import numpy as np

from vade_tf import fileio

FORMAT_VERSION = 1


# =============================================================================
# Pretraining
# =============================================================================


def build_autoencoder(model, noise=0.0, raw_outputs=False):
    """The deterministic autoencoder x -> z_mean -> x_hat on `model`'s layers.

    Args:
        model: a `vade_tf.VaDE`.
        noise: float in [0, 1), the rate of input dropout (masking noise of
            a denoising autoencoder), active only in training.
        raw_outputs: bool; False outputs x_hat, the mean of p(x|z); True the
            decoder's raw outputs before the likelihood's activation (the
            logits for bernoulli), which the likelihood's loss takes.

    Returns:
        A functional `keras.Model` from `(batch, input_dim)` to
        `(batch, input_dim)`.
    """
    inputs = keras.Input(shape=(model.input_dim,), name="x")
    hidden = inputs
    if noise:
        hidden = keras.layers.Dropout(noise, seed=model.seed, name="noise")(
            hidden
        )
    # Only the layers on the path to z_mean: the log-variance head takes no
    # part in the deterministic autoencoder.
    for index in range(1, len(model.hidden_dims) + 1):
        hidden = model.encoder.get_layer(f"encoder{index}")(hidden)
    z_mean = model.encoder.get_layer("z_mean")(hidden)
    if raw_outputs:
        outputs = model.decoder_outputs(z_mean)
    else:
        outputs = model.decoder(z_mean)
    return keras.Model(inputs, outputs, name="autoencoder")


RECIPES = ("adam", "dec")


def recipe_settings(recipe):
    """The optimizer, batch size and initializer of a named pretraining recipe.

    - `"adam"`: `Adam(1e-3)`, batch 64, the model's own initial weights. Quick;
      good on small data such as the 8x8 digits.
    - `"dec"`: the end-to-end recipe of DEC's widely used Keras port:
      `SGD(learning_rate=1.0, momentum=0.9)`, batch 256, kernels drawn
      from `VarianceScaling(1/3, "fan_in", "uniform")`, run for a few hundred
      epochs. It gives the strong MNIST autoencoders VaDE needs.

    Args:
        recipe: `"adam"` or `"dec"`.

    Returns:
        dict with `optimizer` (a new Keras optimizer), `batch_size` and
        `initializer` (`None` to keep the model's weights).
    """
    if recipe == "adam":
        return {
            "optimizer": keras.optimizers.Adam(learning_rate=1e-3),
            "batch_size": 64,
            "initializer": None,
        }
    if recipe == "dec":
        return {
            "optimizer": keras.optimizers.SGD(learning_rate=1.0, momentum=0.9),
            "batch_size": 256,
            "initializer": keras.initializers.VarianceScaling(
                scale=1.0 / 3.0, mode="fan_in", distribution="uniform"
            ),
        }
    raise ValueError(
        f"Unknown pretraining recipe. Expected one of {RECIPES}. "
        f"Received: recipe={recipe!r}"
    )


def reinitialize_autoencoder(model, initializer, seed=None):
    """Draws fresh kernels (and zero biases) for every autoencoder layer.

    Args:
        model: a `vade_tf.VaDE`.
        initializer: a Keras initializer (its seed is replaced by `seed`).
        seed: int or `None`.
    """
    config = keras.initializers.serialize(initializer)
    for index, layer in enumerate(autoencoder_layers(model).values()):
        fresh = keras.initializers.deserialize(config)
        if hasattr(fresh, "seed"):
            fresh.seed = None if seed is None else seed + index
        kernel, bias = layer.kernel, layer.bias
        kernel.assign(fresh(kernel.shape))
        bias.assign(keras.ops.zeros(bias.shape))


def likelihood_loss(likelihood, input_dim):
    """The likelihood's reconstruction term per feature, as a Keras loss.

    `-log p(x|z) / input_dim` on the decoder's raw outputs: binary
    cross-entropy (from logits) for bernoulli, mean squared error for
    gaussian, and whatever a custom `Likelihood` defines, so pretraining
    optimises the same reconstruction term as VaDE.

    Args:
        likelihood: a `vade_tf.losses.Likelihood`.
        input_dim: int.

    Returns:
        A function `(x, outputs) -> (batch,)`.
    """

    def reconstruction(x, outputs):
        return likelihood.negative_log_likelihood(x, outputs) / input_dim

    return reconstruction


def pretrain_autoencoder(
    model,
    x,
    epochs=50,
    batch_size=None,
    optimizer=None,
    loss=None,
    noise=0.0,
    recipe="adam",
    jit_compile=True,
    **fit_kwargs,
):
    """Trains `model`'s encoder (to z_mean) and decoder as an autoencoder.

    Args:
        model: a `vade_tf.VaDE`.
        x: array of shape `(n_samples, input_dim)`.
        epochs: int.
        batch_size: int; default the recipe's.
        optimizer: a Keras optimizer or name; default the recipe's.
        loss: a Keras loss on x_hat; default the likelihood's own
            reconstruction term (`likelihood_loss`): binary cross-entropy
            for bernoulli, mean squared error for gaussian.
        noise: float, input dropout rate (denoising); 0 turns it off.
        recipe: `"adam"` or `"dec"`, see `recipe_settings`.
        jit_compile: bool, compile with XLA.
        **fit_kwargs: passed to `fit` (`verbose`, `callbacks`, `shuffle`,
            `validation_split`, ...).

    Returns:
        The `History` of the fit.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1). Received: noise={noise}")
    settings = recipe_settings(recipe)
    if settings["initializer"] is not None:
        reinitialize_autoencoder(model, settings["initializer"], model.seed)
    # The default loss is the likelihood's own, on the raw outputs; a
    # user's `loss` gets x_hat, the mean of p(x|z), as Keras losses expect.
    autoencoder = build_autoencoder(
        model, noise=noise, raw_outputs=loss is None
    )
    autoencoder.compile(
        optimizer=optimizer or settings["optimizer"],
        loss=loss or likelihood_loss(model.likelihood, model.input_dim),
        jit_compile=jit_compile,
    )
    return autoencoder.fit(
        x,
        x,
        epochs=epochs,
        batch_size=batch_size or settings["batch_size"],
        **fit_kwargs,
    )


# =============================================================================
# The latent mixture
# =============================================================================


def fit_latent_mixture(
    z, n_clusters, method="gmm", random_state=None, n_init=1
):
    """Fits a mixture on latent means for VaDE's prior.

    Args:
        z: array of shape `(n_samples, latent_dim)`.
        n_clusters: int.
        method: `"gmm"` (diagonal GaussianMixture) or `"kmeans"`.
        random_state: int or `None`.
        n_init: int.

    Returns:
        Tuple `(estimator, weights (K,), means (K, D), variances (K, D))`.
    """
    from sklearn import cluster, mixture

    if method == "gmm":
        estimator = mixture.GaussianMixture(
            n_components=n_clusters,
            covariance_type="diag",
            random_state=random_state,
            n_init=n_init,
        ).fit(z)
        return (
            estimator,
            estimator.weights_,
            estimator.means_,
            estimator.covariances_,
        )
    if method == "kmeans":
        estimator = cluster.KMeans(
            n_clusters=n_clusters, random_state=random_state, n_init=n_init
        ).fit(z)
        labels = estimator.labels_
        weights = np.bincount(labels, minlength=n_clusters) / len(labels)
        variances = np.ones((n_clusters, z.shape[1]))
        for k in range(n_clusters):
            members = z[labels == k]
            if len(members) > 1:
                variances[k] = members.var(axis=0) + 1e-6
        return estimator, weights, estimator.cluster_centers_, variances
    raise ValueError(
        f"method must be 'gmm' or 'kmeans'. Received: method={method!r}"
    )


# =============================================================================
# Weight files
# =============================================================================


def autoencoder_layers(model):
    """Maps each file layer name to the model's Dense layer, in file order.

    Args:
        model: a `vade_tf.VaDE`.

    Returns:
        dict `{file_name: keras.layers.Dense}`: `encoder1..n` are the hidden
        encoder layers, `encoder{n+1}` the `z_mean` head, `decoder1..n+1`
        the decoder.
    """
    n_hidden = len(model.hidden_dims)
    layers = {}
    for index in range(1, n_hidden + 1):
        layers[f"encoder{index}"] = model.encoder.get_layer(f"encoder{index}")
    layers[f"encoder{n_hidden + 1}"] = model.encoder.get_layer("z_mean")
    for index in range(1, n_hidden + 2):
        layers[f"decoder{index}"] = model.decoder.get_layer(f"decoder{index}")
    return layers


def save_autoencoder_weights(model, path, overwrite=False, metadata=None):
    """Writes the autoencoder's weights to an HDF5 file, atomically.

    Args:
        model: a `vade_tf.VaDE`.
        path: str, should end in `.weights.h5`.
        overwrite: bool; an existing file is kept unless True.
        metadata: dict or `None`, stored as a JSON root attribute.
    """
    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(
            "Pretrained weight files are HDF5 and must end in '.weights.h5'. "
            f"Received: path={path!r}"
        )
    layers = autoencoder_layers(model)
    with fileio.atomic_output(path, overwrite=overwrite) as temporary:
        with h5py.File(temporary, "w") as handle:
            handle.attrs["layer_names"] = np.array(
                [name.encode("utf8") for name in layers]
            )
            handle.attrs["vade_tf_format"] = FORMAT_VERSION
            handle.attrs["vade_tf_config"] = json.dumps(
                {
                    "input_dim": model.input_dim,
                    "latent_dim": model.latent_dim,
                    "hidden_dims": list(model.hidden_dims),
                    "likelihood": model.likelihood.name,
                }
            )
            if metadata:
                handle.attrs["metadata"] = json.dumps(metadata)
            for name, layer in layers.items():
                group = handle.create_group(name)
                weight_names = [f"{name}_W", f"{name}_b"]
                group.attrs["weight_names"] = np.array(
                    [weight.encode("utf8") for weight in weight_names]
                )
                kernel, bias = layer.get_weights()
                group.create_dataset(weight_names[0], data=kernel)
                group.create_dataset(weight_names[1], data=bias)


def _resolve_weights_path(path):
    path = os.fspath(path)
    if path.endswith(".json"):
        # The original release: ae_<dataset>.json beside ae_<dataset>_weights.h5
        path = path[: -len(".json")] + "_weights.h5"
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No weights file at {os.path.abspath(path)}. Expected a file "
            "written by save_pretrained_weights (*.weights.h5) or the "
            "original release's ae_<dataset>_weights.h5 (or its .json)."
        )
    return path


def _decode(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def read_weight_file(path):
    """Reads an HDF5 weight file in the Keras 1/2 layout.

    Args:
        path: str, the `.h5` file, or the original release's `.json`.

    Returns:
        dict `{layer_name: [numpy arrays in weight_names order]}`.
    """
    path = _resolve_weights_path(path)
    weights = {}
    with h5py.File(path, "r") as handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        if "layer_names" not in root.attrs:
            raise ValueError(
                f"{path} is not a Keras 1/2 style weight file: it has no "
                "'layer_names' attribute. Expected a file written by "
                "save_pretrained_weights or the original VaDE release."
            )
        for layer_name in root.attrs["layer_names"]:
            layer_name = _decode(layer_name)
            group = root[layer_name]
            names = [_decode(n) for n in group.attrs.get("weight_names", [])]
            weights[layer_name] = [np.asarray(group[n]) for n in names]
    return weights


def load_autoencoder_weights(model, path):
    """Loads autoencoder weights into `model` by layer name.

    Every layer and shape is checked before any weight is assigned, so a
    mismatched file leaves the model as it was.

    Args:
        model: a `vade_tf.VaDE`.
        path: str, a `.weights.h5` file of this project, or the original
            release's `ae_<dataset>_weights.h5` / `ae_<dataset>.json`.
    """
    stored = read_weight_file(path)
    with h5py.File(_resolve_weights_path(path), "r") as handle:
        saved_config = json.loads(handle.attrs.get("vade_tf_config", "{}"))
    saved_likelihood = saved_config.get("likelihood")
    if saved_likelihood and saved_likelihood != model.likelihood.name:
        raise ValueError(
            f"{path} holds a {saved_likelihood} autoencoder (decoder output "
            f"for that likelihood), but the model's likelihood is "
            f"{model.likelihood.name!r}. Build the model with "
            f"likelihood={saved_likelihood!r} or pretrain a new autoencoder."
        )
    layers = autoencoder_layers(model)
    assignments = []
    for name, layer in layers.items():
        if name not in stored:
            raise ValueError(
                f"The weights file {path} has no layer '{name}' (it has "
                f"{sorted(stored)}); the model needs {list(layers)}."
            )
        expected = [tuple(w.shape) for w in layer.weights]
        received = [tuple(w.shape) for w in stored[name]]
        if expected != received:
            raise ValueError(
                f"Layer '{name}' in {path} has weight shapes {received}, "
                f"but the model expects {expected}. Check input_dim, "
                "hidden_dims and latent_dim against the file."
            )
        assignments.append((layer, stored[name]))
    for layer, values in assignments:
        layer.set_weights(values)
