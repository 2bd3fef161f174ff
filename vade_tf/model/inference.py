"""Inference with a VaDE model: encode, cluster, score and generate.

Functions of a `vade_tf.VaDE` and numpy data, in batches; the model's
public methods (`encode`, `transform`, `predict_proba`, `predict_clusters`,
`score_samples`, `generate`) call them. The encoder runs as one traced
graph function per model (`compiled_encoder`), the mixture's posterior in
bounded steps, so memory stays small however many rows there are.
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vade_tf import validation

# Rows per forward pass: on a 2-core AVX-512 CPU 4096 was 10-15% faster
# than 1000 over 70,000 rows, 8192 no faster (docs/performance.md,
# "Inference batch size").
INFERENCE_BATCH_SIZE = 4096
# The fewest rows `encode` pads a short batch to (`padded_batch_rows`).
MIN_PADDED_ROWS = 16
# Entries of the (rows, K, D) tensor per step of the mixture's posterior.
MIXTURE_CHUNK_ENTRIES = 2**22


def padded_batch_rows(rows, batch_size):
    """The rows `encode` pads a batch of `rows` rows to.

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


def compiled_encoder(model):
    """`model.encoder_outputs` as one graph function, built once per model.

    One call per batch runs the standardisation and the encoder in one
    traced function with a fixed input signature (no retracing, none of
    `predict_on_batch`'s per-call work). It runs without XLA: at inference
    batch sizes TensorFlow's oneDNN matrix products were faster than XLA's
    on an AVX-512 CPU (1.14x at batch 1000, 1.17x at 4096;
    docs/performance.md), while training keeps XLA.

    Args:
        model: a `vade_tf.VaDE`.

    Returns:
        A `tf.function` from float32 `(batch, input_dim)` to
        `(z_mean, z_log_var)`.
    """
    if getattr(model, "_encoder_function", None) is None:
        # A partial, not the bound method: TensorFlow counts traces per
        # code object, so each new model's one trace of the method (several
        # models in a grid search) added up to a warning of "excessive
        # retracing" that did not apply.
        model._encoder_function = tf.function(
            functools.partial(type(model).encoder_outputs, model),
            jit_compile=False,
            input_signature=[
                tf.TensorSpec([None, model.input_dim], tf.float32)
            ],
            reduce_retracing=True,
        )
    return model._encoder_function


def encode(model, x, batch_size=INFERENCE_BATCH_SIZE, check_input=True):
    """The parameters of q(z|x), in batches.

    Args:
        model: a `vade_tf.VaDE`.
        x: array of shape `(n_samples, input_dim)`.
        batch_size: int, rows per forward pass.
        check_input: bool; False skips the checks of `x` (shape, finite
            values, the likelihood's support) for a float32 array checked
            before, as callbacks do for data they score every epoch.

    Returns:
        Tuple of numpy arrays `(z_mean, z_log_var)`, each of shape
        `(n_samples, latent_dim)`.
    """
    if check_input:
        x = validation.check_model_input(model, x, streamed=False)
    batch_size = validation.check_int(batch_size, "batch_size", 1)
    function = compiled_encoder(model)
    means, log_vars = [], []
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start : start + batch_size], dtype="float32")
        rows = len(batch)
        padded = padded_batch_rows(rows, batch_size)
        if rows < padded:
            # A short batch is padded, so the function sees a few shapes
            # whatever the numbers of rows it is given.
            filler = np.zeros((padded - rows, batch.shape[1]), "float32")
            batch = np.concatenate([batch, filler])
        z_mean, z_log_var = function(batch)
        means.append(z_mean.numpy()[:rows])
        log_vars.append(z_log_var.numpy()[:rows])
    return np.concatenate(means), np.concatenate(log_vars)


