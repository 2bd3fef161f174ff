"""workflow.train: the stages in order, the recipe applied, the result."""

import keras
import numpy as np
import pytest

from vade_tf import workflow
from vade_tf.training import recipes


def test_train_runs_the_recipe_and_reports_each_stage(blobs):
    x, y = blobs
    model = workflow.build_model(
        x, n_clusters=3, latent_dim=2, hidden_dims=(16, 8), seed=0
    )
    assert model.likelihood.name == "bernoulli"  # x is in [0, 1]
    recipe = recipes.get_recipe(
        "tuned",
        pretrain_epochs=3,
        pretrain_batch_size=20,
        epochs=2,
        batch_size=40,
        mixture_n_init=2,
        learning_rate=1e-3,
    )
    stages = []
    result = workflow.train(
        model,
        x,
        recipe,
        y=y,
        random_state=0,
        jit_compile=False,
        on_stage=lambda stage, m: stages.append((stage, m is model)),
    )
    assert stages == [(stage, True) for stage in workflow.STAGES]
    assert result.recipe == recipe and result.pretrain_recipe == "adam"
    assert len(result.pretrain_history["loss"]) == 3
    assert len(result.history["loss"]) == 2 and "acc" in result.history
    assert set(result.timings) == {"pretrain", "gmm", "train"}
    # The recipe's rates and its k-means start were used.
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    assert float(
        model.mixture_optimizer.learning_rate.numpy()
    ) == pytest.approx(recipe.mixture_learning_rate)
    assert type(result.mixture).__name__ == "KMeans"
    # Latent rescaled to a mean per-dimension std of 5 before the mixture.
    assert np.mean(np.std(model.transform(x), axis=0)) == pytest.approx(
        5.0, rel=0.3
    )


def test_build_model_and_train_check_their_input(blobs):
    x, y = blobs
    assert (
        workflow.build_model(x * 5, n_clusters=3).likelihood.name == "gaussian"
    )
    with pytest.raises(ValueError, match="n_clusters=200 is more than"):
        workflow.build_model(x, n_clusters=200)
    model = workflow.build_model(x, n_clusters=3, hidden_dims=(8,))
    with pytest.raises(ValueError, match="one label per sample"):
        workflow.train(model, x, "original", y=y[:10])
    with pytest.raises(ValueError, match="must be a vade_tf.VaDE"):
        workflow.train(object(), x)


@pytest.mark.slow  # two trainings, about 20 s
def test_same_seed_gives_the_same_clustering_twice():
    # Determinism on one machine: same seed, same thread count, same data
    # -> identical weights and clusters (docs/reliability.md says what can
    # differ across machines).
    x = np.random.default_rng(0).random((200, 12)).astype("float32")
    recipe = recipes.get_recipe(
        "original", pretrain_epochs=3, epochs=3, mixture_n_init=2, batch_size=50
    )
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        model = workflow.build_model(
            x, n_clusters=3, latent_dim=2, hidden_dims=(16, 16), seed=0
        )
        workflow.train(model, x, recipe, random_state=0)
        runs.append((model.get_weights(), model.predict_clusters(x)))
    (weights_a, clusters_a), (weights_b, clusters_b) = runs
    np.testing.assert_array_equal(clusters_a, clusters_b)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)


def _small_recipe(**changes):
    return recipes.get_recipe(
        "tuned",
        pretrain_epochs=3,
        pretrain_batch_size=20,
        batch_size=40,
        mixture_n_init=1,
        learning_rate=1e-3,
        **changes,
    )


def _prepared_for_starts(x, recipe, seed=1):
    """A compiled model after pretraining, and its pretrained variables."""
    model = workflow.build_model(
        x, n_clusters=3, latent_dim=2, hidden_dims=(16, 8), seed=seed
    )
    pretrained = []
    workflow.prepare(
        model,
        x,
        recipe,
        random_state=0,
        jit_compile=False,
        on_stage=lambda stage, m: (
            pretrained.append([v.numpy() for v in m.variables])
            if stage == "pretrained"
            else None
        ),
    )
    optimizer, mixture_optimizer = recipe.optimizers()
    model.compile(
        optimizer=optimizer,
        mixture_optimizer=mixture_optimizer,
        jit_compile=False,
    )
    return model, pretrained[0]


def test_several_starts_keep_the_best_elbo_and_train_on(blobs):
    x, y = blobs
    model = workflow.build_model(
        x, n_clusters=3, latent_dim=2, hidden_dims=(16, 8), seed=0
    )
    recipe = _small_recipe(epochs=3, n_starts=3, start_epochs=1)
    result = workflow.train(
        model, x, recipe, y=y, random_state=5, jit_compile=False
    )
    starts = result.starts
    assert starts.seeds == [5, 6, 7] and starts.epochs == 1
    assert len(starts.elbo) == 3 and np.all(np.isfinite(starts.elbo))
    assert starts.chosen == int(np.argmax(starts.elbo))
    assert result.mixture is starts.mixture
    # The kept start trained on: its first epoch, then epochs 2 and 3, with
    # the optimizers' step counts carried over (3 steps an epoch).
    assert len(result.history["loss"]) == 2 and "acc" in result.history
    assert int(model.optimizer.iterations.numpy()) == 9
    assert int(model.mixture_optimizer.iterations.numpy()) == 9


