"""MNIST-shaped measuring of the speed benchmarks.

The pieces `bench_train.py` and others measure with: the analytic FLOP counts
of the MNIST architecture, MNIST-shaped synthetic data, the epoch clock
callback and the timers built on it, the matmul reference and the peak
resident memory. No benchmark case and no command line lives here; the
machine's description, the median and the writing of results are in
`benchmarks/common.py`.

Imported as `from benchmarks.speed import measure` (the scripts run from the
repository root as modules).
"""

import resource
import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import common

# =============================================================================
# Constants
# =============================================================================

# The MNIST architecture the FLOP counts and the synthetic data describe.
INPUT_DIM = 784
HIDDEN_DIMS = (500, 500, 2000)
LATENT_DIM = 10
N_LABELS = 10
SEED = 0
MATMUL_SIZE = 2048  # the side of the reference matmul
INFERENCE_BATCH = 1000  # the batch size of the timed `predict_proba`


# =============================================================================
# FLOP counts
# =============================================================================


def dense_chain_flops(widths):
    """Forward FLOP per sample of a chain of Dense layers.

    Args:
        widths: sequence of ints, the input width then each layer's width.

    Returns:
        int, `sum 2 * in * out` over consecutive pairs.
    """
    return sum(2 * a * b for a, b in zip(widths[:-1], widths[1:]))


def encoder_flops(with_log_var_head=True):
    """Forward FLOP per sample of the encoder 784-500-500-2000 and its heads.

    Args:
        with_log_var_head: bool; VaDE computes both 10-unit heads (z_mean
            and z_log_var), the plain autoencoder only z_mean.

    Returns:
        int.
    """
    heads = 2 if with_log_var_head else 1
    trunk = dense_chain_flops((INPUT_DIM, *HIDDEN_DIMS))
    return trunk + heads * 2 * HIDDEN_DIMS[-1] * LATENT_DIM


def decoder_flops():
    """Forward FLOP per sample of the decoder 10-2000-500-500-784.

    Args:
        None.

    Returns:
        int.
    """
    return dense_chain_flops((LATENT_DIM, *reversed(HIDDEN_DIMS), INPUT_DIM))


def flop_counts():
    """FLOP per sample of every measured computation.

    Training is 3x the forward pass (forward, then two matmuls per layer
    backward). The mixture terms, O(K * D) per sample, are left out.

    Args:
        None.

    Returns:
        dict of ints: `vade_forward`, `vade_train`, `autoencoder_train`
        and `inference` (`predict_proba`: the encoder with both heads).
    """
    vade_forward = encoder_flops(True) + decoder_flops()
    ae_forward = encoder_flops(False) + decoder_flops()
    return {
        "vade_forward": vade_forward,
        "vade_train": 3 * vade_forward,
        "autoencoder_train": 3 * ae_forward,
        "inference": encoder_flops(True),
    }


# =============================================================================
# Synthetic data
# =============================================================================


def synthetic_images(n_rows, seed=SEED):
    """MNIST-shaped data: float32 `(n_rows, 784)` uniform in [0, 1).

    Args:
        n_rows: int, the number of rows.
        seed: int, the NumPy generator's seed.

    Returns:
        float32 NumPy array of shape `(n_rows, 784)`.
    """
    rng = np.random.default_rng(seed)
    return rng.random((n_rows, INPUT_DIM), dtype=np.float32)


def synthetic_labels(n_rows, seed=SEED):
    """Random integer labels in `[0, 10)`, shape `(n_rows,)`.

    Args:
        n_rows: int, the number of labels.
        seed: int; the generator is seeded with `seed + 1`, so the labels
            do not follow the images made with the same seed.

    Returns:
        int64 NumPy array of shape `(n_rows,)`.
    """
    return np.random.default_rng(seed + 1).integers(0, N_LABELS, n_rows)


# =============================================================================
# Timing
# =============================================================================


class EpochClock(keras.callbacks.Callback):
    """Records `time.perf_counter()` at the begin and end of every epoch.

    Keras turns the epoch's metrics into numbers before `on_epoch_end`, so
    the end stamp comes after the last step finished. Callbacks run in list
    order: a clock placed before another callback stamps the epoch end
    before that callback runs, one placed after it stamps it after.

    Attributes:
        begins: list of floats, the `perf_counter` at each epoch's begin.
        ends: list of floats, the `perf_counter` at each epoch's end.
    """

    def __init__(self):
        super().__init__()
        self.begins = []
        self.ends = []

    def on_epoch_begin(self, epoch, logs=None):
        self.begins.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())

    def seconds(self):
        """Wall seconds of each epoch, begin to end.

        Returns:
            list of floats, one per finished epoch.
        """
        return [end - begin for begin, end in zip(self.begins, self.ends)]


def train_one_epoch(case):
    """Trains `case`'s model for one epoch on its data and times it.

    Args:
        case: dict with `model`, `kind` (`"vade"` or `"ae"`), `x`, `batch`.

    Returns:
        Tuple `(seconds, final_loss)`.
    """
    clock = EpochClock()
    targets = case["x"] if case["kind"] == "ae" else None
    history = case["model"].fit(
        case["x"],
        targets,
        batch_size=case["batch"],
        epochs=1,
        shuffle=True,
        verbose=0,
        callbacks=[clock],
    )
    return clock.seconds()[0], float(history.history["loss"][-1])


def matmul_gflops(repeats, size=MATMUL_SIZE):
    """Float32 matmul throughput: median GFLOP/s of `repeats` products.

    Args:
        repeats: int, timed products after one untimed warm-up.
        size: int, the side of the square matrices.

    Returns:
        float, `2 * size**3 / seconds / 1e9`, median over the products.
    """
    a = tf.random.uniform((size, size), dtype=tf.float32, seed=SEED)
    b = tf.random.uniform((size, size), dtype=tf.float32, seed=SEED + 1)
    tf.matmul(a, b)[0, 0].numpy()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b)[0, 0].numpy()
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return common.median(rates)


def time_inference(model, x):
    """Wall seconds of `model.predict_proba(x, batch_size=1000)`.

    Args:
        model: a built `vade_tf.VaDE`.
        x: float32 array of shape `(n_rows, input_dim)`.

    Returns:
        float, the seconds of the call.

    Raises:
        RuntimeError: if the probabilities are not `(n_rows, n_clusters)`.
    """
    probs, seconds = common.seconds(
        model.predict_proba, x, batch_size=INFERENCE_BATCH
    )
    if probs.shape != (len(x), model.n_clusters):
        raise RuntimeError(f"predict_proba returned shape {probs.shape}")
    return seconds


# =============================================================================
# Memory
# =============================================================================


def current_peak_rss():
    """This process's peak resident set size so far, in bytes (Linux).

    Returns:
        int, `getrusage(RUSAGE_SELF).ru_maxrss` (KiB on Linux) * 1024.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
