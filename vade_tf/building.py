"""Building a `VaDE` for a data set: the likelihood chosen from the data,
the input scaling adapted to it.
"""

import numpy as np

from vade_tf import choices, validation
from vade_tf.model import likelihoods
from vade_tf.model import vade as vade_model

LIKELIHOOD_AUTO = choices.LIKELIHOOD_AUTO


def resolve_likelihood(
    x, likelihood=LIKELIHOOD_AUTO, input_scaling=choices.INPUT_SCALINGS[0]
):
    """The likelihood for data `x`: bernoulli inside [0, 1], else gaussian.

    Args:
        x: array of shape `(n_samples, n_features)`.
        likelihood: `"auto"`, or a likelihood name or object (returned as
            it is).
        input_scaling: one of `vade_tf.choices.INPUT_SCALINGS`. Under
            `"standardize"` the data the likelihood scores are no longer in
            [0, 1], so "auto" is gaussian.

    Returns:
        A likelihood name or object for `vade_tf.VaDE`.
    """
    if not (isinstance(likelihood, str) and likelihood == LIKELIHOOD_AUTO):
        return likelihood
    if input_scaling == "standardize":
        return "gaussian"
    inside = (
        float(np.min(x)) >= -validation.UNIT_INTERVAL_TOLERANCE
        and float(np.max(x)) <= 1.0 + validation.UNIT_INTERVAL_TOLERANCE
    )
    return "bernoulli" if inside else "gaussian"


def build_model(
    x,
    n_clusters,
    likelihood=LIKELIHOOD_AUTO,
    input_scaling=choices.INPUT_SCALINGS[0],
    model_class=None,
    **kwargs,
):
    """A `vade_tf.VaDE` for data `x`.

    With `input_scaling="auto"` and the gaussian likelihood, the model's
    `input_scaling` layer is adapted to `x`: each feature is standardised
    before the encoder and the likelihood, and the decoder's outputs are
    mapped back, so unscaled tables (values in the hundreds) train as well
    as their standardised copies and the model takes and returns the
    user's units (the scaler is saved with the model and used by the
    SavedModel export).

    Args:
        x: array of shape `(n_samples, n_features)`.
        n_clusters: int >= 2, at most `n_samples`.
        likelihood: `"auto"` (see `resolve_likelihood`) or a likelihood.
        input_scaling: one of `vade_tf.choices.INPUT_SCALINGS`: `"auto"`
            (standardise for the gaussian likelihood only),
            `"standardize"` or `"none"`.
        model_class: `None` for `vade_tf.VaDE`, or a subclass of it (for
            example the baseline `vade_tf.model.baselines.VAEGMM`).
        **kwargs: the other `VaDE` arguments (`latent_dim`, `hidden_dims`,
            `alpha`, `gamma_mode`, `seed`, ...).

    Returns:
        A new `model_class` instance with `input_dim = n_features`.
    """
    validation.check_choice(
        input_scaling, "input_scaling", choices.INPUT_SCALINGS
    )
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            "x must have shape (n_samples, n_features). "
            f"Received shape {x.shape}."
        )
    validation.check_n_clusters(n_clusters, n_samples=len(x))
    model_class = model_class or vade_model.VaDE
    if not (
        isinstance(model_class, type)
        and issubclass(model_class, vade_model.VaDE)
    ):
        raise ValueError(
            "model_class must be vade_tf.VaDE or a subclass of it. "
            f"Received: model_class={model_class!r}"
        )
    likelihood = likelihoods.get_likelihood(
        resolve_likelihood(x, likelihood, input_scaling)
    )
    if input_scaling == "standardize" and likelihood.name in (
        choices.COUNT_LIKELIHOODS
    ):
        raise ValueError(
            f"The {likelihood.name} likelihood scores raw counts, which "
            "cannot be standardised. Received: input_scaling='standardize'."
            " Use input_scaling='auto' (the encoder sees log1p of the "
            "counts)."
        )
    if input_scaling == "standardize" and likelihood.name == "bernoulli":
        raise ValueError(
            "The bernoulli likelihood scores values in [0, 1], which "
            "standardised data are not (its loss would be unbounded). "
            "Received: likelihood='bernoulli', input_scaling='standardize'."
            " Use input_scaling='auto' (no scaling for bernoulli) or the "
            "gaussian likelihood."
        )
    # Data-dependent settings (the library size counts are scaled to), on
    # data checked first; `adapted` leaves the caller's object alone.
    likelihood = likelihood.adapted(
        validation.check_data(x, input_dim=x.shape[1], name="x")
    )
    model = model_class(
        input_dim=x.shape[1],
        n_clusters=n_clusters,
        likelihood=likelihood,
        **kwargs,
    )
    standardize = input_scaling == "standardize" or (
        input_scaling == "auto" and model.likelihood.name == "gaussian"
    )
    if standardize:
        model.input_scaling.adapt(
            validation.check_data(x, input_dim=x.shape[1], name="x")
        )
    return model
