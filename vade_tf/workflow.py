"""VaDE's workflow in one function: pretrain, start the mixture, train.

`train(model, x, recipe)` runs the whole workflow from a
`vade_tf.training.recipes.Recipe`: pretrain the autoencoder (or load its
weights), fit the mixture prior on the latent means, compile the two optimizers
at the recipe's rates, and fit with the recipe's schedule. The command line
(`vade-tf train`, `vade-tf reproduce`), `VaDEClustering` and the examples
all call it, so every entry point trains the same way. `build_model` builds
the `VaDE` for a data set, choosing the likelihood from the data.

Example:

```python
x, y = vade_tf.data.datasets.load_dataset("digits")
model = vade_tf.workflow.build_model(x, n_clusters=10, seed=0)
result = vade_tf.workflow.train(model, x, y=y, random_state=0)
result.history["acc"][-1]
```
"""

import dataclasses
import math
import time

from vade_tf import building, choices, validation

# The workflow's public names that live in the modules beside it.
from vade_tf.building import build_model, resolve_likelihood
from vade_tf.model import baselines
from vade_tf.model import vade as vade_model
from vade_tf.training import (
    batches,
    compilation,
    distribute,
    k_selection,
    pretraining,
    recipes,
    start_selection,
    train_loop,
)
from vade_tf.training.recipes import resolve_pretrain_recipe
from vade_tf.training.start_selection import StartSelection, select_start
from vade_tf.training.train_loop import attempted_steps, shuffle_seed

LIKELIHOOD_AUTO = choices.LIKELIHOOD_AUTO
# Values this close to [0, 1] count as inside it (`vade_tf.validation`).
UNIT_INTERVAL_TOLERANCE = validation.UNIT_INTERVAL_TOLERANCE
# The stages `train` reports to its `on_stage` listener, in order.
STAGES = ("pretrained", "initialized", "trained")


@dataclasses.dataclass
class TrainResult:
    """What `train` returns.

    Attributes:
        model: the trained `vade_tf.VaDE` (the one passed in).
        recipe: the `Recipe` used.
        pretrain_recipe: str, the pretraining recipe used (`"auto"`
            resolved), or `None` when the weights were loaded or
            pretraining was skipped.
        history: dict, each training metric to its list of per-epoch values.
        pretrain_history: dict, the same for pretraining (empty if none).
        mixture: the fitted scikit-learn estimator of the mixture's start.
        timings: dict of seconds: `pretrain`, `gmm`, `train`.
        starts: `None` for a single start, else the `StartSelection` of
            `select_start` (with `recipe.n_starts > 1`); `history` then
            holds the epochs after `recipe.start_epochs`.
        k_selection: `None`, or the `vade_tf.training.k_selection.KSelection` of
            `build_and_train` with `n_clusters="auto"`.
    """

    model: object
    recipe: recipes.Recipe
    pretrain_recipe: str | None
    history: dict
    pretrain_history: dict
    mixture: object
    timings: dict
    starts: object = None
    k_selection: object = None


@dataclasses.dataclass
class PrepareResult:
    """What `prepare` returns: the model's start before VaDE's training.

    Attributes:
        pretrain_recipe: str, the pretraining recipe used (`"auto"`
            resolved), or `None` when weights were loaded or pretraining was
            skipped.
        pretrain_history: dict, each pretraining metric to its per-epoch
            values (empty if none).
        mixture: the fitted scikit-learn estimator of the mixture's start.
        timings: dict of seconds: `pretrain`, `gmm`.
    """

    pretrain_recipe: str | None
    pretrain_history: dict
    mixture: object
    timings: dict


