"""Autoencoder pretraining and its weight files.

VaDE starts from a deterministic autoencoder (encoder -> z_mean -> decoder)
and a Gaussian mixture fitted on its latent means
(`vade_tf.training.latent_mixture`);
without them training collapses into one cluster.

Weight files are HDF5 in the layout of the original release (Keras 1/2
`save_weights`): a root attribute `layer_names`, one group per Dense layer
with an attribute `weight_names` listing its kernel W of shape (in, out) and
bias b. The layers are named `encoder1..n+1` (the last is the latent mean)
and `decoder1..n+1`, so this project's files and the original
`ae_<dataset>_weights.h5` load through the same code, by name.
"""

import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from vade_tf import choices, validation
from vade_tf.data import datasets
from vade_tf.data.augmentation import image_augmentation
from vade_tf.training import batches, compilation, distribute, weights
from vade_tf.training.recipes import (
    PRETRAIN_BATCH_SIZES,
    resolve_pretrain_recipe,
)

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
    average over workers (`vade_tf.training.distribute.reducible_logs`),
    are what `fit` needs under `MultiWorkerMirroredStrategy`, whose first batch
    Keras reduces across the workers, which it cannot do for a tuple.
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
        return distribute.reducible_logs(super().train_step(data))

    def test_step(self, data):
        return distribute.reducible_logs(super().test_step(data))


RECIPES = choices.PRETRAIN_RECIPES


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
            "batch_size": PRETRAIN_BATCH_SIZES[recipe],
            "initializer": None,
            "augment": False,
        }
    if recipe == "dec":
        return {
            "optimizer": keras.optimizers.SGD(learning_rate=1.0, momentum=0.9),
            "batch_size": PRETRAIN_BATCH_SIZES[recipe],
            "initializer": _dec_initializer(),
            "augment": False,
        }
    if recipe == "counts":
        return {
            "optimizer": keras.optimizers.Adam(learning_rate=1e-3),
            "batch_size": PRETRAIN_BATCH_SIZES[recipe],
            "initializer": None,
            "augment": False,
        }
    if recipe == "augment":
        return {
            "optimizer": keras.optimizers.Adam(learning_rate=1e-3),
            "batch_size": PRETRAIN_BATCH_SIZES[recipe],
            "initializer": _dec_initializer(),
            "augment": True,
        }
    raise ValueError(
        f"Unknown pretraining recipe. Expected one of {RECIPES}. "
        f"Received: recipe={recipe!r}"
    )


