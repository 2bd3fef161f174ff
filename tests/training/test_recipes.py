"""Recipes: the presets' values, overrides, checks, optimizers, schedule."""

import dataclasses

import keras
import pytest

from vade_tf.training import recipes


def test_original_preset_is_the_release():
    recipe = recipes.get_recipe("original")
    assert recipe is recipes.ORIGINAL
    assert (recipe.learning_rate, recipe.mixture_learning_rate) == (
        0.002,
        0.002,
    )
    assert recipe.epsilon == 1e-4
    assert (recipe.lr_decay, recipe.lr_decay_every, recipe.lr_floor) == (
        0.9,
        10,
        0.0002,
    )
    assert (recipe.mixture_init, recipe.latent_std, recipe.batch_size) == (
        "gmm",
        None,
        100,
    )


def test_the_default_is_the_tuned_preset_everywhere():
    import inspect

    import vade_tf

    assert recipes.DEFAULT_RECIPE == "tuned"
    assert recipes.get_recipe() is recipes.TUNED
    assert vade_tf.VaDEClustering().recipe == recipes.DEFAULT_RECIPE
    for function in (vade_tf.workflow.train, vade_tf.workflow.prepare):
        default = inspect.signature(function).parameters["recipe"].default
        assert default == recipes.DEFAULT_RECIPE


def test_tuned_preset_differs_in_the_three_measured_choices():
    tuned, original = recipes.TUNED, recipes.ORIGINAL
    assert (tuned.mixture_init, tuned.latent_std, tuned.learning_rate) == (
        "kmeans",
        5.0,
        0.0002,
    )
    assert tuned.mixture_learning_rate == original.mixture_learning_rate
    assert recipes.get_recipe("TUNED") is tuned


def test_overrides_and_checks():
    recipe = recipes.get_recipe("tuned", epochs=100, latent_std=None)
    assert (recipe.epochs, recipe.latent_std, recipe.name) == (
        100,
        None,
        "tuned",
    )
    assert recipes.TUNED.epochs == 20  # presets are never changed
    with pytest.raises(ValueError, match="Unknown recipe"):
        recipes.get_recipe("fast")
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        recipes.get_recipe("original", epochs=0)
    with pytest.raises(ValueError, match="mixture_init must be one of"):
        recipes.get_recipe("original", mixture_init="em")
    with pytest.raises(ValueError, match="learning_rate must be a finite"):
        recipes.get_recipe("original", learning_rate=-1.0)
    with pytest.raises(TypeError):
        recipes.get_recipe("original", learning_rates=0.1)


def test_optimizers_and_schedule_follow_the_recipe():
    recipe = recipes.get_recipe("tuned")
    network, mixture = recipe.optimizers()
    assert isinstance(network, keras.optimizers.Adam) and network is not mixture
    assert float(network.learning_rate.numpy()) == pytest.approx(0.0002)
    assert float(mixture.learning_rate.numpy()) == pytest.approx(0.002)
    assert network.epsilon == mixture.epsilon == 1e-4
    schedule = recipe.schedule()
    assert schedule.initial_rates == [0.0002, 0.002]
    assert (schedule.decay, schedule.every, schedule.floor) == (0.9, 10, 0.0002)


def test_every_tunable_field_is_a_flag_and_an_estimator_parameter():
    import inspect

    from vade_tf import cli, estimator

    fields = recipes.tunable_fields()
    assert {f.name for f in fields} >= {"noise", "mixture_updates", "epochs"}
    parameters = inspect.signature(estimator.VaDEClustering).parameters
    parser = cli.build_parser()
    commands = next(
        a
        for a in parser._actions
        if hasattr(a, "choices") and a.choices and "train" in a.choices
    ).choices
    for command in ("train", "reproduce", "pretrain"):
        destinations = {a.dest for a in commands[command]._actions}
        for field in fields:
            assert recipes.flag_name(field) in destinations, (command, field)
    for field in fields:
        assert field.name in parameters, field.name
        assert parameters[field.name].default is None
    # Each set from both surfaces lands in the recipe.
    args = parser.parse_args(
        [
            "train",
            "--dataset",
            "digits",
            "--noise",
            "0.2",
            "--mixture-updates",
            "relative",
            "--lr",
            "0.001",
        ]
    )
    recipe = cli.inputs.recipe_from_args(args)
    assert (recipe.noise, recipe.mixture_updates, recipe.learning_rate) == (
        0.2,
        "relative",
        0.001,
    )
    clustering = estimator.VaDEClustering(noise=0.2, mixture_updates="relative")
    recipe = clustering._check_params(n_samples=100)
    assert (recipe.noise, recipe.mixture_updates) == (0.2, "relative")


