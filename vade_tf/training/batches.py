"""The order VaDE sees its data in: one seed rule, one shuffle per epoch.

Epoch e of a run seeded s visits every row once in an order drawn from
`(s, e)` alone (a stateless shuffle), so a resumed run sees the batches an
uninterrupted run would have, and no global generator is read. Training
(`VaDE.fit`, `workflow.train`) and pretraining take their batches here.
"""

import math
import random


def batch_order_seed(seed):
    """The seed of `epoch_batches` for a model seeded with `seed`.

    `seed` itself when given; otherwise a fresh one from Python's global
    generator, as Keras draws its own default seeds (so
    `keras.utils.set_random_seed` makes an unseeded run repeatable).

    Args:
        seed: int or `None`.

    Returns:
        int.
    """
    return random.randrange(2**31 - 1) if seed is None else int(seed)


def epoch_batches(x, batch_size, seed, initial_epoch=0, epochs=1):
    """The training batches of epochs `initial_epoch` to `epochs - 1`.

    Epoch e visits every row of `x` once, in the order of a stateless
    shuffle seeded by `(seed, e)`: the order depends on the epoch's number
    only, so a resumed run sees the batches the uninterrupted run would
    have (Keras's own shuffling draws from a generator whose state a new
    process does not have). The last batch of an epoch may be short.

    Args:
        x: float32 array of shape `(n_samples, input_dim)`.
        batch_size: int >= 1.
        seed: int.
        initial_epoch: int >= 0.
        epochs: int > `initial_epoch`.

    Returns:
        A `tf.data.Dataset` of `(batch, input_dim)` float32 tensors,
        `ceil(n_samples / batch_size)` per epoch.
    """
    import tensorflow as tf

    indices = tf.data.Dataset.range(initial_epoch, epochs).flat_map(
        lambda epoch: _epoch_indices(len(x), batch_size, seed, epoch)
    )
    return _gathered(x, indices)


def shuffled_epochs(x, batch_size, seed, initial_epoch=0):
    """One epoch of `epoch_batches` per pass, and the callback that picks it.

    Each pass over the dataset is one epoch, `ceil(n_samples / batch_size)`
    batches in the order `epoch_batches` gives that epoch. The epoch is read
    when a pass starts, from a variable the returned callback sets in
    `on_epoch_begin`, so Keras's own epoch number decides the order (a run
    resumed by `initial_epoch` or `keras.callbacks.BackupAndRestore` sees
    the batches of the uninterrupted run). Because a pass ends with its
    epoch, `steps_per_execution` never carries a step over into the next
    epoch. Pass both to `fit`: `fit(dataset, callbacks=[callback, ...])`.

    Args:
        x: float32 array of shape `(n_samples, input_dim)`.
        batch_size: int >= 1.
        seed: int.
        initial_epoch: int >= 0, the epoch of a pass made before the
            callback has set one.

    Returns:
        Tuple `(dataset, callback)`: a `tf.data.Dataset` of
        `(batch, input_dim)` float32 tensors with a known number of batches,
        and a `vade_tf.training.callbacks.DatasetEpoch`.
    """
    import tensorflow as tf

    from vade_tf.training.callbacks import DatasetEpoch

    epoch = tf.Variable(
        initial_epoch, dtype=tf.int64, trainable=False, name="dataset_epoch"
    )
    # One pass: the batches of the epoch the variable holds when it starts.
    indices = tf.data.Dataset.range(1).flat_map(
        lambda _: _epoch_indices(len(x), batch_size, seed, epoch.read_value())
    )
    dataset = _gathered(x, indices).apply(
        tf.data.experimental.assert_cardinality(math.ceil(len(x) / batch_size))
    )
    return dataset, DatasetEpoch(epoch)


def epoch_permutation(n, seed, epoch):
    """The order of epoch `epoch`'s rows: a stateless shuffle of `range(n)`.

    Args:
        n: int, the number of rows.
        seed: int.
        epoch: int or int64 scalar tensor.

    Returns:
        int64 tensor of shape `(n,)`, a permutation of `range(n)`.
    """
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        tf.range(n, dtype=tf.int64),
        seed=tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]),
    )


def _epoch_indices(n, batch_size, seed, epoch):
    """The batches of row indices of epoch `epoch`, a `tf.data.Dataset`."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(
        epoch_permutation(n, seed, epoch)
    ).batch(batch_size)


def _gathered(x, indices):
    """The rows of `x` at each batch of `indices`, gathered when asked for.

    The gather (a copy of one batch's rows) runs in the thread that asks
    for the batch: no prefetch, and tf.data's autotuning off, so that it
    injects none. With an autotuned prefetch, whole epochs ran at half to
    two thirds of the speed on a 2-core machine, the cores idle meanwhile
    (docs/performance.md, "The training input").
    """
    import tensorflow as tf

    rows = tf.data.Dataset.from_tensors(x).repeat()
    dataset = tf.data.Dataset.zip(rows, indices).map(
        lambda data, index: tf.gather(data, index)
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    return dataset.with_options(options)
