"""What `VaDE.fit`, `evaluate` and `predict` hand to Keras: checked inputs,
VaDE's own batch order and the callbacks every fit gets.

`fit_arguments` turns the user's `fit` call into Keras's: array inputs are
checked (`vade_tf.validation`), a shuffled array goes through
`vade_tf.training.batches.shuffled_epochs` (a stateless shuffle per epoch
from the model's seed, one pass per epoch) instead of Keras's array adapter,
which was slower per epoch and far less steady on a 2-core CPU
(docs/performance.md), and the callbacks every fit needs are added: the
stop on a loss that is not finite and a progress bar that counts steps as
VaDE runs them.
"""

import keras
import numpy as np
import tensorflow as tf

from vade_tf import validation
from vade_tf.training import batches, compilation, distribute, recipes
from vade_tf.training import callbacks as vade_callbacks

# Keras's own default batch size, used when `fit` is given none.
DEFAULT_BATCH_SIZE = 32
# Training steps per call of the compiled step function (`VaDE.compile`'s
# default): on a 2-core CPU the fixed cost of a call was a tenth to a sixth
# of a batch-100 step (docs/performance.md, "Steps per call").
STEPS_PER_EXECUTION = 32
# `compile` arguments that `model.save` keeps (plain values).
SAVED_COMPILE_ARGS = ("steps_per_execution", "run_eagerly", "auto_scale_loss")


def fit_arguments(model, x, y, validation_data, kwargs):
    """The arguments of `keras.Model.fit` for `VaDE.fit(x, y, ...)`.

    Args:
        model: a `vade_tf.VaDE`.
        x: an array, a `tf.data.Dataset` or another input Keras takes.
        y: `None` (VaDE needs no targets) or ignored targets.
        validation_data: as for `keras.Model.fit`.
        kwargs: dict of the other `fit` arguments (not changed).

    Returns:
        Tuple `(x, y, validation_data, kwargs)` for `keras.Model.fit`.
    """
    kwargs = dict(kwargs)
    x = validation.check_model_input(model, x, clusters=True)
    y = placeholder_targets(x, y, kwargs.get("sample_weight"))
    callbacks = list(kwargs.get("callbacks") or [])
    if isinstance(x, tf.data.Dataset):
        # A dataset shuffles itself (`vade_tf.data.streaming.stream` does);
        # Keras would only warn that it ignores `shuffle`.
        kwargs.setdefault("shuffle", False)
    if batches_itself(x, y, kwargs):
        batch_size = kwargs.pop("batch_size", None) or DEFAULT_BATCH_SIZE
        kwargs["shuffle"] = False  # the pipeline shuffles
        x, epoch_callback = batches.shuffled_epochs(
            x,
            batch_size,
            batches.batch_order_seed(model.seed),
            kwargs.get("initial_epoch", 0),
        )
        callbacks.insert(0, epoch_callback)
    if not _has(callbacks, vade_callbacks.StopOnNonFiniteLoss):
        callbacks.append(vade_callbacks.StopOnNonFiniteLoss())
    if kwargs.get("verbose", "auto") != 0 and not _has(
        callbacks, keras.callbacks.ProgbarLogger
    ):
        callbacks.append(vade_callbacks.StepProgbar())
    kwargs["callbacks"] = callbacks
    return x, y, checked_validation_data(model, validation_data), kwargs


def checked_validation_data(model, validation_data):
    """`validation_data` with its array checked (and sample weights kept
    when it has no targets)."""
    if isinstance(validation_data, (tuple, list)):
        x_val = validation.check_model_input(
            model, validation_data[0], "validation_data"
        )
        rest = list(validation_data[1:])
        if len(rest) == 2:
            # (x_val, None, weights): Keras would drop the weights.
            rest[0] = placeholder_targets(x_val, rest[0], rest[1])
        return (x_val, *rest)
    return validation.check_model_input(
        model, validation_data, "validation_data"
    )


