"""Checkpoints resume exactly: 4 epochs straight equal 2 + 2 with a stop, and
a resume in a new process, to float tolerance."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from vade_tf import workflow
from vade_tf.training import batches, recipes

# Runs in a fresh interpreter: "straight" trains 4 epochs; "stop" trains
# with a Checkpoint and stops after epoch 2; "resume" loads the checkpoint
# and finishes. Each writes the final weights to weights.npz.
SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np, keras
    import vade_tf
    from vade_tf import workflow
    from vade_tf.training import callbacks, recipes

    mode, folder = sys.argv[1], sys.argv[2]
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((250, 16)).astype("float32")
    recipe = recipes.get_recipe(
        "original", pretrain_epochs=2, mixture_n_init=1, epochs=4,
        batch_size=32,
        lr_decay_every=1, lr_decay=0.5, lr_floor=0.0,
    )
    checkpoint = folder + "/checkpoint.keras"

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == 2:
                self.model.stop_training = True

    if mode == "resume":
        model = keras.models.load_model(checkpoint)
        workflow.resume(model, x, recipe, random_state=7)
    else:
        model = workflow.build_model(
            x, n_clusters=3, latent_dim=2, hidden_dims=(32, 32), seed=0
        )
        extra = (
            [callbacks.Checkpoint(checkpoint), StopAfter()]
            if mode == "stop" else []
        )
        workflow.train(model, x, recipe, random_state=7, callbacks=extra)
    np.savez(
        folder + "/weights.npz",
        *model.get_weights(),
        *[np.asarray(v) for v in model.optimizer.variables],
        *[np.asarray(v) for v in model.mixture_optimizer.variables],
    )
    """
)


def _run(mode, folder):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(folder)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(folder / "weights.npz") as arrays:
        return [arrays[key] for key in sorted(arrays, key=lambda k: int(k[4:]))]


@pytest.mark.slow  # three fresh interpreters: about 80 s
def test_stop_and_resume_in_a_new_process_equals_a_straight_run(tmp_path):
    straight = tmp_path / "straight"
    stopped = tmp_path / "stopped"
    straight.mkdir()
    stopped.mkdir()
    expected = _run("straight", straight)
    halfway = _run("stop", stopped)
    resumed = _run("resume", stopped)
    assert len(resumed) == len(expected)
    # Halfway differs from the end: the resume really trained.
    assert any(not np.allclose(a, b) for a, b in zip(halfway, expected))
    # Weights, both optimizers' moments and step counts, and the learning
    # rates the schedule set.
    for ours, theirs in zip(resumed, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def _tiny(x):
    return workflow.build_model(
        x, n_clusters=3, latent_dim=2, hidden_dims=(16,), seed=0
    )


def test_epoch_batches_visit_every_row_once_in_an_order_set_by_the_epoch():
    x = np.arange(10, dtype="float32")[:, None]
    batches = [
        b.numpy()[:, 0] for b in workflow.epoch_batches(x, 4, seed=3, epochs=2)
    ]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first = np.concatenate(batches[:3])
    second = np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)
    # Epoch 1 alone, as a resumed run builds it, is the same order.
    again = np.concatenate(
        [
            b.numpy()[:, 0]
            for b in workflow.epoch_batches(
                x, 4, seed=3, initial_epoch=1, epochs=2
            )
        ]
    )
    np.testing.assert_array_equal(again, second)


def test_shuffled_epochs_pass_once_per_epoch_in_the_order_of_epoch_batches():
    x = np.arange(10, dtype="float32")[:, None]
    dataset, callback = batches.shuffled_epochs(x, 4, seed=3)
    assert int(dataset.cardinality()) == 3
    for epoch in (1, 0, 4):
        callback.on_epoch_begin(epoch)
        passed = [b.numpy()[:, 0] for b in dataset]
        assert [len(b) for b in passed] == [4, 4, 2]
        expected = workflow.epoch_batches(
            x, 4, seed=3, initial_epoch=epoch, epochs=epoch + 1
        )
        np.testing.assert_array_equal(
            np.concatenate(passed),
            np.concatenate([b.numpy()[:, 0] for b in expected]),
        )


def test_training_batches_are_made_in_the_callers_thread():
    # With an autotuned prefetch whole epochs ran at half to two thirds of
    # the speed on a 2-core machine (docs/performance.md, "The training
    # input"): neither pipeline may autotune, so neither gets one injected.
    x = np.arange(10, dtype="float32")[:, None]
    dataset, _ = batches.shuffled_epochs(x, 4, seed=3)
    for pipeline in (dataset, workflow.epoch_batches(x, 4, seed=3)):
        options = pipeline.options()
        assert options.autotune.enabled is False
        assert options.experimental_optimization.inject_prefetch is False


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    x = np.random.default_rng(0).random((60, 16)).astype("float32")
    recipe = recipes.get_recipe(
        "original", pretrain_epochs=0, mixture_n_init=1, epochs=2, batch_size=20
    )
    model = _tiny(x)
    with pytest.raises(ValueError, match="never compiled"):
        workflow.resume(model, x, recipe)
    workflow.train(model, x, recipe, random_state=0)
    with pytest.raises(ValueError, match="finished 2 epochs"):
        workflow.resume(model, x, recipe)
    with pytest.raises(ValueError, match="not at the end of an epoch"):
        # 70 rows are 4 batches of 20 an epoch; 6 steps were taken.
        workflow.resume(
            model, np.concatenate([x, x[:10]]), recipe.replace(epochs=5)
        )


def test_backup_and_restore_brings_back_weights_and_both_optimizers(tmp_path):
    x = np.random.default_rng(0).random((60, 16)).astype("float32")
    model = _tiny(x)
    model.initialize_mixture(x, n_init=1, random_state=0)
    model.compile(jit_compile=False)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        model.fit(
            x,
            epochs=4,
            batch_size=20,
            verbose=0,
            callbacks=[backup, Interrupt()],
        )
    saved = [np.asarray(v) for v in model.mixture_optimizer.variables]
    fresh = _tiny(x)
    fresh.compile(jit_compile=False)
    history = fresh.fit(
        x, epochs=4, batch_size=20, verbose=0, callbacks=[backup]
    )
    # The crash hit after epoch 2's backup: epochs 3 and 4 remain.
    assert len(history.history["loss"]) == 2
    assert int(fresh.mixture_optimizer.iterations.numpy()) == 4 * 3
    assert int(np.asarray(saved[0])) == 2 * 3
