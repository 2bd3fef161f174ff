"""Checks of user input that turn bad data into a clear `ValueError`.

Every check names the argument, says what was expected and what was
received. The model, the estimator, the recipes and the command line share
these, so one kind of mistake gets one message everywhere.
"""

import contextlib
import contextvars
import functools
import numbers

import numpy as np

# =============================================================================
# Parameters
# =============================================================================


def is_int(value):
    """True for Python and numpy integers, False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value, name, minimum=1):
    """Returns `value` as an int, or raises if it is not an int >= minimum.

    Args:
        value: the value to check.
        name: str, the argument's name in the message.
        minimum: int, the smallest value allowed.

    Returns:
        int.
    """
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"{name} must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_n_clusters(n_clusters, n_samples=None):
    """Checks the number of mixture components K.

    A one-component mixture prior makes VaDE a plain VAE, which clusters
    nothing, so K >= 2; with `n_samples`, K may not exceed it.

    Args:
        n_clusters: the value to check.
        n_samples: int or `None`, the number of samples to cluster.

    Returns:
        int.
    """
    n_clusters = check_int(n_clusters, "n_clusters", 2)
    if n_samples is not None and n_clusters > n_samples:
        raise ValueError(
            f"n_clusters={n_clusters} is more than the {n_samples} samples "
            "of the data. Expected at least one sample per cluster: pass "
            "more data or ask for fewer clusters."
        )
    return n_clusters


def check_widths(widths, name="hidden_dims"):
    """Returns hidden layer widths as a tuple of ints >= 1, or raises."""
    try:
        widths = tuple(widths)
    except TypeError:
        widths = None
    if widths is None or not all(is_int(w) and w >= 1 for w in widths):
        raise ValueError(
            f"{name} must be a sequence of positive integers, for example "
            f"(500, 500, 2000). Received: {name}={widths!r}"
        )
    return tuple(int(w) for w in widths)


def check_seed(seed):
    """Returns `seed` as an int or `None`, or raises."""
    if seed is not None and not is_int(seed):
        raise ValueError(
            f"seed must be an integer or None. Received: seed={seed!r}"
        )
    return None if seed is None else int(seed)


def check_positive_float(value, name):
    """Returns `value` as a float, or raises if it is not finite and > 0."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"{name} must be a finite number > 0. Received: {name}={value!r}"
        )
    return float(value)


