"""Autoencoder pretraining and its weight files.

VaDE starts from a deterministic autoencoder (encoder -> z_mean -> decoder)
and a Gaussian mixture fitted on its latent means (`vade_tf.mixture`);
without them training collapses into one cluster.

Weight files are HDF5 in the layout of the original release (Keras 1/2
`save_weights`): a root attribute `layer_names`, one group per Dense layer
with an attribute `weight_names` listing its kernel W of shape (in, out) and
bias b. The layers are named `encoder1..n+1` (the last is the latent mean)
and `decoder1..n+1`, so this project's files and the original
`ae_<dataset>_weights.h5` load through the same code, by name.
"""

import json
import math
import os

import h5py
import keras
import numpy as np
import tensorflow as tf

from vade_tf import compilation, datasets, distribution, fileio, options
from vade_tf import layers as vade_layers

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
        An `Autoencoder` (a functional `keras.Model`) from
        `(batch, input_dim)` to `(batch, input_dim)`.
    """
    inputs = keras.Input(shape=(model.input_dim,), name="x")
    # What the encoder sees (log1p of counts; else the data themselves).
    hidden = model.likelihood.encoder_input(inputs)
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
    return Autoencoder(inputs, outputs, name="autoencoder")


@keras.saving.register_keras_serializable(package="vade_tf")
class Autoencoder(keras.Model):
    """A functional model trained to reconstruct its input.

    Batches may be `x` alone (the target is then `x` itself) or `(x, y)`
    as for any Keras model. Batches of `x` alone, and logs that Keras can
    average over workers (`vade_tf.distribution.reducible_logs`), are what
    `fit` needs under `MultiWorkerMirroredStrategy`, whose first batch Keras
    reduces across the workers, which it cannot do for a tuple.
    """

    # A batch of x alone is its own target: for the loss and the metrics
    # (Keras also calls both on symbolic batches while it builds the model).
    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        return super().compute_loss(
            x, x if y is None else y, y_pred, sample_weight, training
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(
            x, x if y is None else y, y_pred, sample_weight
        )

    def train_step(self, data):
        return distribution.reducible_logs(super().train_step(data))

    def test_step(self, data):
        return distribution.reducible_logs(super().test_step(data))


RECIPES = options.PRETRAIN_RECIPES


def _dec_initializer():
    return keras.initializers.VarianceScaling(
        scale=1.0 / 3.0, mode="fan_in", distribution="uniform"
    )


def recipe_settings(recipe):
    """The optimizer, batch size, initializer and augmentation of a recipe.

    - `"adam"`: `Adam(1e-3)`, batch 64, the model's own initial weights. Quick;
      good on small data such as the 8x8 digits.
    - `"dec"`: the end-to-end recipe of DEC's widely used Keras port:
      `SGD(learning_rate=1.0, momentum=0.9)`, batch 256, kernels drawn
      from `VarianceScaling(1/3, "fan_in", "uniform")`, run for a few hundred
      epochs.
    - `"augment"`: for images. The autoencoder reconstructs randomly rotated
      (up to 10 degrees) and shifted (up to 10% of the side) copies of the
      images, as in DEC-DA (Guo et al., ACML 2018): `Adam(1e-3)`, batch
      256, the DEC initializer. The encoder learns to map small
      deformations of a digit close together, which is what makes its
      latent means cluster well (MNIST AE+k-means 0.93 after 40 epochs,
      against 0.77 for "dec" after 200; docs/results.md).
    - `"counts"`: for count data (the `nb` and `zinb` likelihoods): "adam"
      with batches of 256, so an epoch takes a quarter of the steps. On
      small noisy count data the autoencoder's latent means cluster worse
      the longer it fits the counts' noise: on simulated single-cell
      counts (3,000 x 500, 3 seeds) VaDE with the zinb likelihood ends at
      ACC 0.94 to 0.95 after 40 such epochs, against 0.87 to 0.93 after
      40 epochs of "adam" (docs/results.md, "Count data").

    Args:
        recipe: one of `RECIPES`.

    Returns:
        dict with `optimizer` (a new Keras optimizer), `batch_size`,
        `initializer` (`None` to keep the model's weights) and `augment`
        (bool: reconstruct `image_augmentation`'s copies with its defaults).
    """
    if recipe == "adam":
        return {
            "optimizer": keras.optimizers.Adam(learning_rate=1e-3),
            "batch_size": 64,
            "initializer": None,
            "augment": False,
        }
    if recipe == "dec":
        return {
            "optimizer": keras.optimizers.SGD(learning_rate=1.0, momentum=0.9),
            "batch_size": 256,
            "initializer": _dec_initializer(),
            "augment": False,
        }
    if recipe == "counts":
        return {
            "optimizer": keras.optimizers.Adam(learning_rate=1e-3),
            "batch_size": 256,
            "initializer": None,
            "augment": False,
        }
    if recipe == "augment":
        return {
            "optimizer": keras.optimizers.Adam(learning_rate=1e-3),
            "batch_size": 256,
            "initializer": _dec_initializer(),
            "augment": True,
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
    dense = [
        layer
        for layer in autoencoder_layers(model).values()
        if isinstance(layer, keras.layers.Dense)
    ]
    for index, layer in enumerate(dense):
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


def image_augmentation(image_shape, rotation=10.0, shift=0.1, seed=None):
    """Random rotations and shifts of flattened images, as a Keras model.

    Active only in training (call it with `training=True`). Pixels moved in
    from outside the image are 0 and the interpolation is bilinear, so
    images in [0, 1] stay in [0, 1] (Bernoulli targets stay valid).

    Args:
        image_shape: `(height, width)` or `(height, width, channels)` whose
            product is the number of features.
        rotation: float, the largest rotation in degrees (either way).
        shift: float, the largest shift as a fraction of height and width.
        seed: int or `None`.

    Returns:
        A `keras.Sequential` from `(batch, prod(image_shape))` to the same
        shape.
    """
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) == 2:
        image_shape = image_shape + (1,)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(
            "image_shape must be (height, width) or (height, width, "
            f"channels) of positive ints. Received: image_shape={image_shape}"
        )
    if not 0.0 <= rotation < 180.0 or not 0.0 <= shift < 1.0:
        raise ValueError(
            "rotation must be in [0, 180) degrees and shift in [0, 1). "
            f"Received: rotation={rotation}, shift={shift}"
        )
    n_features = int(np.prod(image_shape))
    seeds = (None, None) if seed is None else (seed, seed + 1)
    return keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Reshape(image_shape),
            keras.layers.RandomRotation(
                rotation / 360.0, fill_mode="constant", seed=seeds[0]
            ),
            keras.layers.RandomTranslation(
                shift, shift, fill_mode="constant", seed=seeds[1]
            ),
            keras.layers.Reshape((n_features,)),
        ],
        name="image_augmentation",
    )


def _shuffled_batches(
    x, batch_size, seed, epochs, augmentation=None, scaling=None
):
    """`tf.data` batches of `x` for `epochs` epochs, in the order of
    `datasets.epoch_batches` (a stateless shuffle per epoch from `seed`,
    independent of TensorFlow's global generator), each its own target
    (`Autoencoder`). With `augmentation`, each batch is an augmented copy
    of the images, standardised afterwards by `scaling` (a
    `layers.Standardize`) if given."""
    batches = datasets.epoch_batches(x, batch_size, seed, epochs=epochs)
    if augmentation is None:
        return batches

    def augmented(batch):
        batch = augmentation(batch, training=True)
        return batch if scaling is None else scaling(batch)

    return batches.map(augmented)


def _scaled_validation(validation_data, scaling):
    """`validation_data` of `pretrain_autoencoder` in the space the
    autoencoder trains in: its inputs, and targets if given, standardised
    by `scaling` (a `layers.Standardize`); sample weights kept.

    Args:
        validation_data: `None`, an array `x_val` (its own target), a tuple
            `(x_val[, y_val[, sample_weight]])` of arrays, or a `tf.data`
            dataset of such batches.
        scaling: the model's `layers.Standardize`.

    Returns:
        The same structure, scaled.
    """
    if validation_data is None or scaling.is_identity:
        return validation_data
    if isinstance(validation_data, tf.data.Dataset):

        def scaled(*parts):
            parts = [scaling(part) for part in parts[:2]] + list(parts[2:])
            return parts[0] if len(parts) == 1 else tuple(parts)

        return validation_data.map(scaled)
    if isinstance(validation_data, (tuple, list)):
        return tuple(
            part if index >= 2 or part is None else scaling.transform(part)
            for index, part in enumerate(validation_data)
        )
    return scaling.transform(validation_data)


def pretrain_autoencoder(
    model,
    x,
    epochs=50,
    batch_size=None,
    optimizer=None,
    loss=None,
    noise=0.0,
    recipe="adam",
    jit_compile=compilation.JIT_COMPILE,
    augment=None,
    image_shape=None,
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
        recipe: one of `RECIPES`, see `recipe_settings`.
        jit_compile: True, False or "auto" (`vade_tf.compilation.resolve`:
            XLA but for a bfloat16 network on a CPU with AMX); off anyway
            under a strategy with several replicas.
        augment: `None` (the recipe's choice), `False`, `True` (rotations
            up to 10 degrees, shifts up to 10%) or a dict of
            `image_augmentation` keyword arguments. The autoencoder then
            reconstructs augmented copies of the images.
        image_shape: `(height, width[, channels])` of the images when
            augmenting; by default a square `(side, side)` when `input_dim`
            is a square number.
        **fit_kwargs: passed to `fit` (`verbose`, `callbacks`, `shuffle`,
            `validation_split`, ...; augmented data are always shuffled and
            take no `validation_split`). `validation_data` is in the data's
            units, like `x`, and is standardised as `x` is.

    Returns:
        The `History` of the fit.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1). Received: noise={noise}")
    settings = recipe_settings(recipe)
    augment = settings["augment"] if augment is None else augment
    if isinstance(augment, bool):
        # True: image_augmentation's own defaults.
        augment = {} if augment else None
    elif not isinstance(augment, dict):
        raise ValueError(
            "augment must be None, a bool or a dict of image_augmentation "
            f"arguments. Received: augment={augment!r}"
        )
    if augment is not None:
        image_shape = image_shape or datasets.infer_image_shape(model.input_dim)
        if image_shape is None or int(np.prod(image_shape)) != model.input_dim:
            raise ValueError(
                "Augmented pretraining needs images: pass image_shape "
                "(height, width[, channels]) whose product is input_dim="
                f"{model.input_dim}. Received: image_shape={image_shape}"
            )
        if fit_kwargs.get("validation_split"):
            raise ValueError(
                "validation_split is not available with augmented "
                "pretraining; pass validation_data instead."
            )
        # The batches are reshuffled by the data pipeline itself.
        fit_kwargs["shuffle"] = False
    batch_size = batch_size or settings["batch_size"]
    if "validation_data" in fit_kwargs:
        fit_kwargs["validation_data"] = _scaled_validation(
            fit_kwargs["validation_data"], model.input_scaling
        )
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
        jit_compile=compilation.resolve(
            jit_compile, model.encoder.compute_dtype
        ),
    )
    if augment is not None:
        augmentation = image_augmentation(
            image_shape, seed=model.seed, **augment
        )
        # Augmented in the images' own units, then standardised as the
        # model standardises its input (`VaDE.input_scaling`).
        data = _shuffled_batches(
            np.asarray(x, dtype="float32"),
            batch_size,
            datasets.batch_order_seed(model.seed),
            epochs,
            augmentation,
            None if model.input_scaling.is_identity else model.input_scaling,
        )
        return _converged(
            autoencoder.fit(
                data,
                epochs=epochs,
                steps_per_epoch=math.ceil(len(x) / batch_size),
                **fit_kwargs,
            )
        )
    # The autoencoder works on the data as the model standardises it
    # (`VaDE.input_scaling`, the identity unless adapted).
    x = np.asarray(model.input_scaling.transform(x), dtype="float32")
    if fit_kwargs.get("shuffle", True) is True and not fit_kwargs.get(
        "validation_split"
    ):
        # Batches ordered from the model's seed (steadier and faster than
        # Keras's array adapter, and independent of the global generators).
        fit_kwargs["shuffle"] = False
        data = _shuffled_batches(
            x, batch_size, datasets.batch_order_seed(model.seed), epochs
        )
        return _converged(
            autoencoder.fit(
                data,
                epochs=epochs,
                steps_per_epoch=math.ceil(len(x) / batch_size),
                **fit_kwargs,
            )
        )
    return _converged(
        autoencoder.fit(
            x, x, epochs=epochs, batch_size=batch_size, **fit_kwargs
        )
    )


def _converged(history):
    """`history`, or a `FloatingPointError` when its last loss is not
    finite: pretraining diverged, and nothing after it could work."""
    losses_seen = history.history.get("loss", [])
    if losses_seen and not np.isfinite(losses_seen[-1]):
        raise FloatingPointError(
            "Pretraining diverged: the autoencoder's loss is "
            f"{losses_seen[-1]} after {len(losses_seen)} epochs. Likely "
            "causes: features far from unit scale with no standardisation "
            "(standardise them, or use input_scaling='auto'), or a learning "
            "rate too high."
        )
    return history


# =============================================================================
# Weight files
# =============================================================================


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
        name = vade_layers.LIKELIHOOD_PARAMETERS
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
