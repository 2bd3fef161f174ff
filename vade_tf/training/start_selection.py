"""Several mixture starts on one autoencoder, the best kept by ELBO; and
the VAE+GMM baseline's mixture fitted after training.
"""

import dataclasses

import numpy as np

from vade_tf.training import distribute, train_loop


@dataclasses.dataclass
class StartSelection:
    """What `select_start` tried and kept.

    Attributes:
        seeds: list of int, each start's mixture seed.
        elbo: list of float, each start's mean ELBO per sample on `x`
            after `epochs` epochs (higher is better).
        chosen: int, the index of the start kept.
        epochs: int, the epochs each start trained.
        mixture: the scikit-learn estimator of the kept start's mixture.
    """

    seeds: list
    elbo: list
    chosen: int
    epochs: int
    mixture: object


def select_start(model, x, recipe, pretrained_state, *, random_state=None):
    """Tries `recipe.n_starts` mixture starts and keeps the best by ELBO.

    Start r fits the mixture on the pretrained autoencoder with seed
    `train_loop.shuffle_seed(random_state) + r` (start 0 is the
    single-start run's mixture) and trains `min(recipe.start_epochs,
    recipe.epochs)` epochs with the recipe's schedule and the run's batch order;
    its score is the mean ELBO per sample on `x` (`VaDE.score_samples`, fixed
    draws). Labels are never looked at. The model is left in the state of the
    best start at the end of its epochs (weights, mixture, both optimizers, the
    sampling state), so training on from there is the run that start would
    have been: `train` continues it to `recipe.epochs`, and `resume` works
    as for a single start.

    Args:
        model: a compiled `vade_tf.VaDE`; its optimizers' states at the
            call (fresh, in `train`) are each start's initial states.
        x: array of shape `(n_samples, input_dim)`, checked.
        recipe: a `vade_tf.training.recipes.Recipe`.
        pretrained_state: the model's variables after pretraining, as
            numpy arrays in the order of `model.variables`.
        random_state: int or `None`, the run's seed.

    Returns:
        A `StartSelection`.
    """
    epochs = min(recipe.start_epochs, recipe.epochs)
    base = train_loop.shuffle_seed(random_state)
    seeds = [base + index for index in range(recipe.n_starts)]
    # Both optimizers' moments, step counts and rates: with the model's
    # variables (weights, mixture, sampling state), a start's whole state.
    optimizer_variables = [
        *model.optimizer.variables,
        *model.mixture_optimizer.variables,
    ]
    variables = [*model.variables, *optimizer_variables]
    fresh_optimizers = capture(optimizer_variables)
    scores, best_state, chosen, mixtures = [], None, None, []
    for seed in seeds:
        restore(model.variables, pretrained_state)
        restore(optimizer_variables, fresh_optimizers)
        mixtures.append(
            model.initialize_mixture(
                x,
                mixture_init=recipe.mixture_init,
                random_state=seed,
                n_init=recipe.mixture_n_init,
                latent_std=recipe.latent_std,
            )
        )
        distribute.broadcast_from_chief(
            model.variables, model.distribute_strategy
        )
        train_loop.fit_epochs(
            model,
            x,
            recipe.replace(epochs=epochs),
            y=None,
            shuffle_seed=base,
            initial_epoch=0,
            callbacks=(),
            validation_data=None,
            verbose=0,
        )
        scores.append(float(np.mean(model.score_samples(x))))
        # A start whose ELBO is not finite (it diverged) is never chosen.
        if np.isfinite(scores[-1]) and (
            best_state is None or scores[-1] > scores[chosen]
        ):
            best_state, chosen = capture(variables), len(scores) - 1
    if best_state is None:
        raise FloatingPointError(
            f"Every one of the {recipe.n_starts} mixture starts diverged: "
            f"their mean ELBOs are {scores}. Lower the learning rate or "
            "check the data's scale."
        )
    restore(variables, best_state)
    # Several workers go on from the chief's choice (the returned selection
    # is this worker's own; only the chief's is reported).
    distribute.broadcast_from_chief(variables, model.distribute_strategy)
    return StartSelection(
        seeds=seeds,
        elbo=scores,
        chosen=chosen,
        epochs=epochs,
        mixture=mixtures[chosen],
    )


def capture(variables):
    return [np.array(variable.numpy(), copy=True) for variable in variables]


def restore(variables, values):
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
