"""Edges found when the library was checked from outside: each case fails
without its fix (mixed_float16 resume, diverged training, data without
spread, the unit interval's rounding, atomic saves, misnamed files)."""

import os

import keras
import numpy as np
import pytest

import vade_tf
from vade_tf import workflow
from vade_tf.data import datasets, files
from vade_tf.training import callbacks, recipes

TINY = recipes.get_recipe(
    "tuned", pretrain_epochs=1, epochs=1, mixture_n_init=1, batch_size=50
)


def _small(x, k=3, **kwargs):
    return workflow.build_model(
        x, k, latent_dim=2, hidden_dims=(32,), seed=0, **kwargs
    )


@pytest.mark.slow  # over 6 s on 2 cores
def test_mixed_float16_resume_counts_skipped_steps(tmp_path):
    x, _ = datasets.load_dataset("digits")
    x = x[:600]
    recipe = lambda epochs: recipes.get_recipe(  # noqa: E731
        "original", pretrain_epochs=1, epochs=epochs, mixture_n_init=1
    )
    checkpoint = str(tmp_path / "b.keras")
    keras.utils.set_random_seed(0)
    with vade_tf.model.vade.dtype_policy_scope("mixed_float16"):
        model = workflow.build_model(
            x, 10, latent_dim=10, hidden_dims=(64, 64, 256), seed=0
        )
        workflow.train(
            model,
            x,
            recipe(2),
            random_state=0,
            callbacks=[callbacks.Checkpoint(checkpoint)],
            jit_compile=False,
        )
    loaded = keras.models.load_model(checkpoint)
    steps = 2 * 6  # two epochs of 600 rows in batches of 100
    # The loss scale skipped steps, which the network optimizer does not
    # count: the case resume must survive.
    assert int(loaded.optimizer.iterations.numpy()) < steps
    assert workflow.attempted_steps(loaded) == steps
    result = workflow.resume(loaded, x, recipe(3), random_state=0)
    assert len(result.history["loss"]) == 1
    assert workflow.attempted_steps(loaded) == 3 * 6


def test_a_loss_that_is_not_finite_stops_fit_with_its_cause():
    x = np.random.default_rng(0).normal(0, 1, (150, 6)).astype("float32")
    model = vade_tf.VaDE(
        6, 3, latent_dim=2, hidden_dims=(16,), seed=0, likelihood="gaussian"
    )
    model.pretrain(x, epochs=1, verbose=0)
    model.initialize_mixture(x, random_state=0)
    model.compile()
    # A weight blown up by hand: the loss of the next epoch is not finite.
    kernel = model.decoder.get_layer("decoder2").kernel
    kernel.assign(np.full(kernel.shape, np.inf, "float32"))
    with pytest.raises(FloatingPointError, match="not finite") as error:
        model.fit(x, epochs=3, batch_size=50, verbose=0)
    assert "epoch 1" in str(error.value)


def test_unscaled_gaussian_data_are_refused_by_the_bare_model():
    x = np.random.default_rng(0).normal(0, 1, (150, 6)).astype("float32")
    x = x * 1e10
    model = vade_tf.VaDE(
        6, 3, latent_dim=2, hidden_dims=(16,), seed=0, likelihood="gaussian"
    )
    with pytest.raises(ValueError, match="standardise") as error:
        model.pretrain(x, epochs=1, verbose=0)
    assert "1e+10" in str(error.value) or "e+10" in str(error.value)
    # The workflow standardises inside the model: the same data train.
    model = _small(x, likelihood="gaussian")
    result = workflow.train(model, x, TINY, random_state=0)
    assert np.isfinite(result.history["loss"]).all()
    assert np.isfinite(model.predict_proba(x)).all()


def test_the_log_variance_start_stays_inside_its_clip():
    # Latent means of scale 1e10 would put the head's bias at ~41, past the
    # clip of +-30, where it gets no gradient.
    x = np.random.default_rng(0).normal(0, 1, (150, 6)).astype("float32")
    model = vade_tf.VaDE(
        6, 3, latent_dim=2, hidden_dims=(16,), seed=0, likelihood="gaussian"
    )
    head = model.encoder.get_layer("z_mean")
    head.kernel.assign(head.kernel * 1e9)
    model.initialize_mixture(x, random_state=0)
    bias = np.asarray(model.encoder.get_layer("z_log_var").bias)
    limit = vade_tf.numerics.LOG_VAR_LIMIT
    assert np.all(np.abs(bias) <= limit)


def test_subnormal_data_standardised_get_the_same_error():
    # A float32 subnormal spread is flushed to zero on the CPU: the scaler
    # treats it as none, and the missing spread is named.
    x = np.random.default_rng(0).random((150, 6)).astype("float32") * 1e-42
    with pytest.raises(ValueError, match="spread"):
        model = _small(x, likelihood="gaussian")
        workflow.train(model, x, TINY, random_state=0)


@pytest.mark.parametrize(
    "data",
    [np.zeros((150, 6)), np.ones((150, 6)) * 3.0, np.full((150, 6), 1e-30)],
    ids=["zeros", "identical", "tiny"],
)
def test_data_without_spread_get_one_clear_error(data):
    x = data.astype("float32")
    with pytest.raises(ValueError, match="spread") as error:
        model = _small(x, input_scaling="none")
        workflow.train(model, x, TINY, random_state=0)
    assert "ZeroDivision" not in str(error.value)