def batches_itself(x, y, fit_kwargs):
    """Whether `VaDE.fit` feeds array `x` through `batches.epoch_batches`:
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


def placeholder_targets(x, y, sample_weight):
    """Zeros standing in for `y` when only sample weights are given.

    Keras drops `sample_weight` from the batches when `y` is `None`; VaDE
    needs no targets, so ignored zeros keep the weights in the batches.
    """
    if y is None and sample_weight is not None and isinstance(x, np.ndarray):
        return np.zeros((len(x),), dtype="float32")
    return y


def _has(callbacks, kind):
    return any(isinstance(callback, kind) for callback in callbacks)


def optimizer_pair(optimizer, mixture_optimizer, compile_kwargs):
    """The two optimizers of `VaDE.compile`, defaults filled in, and its
    other arguments checked.

    Args:
        optimizer, mixture_optimizer: optimizers, their names or `None` for the
            "original" recipe's `Adam(0.002, epsilon=1e-4)`.
        compile_kwargs: dict of the other `compile` arguments; an old
            `gmm_optimizer` is taken out of it as `mixture_optimizer`.

    Returns:
        Tuple of two distinct `keras.optimizers.Optimizer`s.
    """
    for unused in ("metrics", "weighted_metrics"):
        if compile_kwargs.get(unused) is not None:
            raise ValueError(
                f"VaDE logs its own loss terms and takes no `{unused}`. "
                f"Received: {unused}={compile_kwargs[unused]!r}. Use "
                "vade_tf.training.callbacks.ClusteringMetrics for clustering "
                "scores."
            )
    if compile_kwargs.get("loss") is not None:
        raise ValueError(
            "VaDE trains on its own ELBO and takes no `loss`. Received: "
            f"loss={compile_kwargs['loss']!r}. Use `alpha` or `likelihood` "
            "in the constructor to change the reconstruction term."
        )
    if "gmm_optimizer" in compile_kwargs:  # its name before the rename
        if mixture_optimizer is not None:
            raise TypeError(
                "gmm_optimizer is the old name of mixture_optimizer; give "
                "only one of them."
            )
        mixture_optimizer = compile_kwargs.pop("gmm_optimizer")
    default, default_mixture = recipes.ORIGINAL.optimizers()
    optimizer = keras.optimizers.get(optimizer or default)
    mixture_optimizer = keras.optimizers.get(
        mixture_optimizer or default_mixture
    )
    if optimizer is mixture_optimizer:
        raise ValueError(
            "`optimizer` and `mixture_optimizer` must be two different "
            "optimizer objects: each is built on its own variables."
        )
    return optimizer, mixture_optimizer


def default_steps_per_execution():
    """`STEPS_PER_EXECUTION`, or 1 where several steps per call are not
    supported (more than one replica in sync)."""
    return STEPS_PER_EXECUTION if distribute.multi_step_supported() else 1


def compile_config(optimizer, mixture_optimizer, **compile_kwargs):
    """What `VaDE.get_compile_config` saves: both optimizers and the plain
    `compile` arguments, for `compile_arguments` to rebuild them."""
    return {
        "optimizer": keras.optimizers.serialize(optimizer),
        "mixture_optimizer": keras.optimizers.serialize(mixture_optimizer),
        "jit_compile": compile_kwargs.get("jit_compile"),
        "steps_per_execution": compile_kwargs.get("steps_per_execution"),
        **{
            key: value
            for key, value in compile_kwargs.items()
            if key in SAVED_COMPILE_ARGS
        },
    }


def compile_arguments(config):
    """`VaDE.compile`'s arguments from a saved `compile_config`."""
    extra = {key: config[key] for key in SAVED_COMPILE_ARGS if key in config}
    return {
        "optimizer": keras.optimizers.deserialize(config["optimizer"]),
        "mixture_optimizer": keras.optimizers.deserialize(
            # "gmm_optimizer": the key of files saved before the rename
            config.get("mixture_optimizer", config.get("gmm_optimizer"))
        ),
        "jit_compile": config.get("jit_compile", compilation.JIT_COMPILE),
        **extra,
    }