@validation.checks_once
def prepare(
    model,
    x,
    recipe=recipes.DEFAULT_RECIPE,
    *,
    pretrained=None,
    image_shape=None,
    random_state=None,
    pretrain_callbacks=(),
    jit_compile=compilation.JIT_COMPILE,
    verbose=0,
    on_stage=None,
):
    """Steps 1 and 2 of the workflow: the autoencoder and the mixture.

    The recipe's epochs are first raised to its minimum steps on `x`
    (`vade_tf.training.recipes.recipe_for_data`; small data only).
    Pretrains the autoencoder for `recipe.pretrain_epochs` with the
    pretraining recipe (`resolve_pretrain_recipe`), or takes a
    `pretrained` autoencoder instead (weights file or model), then fits
    the mixture prior on the latent means
    (`VaDE.initialize_mixture` with the recipe's `mixture_init`,
    `mixture_n_init` and `latent_std`). `train` calls it; `vade-tf pretrain`
    stops after it.

    Args:
        model, x, recipe, pretrained, image_shape, random_state,
        pretrain_callbacks, jit_compile, verbose, on_stage: see `train`.

    Returns:
        A `PrepareResult`.
    """
    recipe = recipes.get_recipe(recipe)
    _check_model(model)
    x = validation.check_model_input(model, x, clusters=True, streamed=False)
    recipe = recipes.recipe_for_data(
        recipe, len(x), image_shape, model.likelihood
    )
    pretrain_recipe, pretrain_history, seconds = pretraining.pretrain_or_load(
        model,
        x,
        recipe,
        pretrained=pretrained,
        image_shape=image_shape,
        pretrain_callbacks=pretrain_callbacks,
        jit_compile=jit_compile,
        verbose=verbose,
    )
    timings = {"pretrain": seconds}
    _report(on_stage, "pretrained", model)

    start = time.perf_counter()
    mixture = model.initialize_mixture(
        x,
        mixture_init=recipe.mixture_init,
        random_state=random_state,
        n_init=recipe.mixture_n_init,
        latent_std=recipe.latent_std,
    )
    timings["gmm"] = time.perf_counter() - start
    _report(on_stage, "initialized", model)
    return PrepareResult(
        pretrain_recipe=pretrain_recipe,
        pretrain_history=train_loop.plain(pretrain_history),
        mixture=mixture,
        timings=timings,
    )