def test_select_start_leaves_the_model_as_the_best_start_ended(blobs):
    x, _ = blobs
    recipe = _small_recipe(epochs=4, n_starts=2, start_epochs=2)
    model, pretrained = _prepared_for_starts(x, recipe)
    starts = workflow.select_start(model, x, recipe, pretrained, random_state=0)
    assert starts.seeds == [0, 1] and starts.epochs == 2
    # Restored exactly: the same weights give the same (seeded) ELBO.
    assert np.mean(model.score_samples(x)) == pytest.approx(
        starts.elbo[starts.chosen], rel=1e-6
    )
    assert int(model.optimizer.iterations.numpy()) == 6


def test_n_starts_and_start_epochs_are_checked():
    with pytest.raises(ValueError, match="n_starts"):
        recipes.get_recipe("tuned", n_starts=0)
    with pytest.raises(ValueError, match="start_epochs"):
        recipes.get_recipe("tuned", start_epochs=0)


def test_select_start_never_keeps_a_start_whose_elbo_is_not_finite(
    blobs, monkeypatch
):
    x, _ = blobs
    recipe = _small_recipe(epochs=2, n_starts=3, start_epochs=1)
    model, pretrained = _prepared_for_starts(x, recipe)
    real_score = type(model).score_samples
    calls = []

    def first_start_diverged(self, *args, **kwargs):
        # The first start (however good its real ELBO) reads as diverged.
        scores = real_score(self, *args, **kwargs)
        calls.append(len(calls))
        return np.full_like(scores, np.nan) if len(calls) == 1 else scores

    monkeypatch.setattr(type(model), "score_samples", first_start_diverged)
    starts = workflow.select_start(model, x, recipe, pretrained, random_state=0)
    assert np.isnan(starts.elbo[0]) and np.all(np.isfinite(starts.elbo[1:]))
    assert starts.chosen == 1 + int(np.argmax(starts.elbo[1:]))
    assert starts.mixture is not None
    # The model is left as the chosen start ended.
    monkeypatch.setattr(type(model), "score_samples", real_score)
    assert np.mean(model.score_samples(x)) == pytest.approx(
        starts.elbo[starts.chosen], rel=1e-6
    )

    # Every start diverged: a clear error, not a crash on a missing state.
    monkeypatch.setattr(
        type(model),
        "score_samples",
        lambda self, *a, **k: np.full((len(a[0]),), np.nan, "float32"),
    )
    with pytest.raises(FloatingPointError, match="Every one of the 3"):
        workflow.select_start(model, x, recipe, pretrained, random_state=0)


def test_standardised_input_takes_no_bernoulli_likelihood(blobs):
    x, _ = blobs  # in [0, 1]: "auto" alone would be bernoulli
    assert workflow.resolve_likelihood(x) == "bernoulli"
    assert workflow.resolve_likelihood(x, "auto", "standardize") == "gaussian"
    model = workflow.build_model(
        x, n_clusters=3, hidden_dims=(8,), input_scaling="standardize"
    )
    assert model.likelihood.name == "gaussian"
    assert not model.input_scaling.is_identity
    with pytest.raises(ValueError, match="bernoulli likelihood scores"):
        workflow.build_model(
            x,
            n_clusters=3,
            likelihood="bernoulli",
            input_scaling="standardize",
        )


def test_train_reads_and_checks_the_data_once(blobs, monkeypatch):
    from vade_tf import validation

    x, _ = blobs
    model = workflow.build_model(
        x, n_clusters=3, latent_dim=2, hidden_dims=(16, 8), seed=0
    )
    checked = []
    check_data = validation.check_data

    def counting(array, *args, **kwargs):
        checked.append(array.shape)
        return check_data(array, *args, **kwargs)

    monkeypatch.setattr(validation, "check_data", counting)
    recipe = recipes.get_recipe(
        "tuned",
        pretrain_epochs=1,
        epochs=1,
        batch_size=40,
        n_starts=2,
        start_epochs=1,
    )
    workflow.train(model, x, recipe, random_state=0, jit_compile=False)
    assert checked == [x.shape]  # pretrain, starts, mixture, fit: no more
    # Outside the workflow, each public method checks its input.
    model.initialize_mixture(x, random_state=0)
    model.transform(x)
    assert len(checked) == 3


def test_small_data_train_the_recipes_minimum_steps(blobs):
    x, _ = blobs
    n = len(x)
    model = workflow.build_model(
        x, n_clusters=3, latent_dim=2, hidden_dims=(8,), seed=0
    )
    recipe = recipes.get_recipe(
        "tuned", pretrain_epochs=1, pretrain_min_steps=4 * -(-n // 64),
        epochs=1, min_steps=3 * -(-n // 50), batch_size=50, mixture_n_init=1,
    )  # fmt: skip
    result = workflow.train(model, x, recipe, random_state=0, jit_compile=False)
    # The "adam" pretraining recipe's batches of 64: 4 epochs reach its
    # minimum; VaDE's batches of 50: 3 epochs.
    assert len(result.pretrain_history["loss"]) == 4
    assert len(result.history["loss"]) == 3
    assert (result.recipe.pretrain_epochs, result.recipe.epochs) == (4, 3)
    assert workflow.attempted_steps(model) == 3 * -(-n // 50)
