"""VaDE's epochs: the fit over a recipe's epochs in the run's batch order,
and how far a checkpoint got.
"""

import time

from vade_tf.training import batches
from vade_tf.training import callbacks as vade_callbacks


def attempted_steps(model):
    """The training steps a compiled model has taken, skipped ones included.

    Under "mixed_float16" the network's `LossScaleOptimizer` does not count
    a step it skipped (float16 gradients that overflowed), so its
    `iterations` falls behind the batches seen. The mixture's optimizer is
    float32 and steps on every batch: its count is the one an epoch is
    measured in.

    Args:
        model: a compiled `vade_tf.VaDE`.

    Returns:
        int.
    """
    return int(model.mixture_optimizer.iterations.numpy())


def shuffle_seed(random_state):
    """The seed of the epochs' data order: `random_state`, or 0 for `None`.

    A fixed default keeps `resume` able to repeat the order of a run that
    gave no seed.
    """
    return 0 if random_state is None else int(random_state)


def fit_epochs(
    model,
    x,
    recipe,
    *,
    y,
    shuffle_seed,
    initial_epoch,
    callbacks,
    validation_data,
    verbose,
):
    """`model.fit` for the recipe's epochs from `initial_epoch`; returns the
    history (plain floats) and the seconds it took."""
    epoch_callbacks = [recipe.schedule()]
    if y is not None:
        # First, so that later callbacks (CSV logs, checkpoints) see it.
        epoch_callbacks.insert(0, vade_callbacks.ClusteringMetrics(x, y))
    data, epoch_callback = batches.shuffled_epochs(
        x, recipe.batch_size, shuffle_seed, initial_epoch
    )
    started = time.perf_counter()
    history = model.fit(
        data,
        epochs=recipe.epochs,
        initial_epoch=initial_epoch,
        shuffle=False,  # shuffled_epochs orders each epoch itself
        callbacks=[epoch_callback, *epoch_callbacks, *callbacks],
        validation_data=validation_data,
        verbose=verbose,
    )
    return plain(history.history), time.perf_counter() - started


def plain(history):
    return {
        name: [float(value) for value in values]
        for name, values in history.items()
    }