@validation.checks_once
def train(
    model,
    x,
    recipe=recipes.DEFAULT_RECIPE,
    *,
    y=None,
    pretrained=None,
    image_shape=None,
    random_state=None,
    callbacks=(),
    pretrain_callbacks=(),
    validation_data=None,
    jit_compile=compilation.JIT_COMPILE,
    verbose=0,
    on_stage=None,
):
    """Runs VaDE's workflow on `model` and `x` from a recipe.

    The recipe's epochs are first raised to its minimum steps on `x`
    (`vade_tf.training.recipes.recipe_for_data`; small data only).

    1. Pretrain the autoencoder for `recipe.pretrain_epochs` with the
       pretraining recipe (`resolve_pretrain_recipe`), or load `pretrained`
       weights instead.
    2. Fit the mixture prior on the latent means (`VaDE.initialize_mixture`
       with the recipe's `mixture_init`, `mixture_n_init` and `latent_std`).
    3. Compile with the recipe's two Adam optimizers.
    4. Fit for `recipe.epochs` at `recipe.batch_size` with the recipe's
       schedule (`vade_tf.training.callbacks.StepDecay`), and with
       `vade_tf.training.callbacks.ClusteringMetrics` when labels `y` are given
       (labels are only reported, never used for training or selection).
    5. For a model trained without its mixture (`fits_mixture_after_training`,
       the VAE+GMM baseline `vade_tf.model.baselines.VAEGMM`), fit a Gaussian
       mixture (`mixture_init="gmm"`) on the trained latent means
       (`fit_mixture_after_training`).

    Args:
        model: a `vade_tf.VaDE` (see `build_model`).
        x: array of shape `(n_samples, input_dim)`.
        recipe: a name in `vade_tf.training.recipes.PRESETS` or a `Recipe`.
        y: `None` or int array of shape `(n_samples,)`, for the per-epoch
            ACC/NMI/ARI in the logs.
        pretrained: `None`, the path of autoencoder weights to load
            instead of pretraining, or a `vade_tf.VaDE` of the same
            architecture whose autoencoder and input scaling are copied
            (any K; see `choose_n_clusters`).
        image_shape: `(height, width[, channels])` of image data, for the
            "augment" pretraining recipe; `None` when not images.
        random_state: int or `None`, seeds the mixture's fit.
        callbacks: Keras callbacks for VaDE's `fit`, after the recipe's.
        pretrain_callbacks: Keras callbacks for pretraining.
        validation_data: passed to `fit`.
        jit_compile: True, False or "auto", XLA for pretraining and
            training (`vade_tf.training.compilation.resolve`).
        verbose: int, Keras's verbosity (0 silent, 1 progress bar, 2 one
            line per epoch).
        on_stage: `None` or a function `(stage, model)` called after each
            of `STAGES` (for example to save the autoencoder as soon as it
            is pretrained).

    Returns:
        A `TrainResult`.
    """
    recipe = recipes.get_recipe(recipe)
    _check_model(model)
    x = validation.check_model_input(model, x, clusters=True, streamed=False)
    recipe = recipes.recipe_for_data(
        recipe, len(x), image_shape, model.likelihood
    )
    if y is not None and len(y) != len(x):
        raise ValueError(
            f"y must have one label per sample of x ({len(x)}). Received "
            f"{len(y)} labels."
        )
    pretrained_state = []

    def report(stage, model):
        if stage == "pretrained" and recipe.n_starts > 1:
            pretrained_state.append(start_selection.capture(model.variables))
        _report(on_stage, stage, model)

    start = prepare(
        model,
        x,
        recipe,
        pretrained=pretrained,
        image_shape=image_shape,
        random_state=random_state,
        pretrain_callbacks=pretrain_callbacks,
        jit_compile=jit_compile,
        verbose=verbose,
        on_stage=report,
    )
    # Several workers: the start each computed is replaced by the chief's.
    distribute.broadcast_from_chief(model.variables, model.distribute_strategy)
    optimizer, mixture_optimizer = recipe.optimizers()
    model.compile(
        optimizer=optimizer,
        mixture_optimizer=mixture_optimizer,
        jit_compile=jit_compile,
    )
    mixture, starts, initial_epoch = start.mixture, None, 0
    started = time.perf_counter()
    if recipe.n_starts > 1:
        starts = start_selection.select_start(
            model, x, recipe, pretrained_state[0], random_state=random_state
        )
        mixture, initial_epoch = starts.mixture, starts.epochs
    history = {}
    if initial_epoch < recipe.epochs:
        history, _ = train_loop.fit_epochs(
            model,
            x,
            recipe,
            y=y,
            shuffle_seed=train_loop.shuffle_seed(random_state),
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            validation_data=validation_data,
            verbose=verbose,
        )
    mixture = baselines.fit_mixture_after_training(
        model, x, recipe, random_state=random_state, default=mixture
    )
    _report(on_stage, "trained", model)
    return TrainResult(
        model=model,
        recipe=recipe,
        pretrain_recipe=start.pretrain_recipe,
        history=history,
        pretrain_history=start.pretrain_history,
        mixture=mixture,
        timings={**start.timings, "train": time.perf_counter() - started},
        starts=starts,
    )