def test_diverged_pretraining_is_named():
    x = np.random.default_rng(0).normal(0, 1, (150, 6)).astype("float32")
    x = x * 1e18
    model = _small(x, likelihood="gaussian", input_scaling="none")
    with pytest.raises((FloatingPointError, ValueError)) as error:
        workflow.train(model, x, TINY, random_state=0)
    message = str(error.value)
    assert "pretraining" in message or "standardise" in message
    assert "factor must be" not in message


def test_values_a_rounding_away_from_the_unit_interval_are_bernoulli():
    x = np.random.default_rng(0).uniform(0, 1, (150, 6)).astype("float32")
    x[3, 1] = 1.0000002
    assert workflow.resolve_likelihood(x) == "bernoulli"
    model = _small(x)
    result = workflow.train(model, x, TINY, random_state=0)
    assert np.isfinite(result.history["loss"]).all()
    assert x[3, 1] == np.float32(1.0000002)  # the caller's array untouched
    # Further out: refused, with the value written in full.
    x[3, 1] = 1.01
    with pytest.raises(ValueError, match="1.01"):
        vade_tf.validation.check_data(x, likelihood=model.likelihood)


def test_save_is_atomic_and_overwrites_only_when_asked(tmp_path):
    model = vade_tf.VaDE(6, 3, latent_dim=2, hidden_dims=(8,), seed=0)
    path = tmp_path / "m.keras"
    model.save(path)
    first = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        model.save(path, overwrite=False)
    assert path.read_bytes() == first
    model.save(path)  # Keras's default: overwrite=True
    assert not [
        name for name in os.listdir(tmp_path) if name.startswith(".tmp")
    ]
    keras.models.load_model(path)


def test_a_text_file_named_npy_is_named_in_the_error(tmp_path):
    path = tmp_path / "text.npy"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError) as error:
        datasets.load_array(str(path))
    message = str(error.value)
    assert str(path) in message and "numpy.save" in message
    assert "allow_pickle" not in message


def test_a_nan_in_a_csv_is_named_by_its_line_in_the_file(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n\n7,,9\n")
    with pytest.raises(ValueError) as error:
        files.read_data(str(path))
    message = str(error.value)
    assert "line 5, column 2 ('b')" in message
    path.write_text("a,b,c\n1,2,3\n\n7,nan,9\n")
    with pytest.raises(ValueError, match=r"line 4, column 2 \('b'\): nan"):
        files.read_data(str(path))


def test_an_interrupted_run_says_how_to_continue(tmp_path):
    from vade_tf import cli

    out = tmp_path / "run"
    out.mkdir()
    for name in ("checkpoint.keras", "command.json", "ae.weights.h5"):
        (out / name).write_text("x")
    args = cli.build_parser().parse_args(["train", "--dataset", "digits"])
    args.run_folder = str(out)
    assert f"vade-tf train --resume {out}" in cli.run_folder.interrupt_report(
        args
    )
    # Stopped before the first checkpoint: the autoencoder is what it kept.
    (out / "checkpoint.keras").unlink()
    report = cli.run_folder.interrupt_report(args)
    assert "--resume" not in report and "--pretrained" in report


@pytest.mark.slow  # over 6 s on 2 cores
def test_resume_of_a_run_stopped_in_its_final_writes_writes_them(
    tmp_path, capsys
):
    from vade_tf import cli

    rng = np.random.default_rng(0)
    data = tmp_path / "rows.npz"
    np.savez(data, x=rng.random((60, 6)).astype("float32"))
    out = tmp_path / "run"
    tiny = [
        "--hidden-dims",
        "16",
        "--latent-dim",
        "2",
        "--n-clusters",
        "2",
        "--pretrain-epochs",
        "1",
        "--epochs",
        "1",
        "--mixture-n-init",
        "1",
        "--verbose",
        "0",
    ]
    assert (
        cli.main(["train", "--data", str(data), "--out", str(out), *tiny]) == 0
    )
    # As if Ctrl-C came after the last checkpoint, before these were written.
    for name in (
        "model.keras",
        "clusters.csv",
        "samples.png",
        "profiles.png",
        "history.png",
        "latent.png",
    ):
        if (out / name).exists():
            (out / name).unlink()
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "finished 1 of 1 epochs: writing the run's outputs" in printed
    for name in ("model.keras", "clusters.csv", "profiles.png", "history.png"):
        assert (out / name).is_file(), name


@pytest.mark.slow  # TensorFlow in a fresh interpreter, a few seconds
def test_ctrl_c_is_acknowledged_while_a_long_call_runs():
    # The notice comes while the main thread is still inside a long call
    # into TensorFlow (as XLA's compilation holds it), before Python raises
    # KeyboardInterrupt when the call returns.
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import os, sys\n"
        "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
        "import numpy as np, tensorflow as tf, vade_tf_cli\n"
        "vade_tf_cli.say_when_interrupted()\n"
        "a = tf.constant(np.random.default_rng(0).random((1500, 1500)))\n"
        "print('ready', flush=True)\n"
        # Ended by the interrupt, during a call. (`eigh` returns a tuple: an
        # attribute error there once raced the interrupt and ended it first.)
        "for _ in range(20):\n"
        "    tf.linalg.eigh(a)[0].numpy()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background by a
        # shell inherits SIGINT ignored, and Python then never handles it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as process:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        arrivals = [
            (time.monotonic() - sent, line.strip()) for line in process.stderr
        ]
        process.wait(timeout=300)
    notices = [t for t, line in arrivals if "Ctrl-C received" in line]
    raised = [t for t, line in arrivals if "KeyboardInterrupt" in line]
    assert notices and raised, arrivals
    assert notices[0] < 1.0 and notices[0] <= raised[0], arrivals