def cluster_probabilities(
    model,
    x,
    batch_size=INFERENCE_BATCH_SIZE,
    n_samples=0,
    seed=None,
    check_input=True,
):
    """The cluster posterior q(c|x).

    Args:
        model: a `vade_tf.VaDE`.
        x: array of shape `(N, input_dim)`.
        batch_size: int, rows per forward pass of the encoder.
        n_samples: int; 0 evaluates p(c|z) at z = z_mean (VaDE's usual
            choice); L > 0 averages p(c|z) over L draws of z ~ q(z|x).
        seed: int or `None`, for the draws.
        check_input: bool; see `encode`.

    Returns:
        numpy array of shape `(N, n_clusters)`; rows sum to 1.
    """
    n_samples = validation.check_int(n_samples, "n_samples", 0)
    if check_input:
        x = validation.check_model_input(model, x, streamed=False)
    generator = keras.random.SeedGenerator(seed) if n_samples else None
    z_mean, z_log_var = encode(model, x, batch_size, check_input=False)
    # The mixture sees steps of about 4 million (draw, row, component,
    # dimension) entries, whatever `batch_size` is: its memory stays
    # bounded, and the draws of a seeded call do not depend on
    # `batch_size`.
    step = max(
        1,
        MIXTURE_CHUNK_ENTRIES
        // (model.n_clusters * model.latent_dim * max(n_samples, 1)),
    )
    probabilities = []
    for start in range(0, len(z_mean), step):
        rows = slice(start, start + step)
        q = model.gmm.q_c_x(z_mean[rows], z_log_var[rows], n_samples, generator)
        probabilities.append(ops.convert_to_numpy(q))
    return np.concatenate(probabilities, axis=0)


def score_samples(model, x, batch_size=INFERENCE_BATCH_SIZE, seed=0):
    """Each sample's ELBO (higher is better), `-(alpha * rec + beta * kl)`.

    The reconstruction term is taken at one draw of z per sample, as in
    training, from a generator seeded with `seed`: the same model, data and
    seed give the same scores, and the model's own sampling state is left
    alone. For the gaussian likelihood the constant of log p(x|z) is left
    out, as in training.

    Args:
        model: a `vade_tf.VaDE`.
        x: array of shape `(N, input_dim)`.
        batch_size: int.
        seed: int, seeds the draws of z.

    Returns:
        float numpy array of shape `(N,)`.
    """
    x = validation.check_model_input(model, x, streamed=False)
    batch_size = validation.check_int(batch_size, "batch_size", 1)
    generator = keras.random.SeedGenerator(seed)
    scores = []
    for start in range(0, len(x), batch_size):
        reconstruction, kl = model.elbo_terms(
            x[start : start + batch_size], seed=generator
        )
        loss = model.alpha * reconstruction + model.beta * kl
        scores.append(-ops.convert_to_numpy(loss))
    return np.concatenate(scores)


def generate(
    model, cluster, n_samples, seed=None, min_posterior=None, max_draws=None
):
    """Samples x from one mixture component.

    Draws z from the component (`MixturePrior.sample_z`, optionally keeping
    only draws with p(cluster|z) >= `min_posterior`, as the original did
    with 0.999) and decodes it to the mean of p(x|z), in the data's units.

    Args:
        model: a `vade_tf.VaDE`.
        cluster: int in `[0, n_clusters)`.
        n_samples: int >= 1.
        seed: int or `None`.
        min_posterior: float in (0, 1] or `None`.
        max_draws: int, the bound on draws; default
            `max(1000 * n_samples, 100000)`.

    Returns:
        numpy array of shape `(n_samples, input_dim)`.
    """
    z = model.gmm.sample_z(cluster, n_samples, seed, min_posterior, max_draws)
    x_hat = model.decoder.predict(z, batch_size=INFERENCE_BATCH_SIZE, verbose=0)
    return ops.convert_to_numpy(model.input_scaling.inverse(x_hat))


class InferenceMixin:
    """The inference methods of `vade_tf.VaDE`, each a call of this
    module's functions (as `keras.Model`'s training methods live in its
    trainer mixin)."""

    def encode(self, x, batch_size=INFERENCE_BATCH_SIZE, *, check_input=True):
        """The parameters `(z_mean, z_log_var)` of q(z|x), each a numpy
        array `(n_samples, latent_dim)`; see `encode`."""
        return encode(self, x, batch_size, check_input)

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
        """The cluster posterior q(c|x), numpy array `(N, n_clusters)`
        (at z = z_mean, or averaged over `n_samples` draws of z); see
        `cluster_probabilities`."""
        return cluster_probabilities(
            self, x, batch_size, n_samples, seed, check_input
        )

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
        """Each sample's ELBO (higher is better), numpy array `(N,)`, at
        draws of z seeded by `seed`; see `score_samples`."""
        return score_samples(self, x, batch_size, seed)

    def generate(
        self, cluster, n_samples, seed=None, min_posterior=None, max_draws=None
    ):
        """`n_samples` draws of x from mixture component `cluster`, numpy
        array `(n_samples, input_dim)`; see `generate`."""
        return generate(
            self, cluster, n_samples, seed, min_posterior, max_draws
        )