def check_choice(value, name, choices):
    """Returns `value`, or raises if it is not one of `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {tuple(choices)}. "
            f"Received: {name}={value!r}"
        )
    return value


# =============================================================================
# Data
# =============================================================================


def is_streamed(x):
    """True for inputs read batch by batch, which are not checked up front.

    These are `tf.data.Dataset`s, `keras.utils.PyDataset`s, generators and
    other iterators; everything else is taken as an array to check.
    """
    import keras
    import tensorflow as tf

    return isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)) or hasattr(
        x, "__next__"
    )


# Rows per block of the finite-value check.
_CHECK_ROWS = 65536


def check_data(x, input_dim=None, likelihood=None, n_clusters=None, name="x"):
    """Validates a data matrix and returns it as a float32 numpy array.

    Args:
        x: array-like of shape `(n_samples, n_features)`.
        input_dim: int or `None`; when given, `n_features` must equal it.
        likelihood: a `vade_tf.model.likelihoods.Likelihood` or `None`;
            when given, its `check_data` checks the support (values in
            [0, 1] for bernoulli).
        n_clusters: int or `None`; when given, `n_samples` must be at least
            this many.
        name: str, the argument's name in error messages.

    Returns:
        numpy array of shape `(n_samples, n_features)`, dtype float32.
    """
    try:
        array = np.asarray(x, dtype="float32")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{name}` must be a numeric array of shape (n_samples, "
            f"n_features). Received an object of type {type(x).__name__} "
            f"that numpy cannot convert to float32: {error}"
        ) from None
    if array.ndim != 2:
        hint = ""
        if array.ndim > 2:
            hint = (
                " Flatten each sample first, for example "
                f"x.reshape(len(x), -1) gives shape "
                f"{(array.shape[0], int(np.prod(array.shape[1:])))}."
            )
        raise ValueError(
            f"`{name}` must have rank 2, shape (n_samples, n_features). "
            f"Received shape {array.shape}.{hint}"
        )
    if input_dim is not None and array.shape[1] != input_dim:
        raise ValueError(
            f"`{name}` must have {input_dim} features (the model's "
            f"input_dim). Received shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"`{name}` is empty. Received shape {array.shape}.")
    # In blocks of rows, so a large array needs no array-sized temporary.
    for start in range(0, array.shape[0], _CHECK_ROWS):
        finite = np.isfinite(array[start : start + _CHECK_ROWS])
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            row += start
            count = int(np.sum(~np.isfinite(array)))
            raise ValueError(
                f"`{name}` contains NaN or inf ({count} values; the first "
                f"at row {row}, column {col}: {array[row, col]}). Remove or "
                "impute them first."
            )
    if likelihood is not None:
        likelihood.check_data(array)
        array = likelihood.conform(array)
    if n_clusters is not None and array.shape[0] < n_clusters:
        raise ValueError(
            f"`{name}` has {array.shape[0]} samples, fewer than "
            f"n_clusters={n_clusters}. Expected at least one sample per "
            "cluster: pass more data or ask for fewer clusters."
        )
    return array


# Values this close to [0, 1] count as inside it, for the "auto" likelihood
# and the bernoulli likelihood's check alike (they are clipped onto it): the
# rounding of a scaler (`MinMaxScaler` on float32 data gives 1.0000002).
UNIT_INTERVAL_TOLERANCE = 1e-6
# The gaussian likelihood on features beyond this magnitude, with no
# standardisation in the model, gives losses and gradients that overflow
# float32 (a fit that turns NaN): refused, with the fix named.
GAUSSIAN_SCALE_LIMIT = 1e6


# The arrays `check_model_input` has passed inside `checked_once`.
_PASSED = contextvars.ContextVar("vade_tf_checked_arrays", default=None)


@contextlib.contextmanager
def checked_once():
    """Checks each array once for a model while the block runs.

    The workflow (`vade_tf.workflow.train`, `resume`, ...) calls several
    public methods on the same data (`pretrain`, `initialize_mixture`, `fit`),
    and each checks its input as an entry point must. Inside this block a
    second check of an array `check_model_input` already passed (the same
    object, for the same model and requirements) returns at once, so the
    data are read and checked once, at the workflow's entry (a check that
    required `n_clusters` samples stands for one that did not). Outside it,
    every call checks.

    Yields:
        None.
    """
    if _PASSED.get() is not None:  # inside an outer block: its record holds
        yield
        return
    token = _PASSED.set({})
    try:
        yield
    finally:
        _PASSED.reset(token)


def checks_once(function):
    """Decorates a workflow function to run inside `checked_once`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with checked_once():
            return function(*args, **kwargs)

    return wrapper


def check_model_input(model, x, name="x", clusters=False, streamed=True):
    """Checks `x` against a `vade_tf.VaDE` before any work is done on it.

    Arrays are checked with `check_data` (rank, the model's feature count,
    finite values, the likelihood's support); datasets and generators are
    read batch by batch, so they pass through unchecked where allowed.

    Args:
        model: a `vade_tf.VaDE`.
        x: the input, or `None` (returned as it is).
        name: str, the argument's name in messages.
        clusters: bool, require at least `model.n_clusters` samples.
        streamed: bool, accept datasets and generators.

    Returns:
        A float32 numpy array, or `x` itself when streamed or `None`.
    """
    if x is None:
        return x
    if is_streamed(x):
        if streamed:
            return x
        raise ValueError(
            f"`{name}` must be an array of shape (n_samples, "
            f"{model.input_dim}) here. Received a {type(x).__name__}; "
            "tf.data datasets and generators are accepted by fit, "
            "evaluate and predict only."
        )
    passed = _PASSED.get()
    # A record keeps the array and the model, so their ids stay theirs.
    record = passed and passed.get((id(x), id(model)))
    if record and record[1] is model and (record[3] or not clusters):
        return record[2]
    given = x
    x = check_data(
        x,
        input_dim=model.input_dim,
        likelihood=model.likelihood,
        n_clusters=model.n_clusters if clusters else None,
        name=name,
    )
    scaling = getattr(model, "input_scaling", None)
    if (
        model.likelihood.name == "gaussian"
        and scaling is not None
        and scaling.is_identity
    ):
        largest = float(np.max(np.abs(x)))
        if largest > GAUSSIAN_SCALE_LIMIT:
            raise ValueError(
                f"`{name}` has values up to {largest:.3g} in magnitude, and "
                "the model has no input standardisation: the gaussian "
                "likelihood's loss would overflow. Standardise the features "
                "first (sklearn.preprocessing.StandardScaler), or build the "
                "model with vade_tf.workflow.build_model(x, ...), which "
                "standardises inside the model (input_scaling='auto')."
            )
    if passed is not None:
        passed[(id(given), id(model))] = (given, model, x, clusters)
        passed[(id(x), id(model))] = (x, model, x, clusters)
    return x
