"""The autoencoder's weight files: this project's HDF5 and the original
release's Keras 1 files, read and written by layer name; and the copy of
one model's autoencoder into another of the same shape.
"""

import json
import os

import h5py
import keras
import numpy as np

from vade_tf import fileio

# The name of the decoder's `SharedParameters` layer: the weight files,
# `vade_tf.model.networks` and `VaDE.decoder_outputs` find it by this name.
LIKELIHOOD_PARAMETERS = "likelihood_parameters"

FORMAT_VERSION = 1


def autoencoder_layers(model):
    """Maps each file layer name to the model's layer, in file order.

    Args:
        model: a `vade_tf.VaDE`.

    Returns:
        dict `{file_name: keras layer}`: `encoder1..n` are the hidden
        encoder layers, `encoder{n+1}` the `z_mean` head, `decoder1..n+1`
        the decoder (all Dense), then `likelihood_parameters` for a
        likelihood with free parameters (the count likelihoods'
        dispersion), which pretraining trains too.
    """
    n_hidden = len(model.hidden_dims)
    layers = {}
    for index in range(1, n_hidden + 1):
        layers[f"encoder{index}"] = model.encoder.get_layer(f"encoder{index}")
    layers[f"encoder{n_hidden + 1}"] = model.encoder.get_layer("z_mean")
    for index in range(1, n_hidden + 2):
        layers[f"decoder{index}"] = model.decoder.get_layer(f"decoder{index}")
    if model.likelihood.shared_parameters(model.n_clusters):
        name = LIKELIHOOD_PARAMETERS
        layers[name] = model.decoder.get_layer(name)
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
                    "likelihood_config": model.likelihood.get_config(),
                }
            )
            if metadata:
                handle.attrs["metadata"] = json.dumps(metadata)
            for name, layer in layers.items():
                group = handle.create_group(name)
                values = layer.get_weights()
                # Dense layers as the original release names them.
                weight_names = (
                    [f"{name}_W", f"{name}_b"]
                    if isinstance(layer, keras.layers.Dense)
                    else [f"{name}_{index}" for index in range(len(values))]
                )
                group.attrs["weight_names"] = np.array(
                    [weight.encode("utf8") for weight in weight_names]
                )
                for weight_name, value in zip(weight_names, values):
                    group.create_dataset(weight_name, data=value)


def copy_autoencoder(source, target):
    """Copies the autoencoder and the input scaling of one model to another.

    The two models share the architecture (input, hidden and latent sizes,
    likelihood) and may differ in K: this is how a model with a chosen K
    takes the autoencoder pretrained before K was chosen
    (`vade_tf.workflow.choose_n_clusters`). Every shape is checked before
    any weight is assigned.

    Args:
        source: a pretrained `vade_tf.VaDE`.
        target: a `vade_tf.VaDE` of the same architecture.
    """
    pairs = [(source.input_scaling, target.input_scaling)]
    target_layers = autoencoder_layers(target)
    source_layers = autoencoder_layers(source)
    if list(source_layers) != list(target_layers):
        raise ValueError(
            f"The models' autoencoders differ: {list(source_layers)} against "
            f"{list(target_layers)}."
        )
    pairs += [
        (source_layers[name], target_layers[name]) for name in target_layers
    ]
    values = []
    for from_layer, to_layer in pairs:
        weights = from_layer.get_weights()
        expected = [tuple(w.shape) for w in to_layer.weights]
        if [tuple(w.shape) for w in weights] != expected:
            raise ValueError(
                f"Layer '{to_layer.name}' has weight shapes {expected}, the "
                f"source model's {[tuple(w.shape) for w in weights]}: the "
                "models must share input_dim, hidden_dims and latent_dim."
            )
        values.append((to_layer, weights))
    for layer, weights in values:
        layer.set_weights(weights)


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
    with _open_weights(path) as handle:
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


def _open_weights(path):
    """`h5py.File(path, "r")`, with an error naming the file if it is not
    a readable HDF5 file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No weights file at {os.path.abspath(path)}.")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ValueError(
            f"{path} is not a readable HDF5 weights file (truncated or "
            f"corrupted?): {error}"
        ) from None


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
    with _open_weights(_resolve_weights_path(path)) as handle:
        saved_config = json.loads(handle.attrs.get("vade_tf_config", "{}"))
    saved_likelihood = saved_config.get("likelihood")
    if saved_likelihood and saved_likelihood != model.likelihood.name:
        raise ValueError(
            f"{path} holds a {saved_likelihood} autoencoder (decoder output "
            f"for that likelihood), but the model's likelihood is "
            f"{model.likelihood.name!r}. Build the model with "
            f"likelihood={saved_likelihood!r} or pretrain a new autoencoder."
        )
    saved_settings = saved_config.get("likelihood_config")
    if saved_settings is not None and saved_settings != (
        model.likelihood.get_config()
    ):
        raise ValueError(
            f"{path} holds an autoencoder for the {saved_likelihood} "
            f"likelihood with settings {saved_settings}, but the model's "
            f"are {model.likelihood.get_config()}. Build the model with the "
            "file's settings or pretrain a new autoencoder."
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