def test_the_old_mixture_names_still_set_the_renamed_fields():
    recipe = recipes.get_recipe("original", gmm_init="kmeans", gmm_n_init=3)
    assert (recipe.mixture_init, recipe.mixture_n_init) == ("kmeans", 3)
    changed = recipe.replace(gmm_learning_rate=0.01, gmm_updates="relative")
    assert changed.mixture_learning_rate == 0.01
    assert changed.mixture_updates == "relative"
    with pytest.raises(TypeError, match="old name of mixture_init"):
        recipe.replace(gmm_init="gmm", mixture_init="kmeans")
    # Every old name maps to a field that exists.
    fields = {field.name for field in dataclasses.fields(recipes.Recipe)}
    assert set(recipes.RENAMED_FIELDS.values()) <= fields
    flags = {recipes.flag_name(field) for field in recipes.tunable_fields()}
    assert set(recipes.RENAMED_FLAGS.values()) <= flags


def test_minimum_steps_raise_the_epochs_of_small_data():
    # Independently: steps per epoch, then the epochs that reach the minimum.
    cases = [(1797, 100, 20, 1000), (178, 64, 40, 2000),
             (70000, 256, 40, 2000), (50, 100, 3, 0)]  # fmt: skip
    for n, batch, epochs, min_steps in cases:
        per_epoch = -(-n // batch)
        expected = max(epochs, -(-min_steps // per_epoch))
        assert recipes.epochs_for_steps(epochs, min_steps, n, batch) == expected
        assert expected * per_epoch >= min_steps
    tuned = recipes.get_recipe()
    assert (tuned.pretrain_min_steps, tuned.min_steps) == (None, 1000)
    # The 8x8 digits (1,797 rows): VaDE at batch 100 (18 steps an epoch)
    # runs 56 epochs; pretraining ("adam", no minimum) keeps its 40.
    digits = recipes.recipe_for_data(tuned, 1797)
    assert (digits.pretrain_epochs, digits.epochs) == (40, 56)
    # The pretraining recipe's minimum, in at most 5 times its epochs:
    # 20,000 images, augmented at batch 256, are 79 steps an epoch; 10,000
    # steps are 127 epochs. All of MNIST (274 steps an epoch) keeps its 40;
    # 500 images (2 steps an epoch) stop at 200 epochs. 600 cells of counts
    # (3 steps an epoch) get 500 steps, 3,000 cells (12) 42 epochs.
    table = recipes.PRETRAIN_MIN_STEPS
    assert recipes.PRETRAIN_MAX_RAISE == 5
    cases = [(20000, (28, 28), None, -(-table["augment"] // 79)),
             (70000, (28, 28), None, 40),
             (500, (28, 28), None, 5 * 40),
             (600, None, "zinb", -(-table["counts"] // 3)),
             (3000, None, "zinb", -(-table["counts"] // 12))]  # fmt: skip
    for n, shape, likelihood, expected in cases:
        raised = recipes.recipe_for_data(tuned, n, shape, likelihood)
        assert (raised.pretrain_epochs, raised.epochs) == (
            expected,
            max(20, -(-1000 // -(-n // 100))),
        ), (n, shape, likelihood)
    assert recipes.recipe_for_data(tuned, 70000, (28, 28)) is tuned
    # A minimum given replaces the table's; a pretraining recipe given
    # brings its own ("dec": none).
    given = tuned.replace(pretrain_min_steps=0)
    assert (
        recipes.recipe_for_data(given, 600, None, "zinb").pretrain_epochs == 40
    )
    dec = tuned.replace(pretrain_recipe="dec")
    assert recipes.recipe_for_data(dec, 20000, (28, 28)).pretrain_epochs == 40
    with pytest.raises(ValueError, match="pretrain_min_steps"):
        tuned.for_data(600, 256, None)
    # The original recipe has no minimum, whatever the data.
    original = recipes.get_recipe("original")
    assert recipes.recipe_for_data(original, 20000, (28, 28)) is original
    # With a pretraining minimum: "adam" at batch 64 is 29 steps an epoch.
    both = tuned.replace(pretrain_min_steps=2000)
    assert recipes.recipe_for_data(both, 1797).pretrain_epochs == 69
    # Large data keep the preset's epochs, and the same recipe comes back.
    assert recipes.recipe_for_data(both, 70000, (28, 28)) is both
    # Counts pretrain at batch 256; no pretraining stays none.
    counts = recipes.recipe_for_data(both, 600, likelihood="zinb")
    assert counts.pretrain_epochs == 667
    none = both.replace(pretrain_epochs=0, pretrain_min_steps=2000)
    assert none.for_data(600, 256).pretrain_epochs == 0


def test_epochs_given_are_the_epochs_trained():
    tuned = recipes.get_recipe()
    given = recipes.get_recipe("tuned", epochs=5, pretrain_epochs=3)
    assert (given.min_steps, given.pretrain_min_steps) == (0, 0)
    assert recipes.recipe_for_data(given, 100) == given
    both = tuned.replace(epochs=5, min_steps=300)
    assert (both.epochs, both.min_steps) == (5, 300)
    assert both.for_data(100, 64).epochs == 300
    # Other changes keep the minimum steps.
    assert tuned.replace(learning_rate=0.001).min_steps == tuned.min_steps
    with pytest.raises(ValueError, match="min_steps"):
        tuned.replace(min_steps=-1)