@validation.checks_once
def choose_n_clusters(
    model,
    x,
    recipe=recipes.DEFAULT_RECIPE,
    *,
    k_range=None,
    criterion=k_selection.DEFAULT_CRITERION,
    pretrained=None,
    image_shape=None,
    random_state=None,
    pretrain_callbacks=(),
    jit_compile=compilation.JIT_COMPILE,
    verbose=0,
    on_stage=None,
):
    """Pretrains `model`'s autoencoder and chooses K on its latent means.

    The autoencoder does not depend on K, so `model` may have been built
    with any K: it is pretrained as `prepare` would (or takes `pretrained`
    weights), reports the `"pretrained"` stage to `on_stage`, and every K
    of `k_range` is scored on its latent means by `criterion`
    (`vade_tf.training.k_selection`). Labels are never used. Train the
    chosen K with `train(building.build_model(x, selection.n_clusters, ...), x,
    recipe, pretrained=model)`, which copies this autoencoder instead of
    pretraining again; `build_and_train` does all of it.

    Args:
        model: a `vade_tf.VaDE` (see `build_model`; its K is ignored).
        x: array of shape `(n_samples, input_dim)`.
        recipe: a name in `vade_tf.training.recipes.PRESETS` or a `Recipe`.
        k_range: `(k_min, k_max)`, `"k_min:k_max"` or `None` for
            `vade_tf.training.k_selection.default_k_range(n_samples)`.
        criterion: one of `vade_tf.training.k_selection.CRITERIA`.
        pretrained, image_shape, pretrain_callbacks, jit_compile, verbose,
        on_stage: see `train`.
        random_state: int or `None`, seeds the criterion's mixtures.

    Returns:
        Tuple `(selection, prepared)`: a
        `vade_tf.training.k_selection.KSelection`
        and a `PrepareResult` of the pretraining (its `mixture` is `None`).
    """
    recipe = recipes.get_recipe(recipe)
    _check_model(model)
    x = validation.check_model_input(model, x, clusters=True, streamed=False)
    recipe = recipes.recipe_for_data(
        recipe, len(x), image_shape, model.likelihood
    )
    # Checked before pretraining, which a bad range would waste.
    k_selection.check_k_range(k_range, n_samples=len(x))
    validation.check_choice(criterion, "criterion", k_selection.CRITERIA)
    pretrain_recipe, pretrain_history, seconds = pretraining.pretrain_or_load(
        model,
        x,
        recipe,
        pretrained=pretrained,
        image_shape=image_shape,
        pretrain_callbacks=pretrain_callbacks,
        jit_compile=jit_compile,
        verbose=verbose,
    )
    _report(on_stage, "pretrained", model)
    selection = k_selection.choose_n_clusters(
        model.transform(x, check_input=False),
        k_range,
        criterion,
        random_state=train_loop.shuffle_seed(random_state),
    )
    prepared = PrepareResult(
        pretrain_recipe=pretrain_recipe,
        pretrain_history=train_loop.plain(pretrain_history),
        mixture=None,
        timings={"pretrain": seconds, "k_selection": selection.seconds},
    )
    return selection, prepared


@validation.checks_once
def build_and_train(
    x,
    n_clusters=k_selection.AUTO,
    recipe=recipes.DEFAULT_RECIPE,
    *,
    k_range=None,
    criterion=k_selection.DEFAULT_CRITERION,
    likelihood=LIKELIHOOD_AUTO,
    input_scaling=choices.INPUT_SCALINGS[0],
    model_class=None,
    model_kwargs=None,
    **train_kwargs,
):
    """`build_model` then `train`, with K given or chosen (`"auto"`).

    With `n_clusters="auto"` a model is built and pretrained once, K is
    chosen on its latent means (`choose_n_clusters`), and a model with
    that K trains from the same autoencoder: the choice costs the
    criterion's fits, not another pretraining.

    Args:
        x: array of shape `(n_samples, n_features)`.
        n_clusters: int >= 2, or `"auto"`.
        recipe: a name in `vade_tf.training.recipes.PRESETS` or a `Recipe`.
        k_range, criterion: see `choose_n_clusters` (used with "auto").
        likelihood, input_scaling, model_class: see `build_model`.
        model_kwargs: dict of the other `VaDE` arguments, or `None`.
        **train_kwargs: passed to `train` (`y`, `pretrained`,
            `image_shape`, `random_state`, `callbacks`, `jit_compile`,
            `verbose`, `on_stage`, ...).

    Returns:
        A `TrainResult`; its `k_selection` is the `KSelection` with "auto",
        else `None`, and its `model` the model trained.
    """
    model_kwargs = dict(model_kwargs or {})

    def build(k):
        return building.build_model(
            x,
            k,
            likelihood=likelihood,
            input_scaling=input_scaling,
            model_class=model_class,
            **model_kwargs,
        )

    if not k_selection.is_auto(n_clusters):
        return train(build(n_clusters), x, recipe, **train_kwargs)
    recipe = recipes.get_recipe(recipe)
    probe = build(k_selection.check_k_range(k_range, n_samples=len(x))[0])
    select_kwargs = {
        key: train_kwargs[key]
        for key in (
            "pretrained",
            "image_shape",
            "random_state",
            "pretrain_callbacks",
            "jit_compile",
            "verbose",
            "on_stage",
        )
        if key in train_kwargs
    }
    selection, prepared = choose_n_clusters(
        probe,
        x,
        recipe,
        k_range=k_range,
        criterion=criterion,
        **select_kwargs,
    )
    train_kwargs["pretrained"] = probe
    result = train(build(selection.n_clusters), x, recipe, **train_kwargs)
    result.k_selection = selection
    result.pretrain_recipe = prepared.pretrain_recipe
    result.pretrain_history = prepared.pretrain_history
    result.timings = {**result.timings, **prepared.timings}
    return result


