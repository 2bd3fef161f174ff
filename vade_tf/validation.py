"""Checks of user input that turn bad data into a clear `ValueError`."""

import numpy as np


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


def check_data(x, input_dim=None, likelihood=None, n_clusters=None, name="x"):
    """Validates a data matrix and returns it as a float32 numpy array.

    Args:
        x: array-like of shape `(n_samples, n_features)`.
        input_dim: int or `None`; when given, `n_features` must equal it.
        likelihood: a `vade_tf.losses.Likelihood` or `None`; when given, its
            `check_data` checks the support (values in [0, 1] for bernoulli).
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
    finite = np.isfinite(array)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise ValueError(
            f"`{name}` contains NaN or inf ({int((~finite).sum())} values; "
            f"the first at row {row}, column {col}: {array[row, col]}). "
            "Remove or impute them first."
        )
    if likelihood is not None:
        likelihood.check_data(array)
    if n_clusters is not None and array.shape[0] < n_clusters:
        raise ValueError(
            f"`{name}` has {array.shape[0]} samples, fewer than "
            f"n_clusters={n_clusters}. Expected at least one sample per "
            "cluster: pass more data or ask for fewer clusters."
        )
    return array