def pretraining_schedule(schedule, learning_rate, steps):
    """The autoencoder's learning rate over `steps` pretraining steps.

    - `"constant"`: `learning_rate` throughout.
    - `"cosine"`: a linear warm-up from 0 to `learning_rate` over the first
      5% of the steps, then a cosine decay to 0 at the last step
      (`keras.optimizers.schedules.CosineDecay` with `warmup_target`), the
      shape of one-cycle schedules: a high rate while the autoencoder is
      far from a solution, a small one to settle into it. Measured on MNIST
      (benchmarks/RESULTS_LOG.md, 2026-12-07): 20 cosine epochs did better
      than 20 constant ones with one seed, but started two of three seeds
      lower than the default 40 constant epochs; not a default.

    Args:
        schedule: one of `vade_tf.choices.PRETRAIN_SCHEDULES`.
        learning_rate: float > 0, the rate (the peak for `"cosine"`).
        steps: int >= 1, the optimizer steps of the whole pretraining.

    Returns:
        A float or a `keras.optimizers.schedules.LearningRateSchedule`.
    """
    validation.check_choice(schedule, "schedule", choices.PRETRAIN_SCHEDULES)
    learning_rate = validation.check_positive_float(
        learning_rate, "learning_rate"
    )
    if schedule == "constant":
        return learning_rate
    steps = validation.check_int(steps, "steps", 1)
    warmup = steps // 20
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, steps - warmup),
        warmup_target=learning_rate,
        warmup_steps=warmup,
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
        for layer in weights.autoencoder_layers(model).values()
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
        likelihood: a `vade_tf.model.likelihoods.Likelihood`.
        input_dim: int.

    Returns:
        A function `(x, outputs) -> (batch,)`.
    """

    def reconstruction(x, outputs):
        return likelihood.negative_log_likelihood(x, outputs) / input_dim

    return reconstruction


def shuffled_batches(
    x, batch_size, seed, epochs, augmentation=None, scaling=None
):
    """The batches pretraining feeds the autoencoder (`Autoencoder` takes
    each batch as its own target).

    In the order of `batches.epoch_batches` (a stateless shuffle per epoch
    from `seed`, independent of TensorFlow's global generator). With
    `augmentation`, each batch is an augmented copy of the images,
    standardised afterwards by `scaling` if given.

    Args:
        x: float32 array `(n_samples, input_dim)`.
        batch_size: int >= 1.
        seed: int, the batch order's seed.
        epochs: int >= 1.
        augmentation: `None`, or a Keras layer or model called with
            `training=True` on each batch (`image_augmentation`).
        scaling: `None`, or the model's `layers.Standardize`.

    Returns:
        A `tf.data.Dataset` of `(batch, input_dim)` float32 tensors.
    """
    data = batches.epoch_batches(x, batch_size, seed, epochs=epochs)
    if augmentation is None:
        return data

    def augmented(batch):
        batch = augmentation(batch, training=True)
        return batch if scaling is None else scaling(batch)

    return data.map(augmented)


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
    learning_rate=None,
    schedule="constant",
    **fit_kwargs,
):
    """Trains `model`'s encoder (to z_mean) and decoder as an autoencoder.

    Args:
        model: a `vade_tf.VaDE`.
        x: array of shape `(n_samples, input_dim)`.
        epochs: int.
        batch_size: int; default the recipe's.
        optimizer: a Keras optimizer or name; default the recipe's, at
            `learning_rate` on `schedule`.
        loss: a Keras loss on x_hat; default the likelihood's own
            reconstruction term (`likelihood_loss`): binary cross-entropy
            for bernoulli, mean squared error for gaussian.
        noise: float, input dropout rate (denoising); 0 turns it off.
        recipe: one of `RECIPES`, see `recipe_settings`.
        jit_compile: True, False or "auto"
            (`vade_tf.training.compilation.resolve`: XLA but for a bfloat16
            network on a CPU with AMX); off anyway under a strategy with
            several replicas.
        augment: `None` (the recipe's choice), `False`, `True` (rotations
            up to 10 degrees, shifts up to 10%) or a dict of
            `image_augmentation` keyword arguments. The autoencoder then
            reconstructs augmented copies of the images.
        image_shape: `(height, width[, channels])` of the images when
            augmenting; by default a square `(side, side)` when `input_dim`
            is a square number.
        learning_rate: float > 0, or `None` for the recipe's rate; the peak
            rate with the cosine schedule. Only with the recipe's optimizer.
        schedule: one of `vade_tf.choices.PRETRAIN_SCHEDULES`, see
            `pretraining_schedule`. Only with the recipe's optimizer.
        **fit_kwargs: passed to `fit` (`verbose`, `callbacks`, `shuffle`,
            `validation_split`, ...; augmented data are always shuffled and
            take no `validation_split`). `validation_data` is in the data's
            units, like `x`, and is standardised as `x` is.

    Returns:
        The `History` of the fit.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1). Received: noise={noise}")
    validation.check_choice(schedule, "schedule", choices.PRETRAIN_SCHEDULES)
    if optimizer is not None and (
        learning_rate is not None or schedule != "constant"
    ):
        raise ValueError(
            "learning_rate and schedule set the recipe's optimizer; with "
            "your own optimizer, give it its rate or schedule. Received: "
            f"optimizer={optimizer!r}, learning_rate={learning_rate!r}, "
            f"schedule={schedule!r}"
        )
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
    if optimizer is None:
        optimizer = settings["optimizer"]
        if learning_rate is not None or schedule != "constant":
            config = optimizer.get_config()
            # Keras trains on the first ceil((1 - split) * n) rows.
            rows = math.ceil(
                len(x) * (1.0 - fit_kwargs.get("validation_split", 0.0))
            )
            config["learning_rate"] = pretraining_schedule(
                schedule,
                learning_rate or config["learning_rate"],
                epochs * math.ceil(rows / batch_size),
            )
            optimizer = optimizer.__class__.from_config(config)
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
        optimizer=optimizer,
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
        data = shuffled_batches(
            np.asarray(x, dtype="float32"),
            batch_size,
            batches.batch_order_seed(model.seed),
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
        data = shuffled_batches(
            x, batch_size, batches.batch_order_seed(model.seed), epochs
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


def pretrain_or_load(
    model,
    x,
    recipe,
    *,
    pretrained,
    image_shape,
    pretrain_callbacks,
    jit_compile,
    verbose,
):
    """Step 1 of the workflow: pretrains the autoencoder, or takes
    `pretrained`'s (a weights file, or a `vade_tf.VaDE` of the same shape).

    Args:
        model: a `vade_tf.VaDE`.
        x: checked array of shape `(n_samples, input_dim)`.
        recipe: a `vade_tf.training.recipes.Recipe`.
        pretrained, image_shape, pretrain_callbacks, jit_compile, verbose:
            see `vade_tf.workflow.train`.

    Returns:
        Tuple `(pretrain_recipe or None, history dict, seconds)`.
    """
    if pretrained is not None and not isinstance(
        pretrained, (str, os.PathLike)
    ):
        weights.copy_autoencoder(pretrained, model)  # a pretrained VaDE
        return None, {}, 0.0
    if pretrained is not None:
        model.load_pretrained_weights(pretrained)
        return None, {}, 0.0
    if not recipe.pretrain_epochs:
        return None, {}, 0.0
    started = time.perf_counter()
    pretrain_recipe = resolve_pretrain_recipe(
        recipe, image_shape, model.likelihood
    )
    history = model.pretrain(
        x,
        epochs=recipe.pretrain_epochs,
        batch_size=recipe.pretrain_batch_size,
        recipe=pretrain_recipe,
        image_shape=image_shape,
        learning_rate=recipe.pretrain_learning_rate,
        schedule=recipe.pretrain_schedule,
        noise=recipe.noise,
        jit_compile=jit_compile,
        verbose=verbose,
        callbacks=list(pretrain_callbacks),
    ).history
    return pretrain_recipe, history, time.perf_counter() - started