@validation.checks_once
def resume(
    model,
    x,
    recipe=recipes.DEFAULT_RECIPE,
    *,
    y=None,
    random_state=None,
    callbacks=(),
    validation_data=None,
    verbose=0,
):
    """Continues `train` from a checkpoint of it.

    `model` is a `vade_tf.training.callbacks.Checkpoint` file loaded with
    `keras.models.load_model`: it holds the network and mixture weights,
    both optimizers' states (their step counts included) and the state of
    the sampling layer's random generator. Training goes on at the epoch
    after the last one saved (`attempted_steps` over the steps per epoch)
    up to `recipe.epochs`, with the recipe's schedule at
    that epoch and the data in the order `train` would have used: with the
    same `random_state`, training 4 epochs straight and 2 + 2 with a resume
    give the same weights (to float tolerance; tests/training/test_resume.py).

    Args:
        model: a compiled `vade_tf.VaDE` loaded from a checkpoint.
        x, recipe, y, random_state, callbacks, validation_data, verbose: as
            given to `train` for the run being resumed.

    Returns:
        A `TrainResult` (no pretraining or mixture fit; `history` holds the
        resumed epochs).
    """
    recipe = recipes.get_recipe(recipe)
    _check_model(model)
    if model.mixture_optimizer is None:
        raise ValueError(
            "resume needs a compiled model loaded from a checkpoint (its "
            "optimizers' states). Received a model that was never compiled."
        )
    x = validation.check_model_input(model, x, clusters=True, streamed=False)
    # VaDE's epochs raised to its minimum steps (`Recipe.for_data`); the
    # autoencoder is the checkpoint's, so its epochs are left as they are.
    recipe = dataclasses.replace(
        recipe,
        epochs=recipes.epochs_for_steps(
            recipe.epochs, recipe.min_steps, len(x), recipe.batch_size
        ),
    )
    steps = math.ceil(len(x) / recipe.batch_size)
    done = train_loop.attempted_steps(model)
    if done % steps:
        raise ValueError(
            f"The checkpoint stopped after {done} steps, not at the end of "
            f"an epoch of {steps} steps ({len(x)} samples in batches of "
            f"{recipe.batch_size}): resume needs the data and batch size "
            "of the run that wrote it."
        )
    initial_epoch = done // steps
    if initial_epoch >= recipe.epochs:
        raise ValueError(
            f"The checkpoint has finished {initial_epoch} epochs; the "
            f"recipe trains {recipe.epochs}. Nothing to resume (raise "
            "epochs to train on)."
        )
    history, seconds = train_loop.fit_epochs(
        model,
        x,
        recipe,
        y=y,
        shuffle_seed=train_loop.shuffle_seed(random_state),
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        validation_data=validation_data,
        verbose=verbose,
    )
    mixture = baselines.fit_mixture_after_training(
        model, x, recipe, random_state=random_state, default=None
    )
    return TrainResult(
        model=model,
        recipe=recipe,
        pretrain_recipe=None,
        history=history,
        pretrain_history={},
        mixture=mixture,
        timings={"train": seconds},
    )


# The batch order, public here too (it lives in `vade_tf.training.batches`).
epoch_batches = batches.epoch_batches


def _check_model(model):
    if not isinstance(model, vade_model.VaDE):
        raise ValueError(
            "model must be a vade_tf.VaDE (see vade_tf.workflow."
            f"build_model). Received: {type(model).__name__}"
        )


def _report(on_stage, stage, model):
    if on_stage is not None:
        on_stage(stage, model)


__all__ = [
    "STAGES",
    "PrepareResult",
    "StartSelection",
    "TrainResult",
    "build_and_train",
    "attempted_steps",
    "build_model",
    "choose_n_clusters",
    "epoch_batches",
    "prepare",
    "resolve_likelihood",
    "resolve_pretrain_recipe",
    "resume",
    "select_start",
    "shuffle_seed",
    "train",
]
