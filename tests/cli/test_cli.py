"""The `vade-tf` command line, and the main job end to end on digits."""

import argparse
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import vade_tf
from vade_tf import cli, metrics
from vade_tf.data import datasets, synthetic
from vade_tf.model import mixture_prior
from vade_tf.training import recipes

TINY = [
    "--hidden-dims",
    "16,8",
    "--latent-dim",
    "2",
    "--pretrain-epochs",
    "2",
    "--mixture-n-init",
    "1",
    "--verbose",
    "0",
]


@pytest.fixture
def blob_file(tmp_path, blobs):
    x, y = blobs
    path = tmp_path / "blobs.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.slow
def test_console_script_is_installed():
    # The script sits beside the interpreter of the environment it was
    # installed into, whether or not that environment is on PATH.
    executable = shutil.which(
        "vade-tf", path=os.path.dirname(sys.executable)
    ) or shutil.which("vade-tf")
    assert executable is not None, "pip install the package first"
    # As a user runs it: TensorFlow's start-up lines are hidden by default.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [executable, "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0
    for command in ("pretrain", "train", "evaluate", "generate", "export"):
        assert command in result.stdout
    assert result.stderr == "", result.stderr[-2000:]


@pytest.mark.slow
def test_train_evaluate_generate_export_on_own_data(
    blob_file, tmp_path, capsys
):
    out = tmp_path / "run"
    status = cli.main(
        [
            "train",
            "--data",
            str(blob_file),
            "--epochs",
            "2",
            "--batch-size",
            "40",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert status == 0
    for name in (
        "model.keras",
        "metrics.json",
        "clusters.csv",
        "latent.png",
        "profiles.png",  # a table of 12 features: profiles, not samples
        "history.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "samples.png").exists()
    report = json.loads((out / "metrics.json").read_text())
    assert report["n_clusters_from"] == "the number of distinct labels"
    assert report["config"]["n_clusters"] == 3  # from the labels
    assert set(report["vade"]) >= {"acc", "nmi", "ari"}
    assert len(report["history"]["acc"]) == 2
    model = keras.models.load_model(out / "model.keras")
    x, y = datasets.load_array(blob_file)
    acc = metrics.cluster_acc(y, model.predict_clusters(x))[0]
    assert acc == pytest.approx(report["vade"]["acc"])

    # A second run into the same folder is refused.
    assert (
        cli.main(["train", "--data", str(blob_file), "--out", str(out), *TINY])
        == 2
    )
    assert "--overwrite" in capsys.readouterr().err

    assert (
        cli.main(
            [
                "evaluate",
                "--model",
                str(out / "model.keras"),
                "--data",
                str(blob_file),
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["acc"] == pytest.approx(report["vade"]["acc"])

    grid = tmp_path / "grid.png"
    assert (
        cli.main(
            [
                "generate",
                "--model",
                str(out / "model.keras"),
                "--per-cluster",
                "3",
                "--out",
                str(grid),
            ]
        )
        == 0
    )
    assert grid.read_bytes()[:4] == b"\x89PNG"

    assert (
        cli.main(
            [
                "export",
                "--model",
                str(out / "model.keras"),
                "--out",
                str(tmp_path / "serving"),
            ]
        )
        == 0
    )
    assert (tmp_path / "serving" / "1" / "saved_model.pb").exists()
    assert (
        cli.main(
            [
                "export",
                "--model",
                str(out / "model.keras"),
                "--out",
                str(tmp_path / "serving"),
            ]
        )
        == 2
    )


@pytest.mark.slow
def test_pretrain_command_writes_weights_and_metadata(blob_file, tmp_path):
    weights = tmp_path / "ae.weights.h5"
    assert (
        cli.main(
            ["pretrain", "--data", str(blob_file), "--out", str(weights), *TINY]
        )
        == 0
    )
    metadata = json.loads((tmp_path / "ae.weights.json").read_text())
    assert metadata["epochs"] == 2 and "acc" in metadata["ae_gmm"]
    # Data of unknown shape get the plain recipe; images can ask for "augment".
    assert metadata["recipe"] == "adam" and metadata["image_shape"] is None
    augmented = tmp_path / "aug.weights.h5"
    argv = ["pretrain", "--data", str(blob_file), "--out", str(augmented)]
    argv += ["--pretrain-recipe", "augment", *TINY]
    assert cli.main(argv + ["--image-shape", "3,4"]) == 0
    metadata = json.loads((tmp_path / "aug.weights.json").read_text())
    assert metadata["recipe"] == "augment"
    assert metadata["image_shape"] == [3, 4]
    assert cli.main(argv + ["--image-shape", "3x4", "--overwrite"]) == 2
    model = vade_tf.VaDE(12, 3, latent_dim=2, hidden_dims=(16, 8))
    model.load_pretrained_weights(weights)
    # And train can start from it.
    assert (
        cli.main(
            [
                "train",
                "--data",
                str(blob_file),
                "--pretrained",
                str(weights),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "run"),
                *TINY,
            ]
        )
        == 0
    )


def test_errors_are_messages_not_tracebacks(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--dataset", "cifar", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "unknown dataset 'cifar'" in message and "--data PATH" in message
    assert (
        cli.main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "none.keras"),
                "--dataset",
                "digits",
            ]
        )
        == 2
    )
    assert "No model file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train"])  # argparse: --dataset or --data is required


@pytest.mark.slow
def test_main_job_on_digits_reaches_080(tmp_path):
    """`vade-tf train --dataset digits`, the README's main job, as is."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vade_tf.cli",
            "train",
            "--dataset",
            "digits",
            "--out",
            str(tmp_path / "run"),
            "--verbose",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ACC" in result.stdout and " acc: " in result.stdout
    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["vade"]["acc"] >= 0.80, report["vade"]
    assert report["vade"]["min_cluster_fraction"] >= 0.01


def test_reproduce_and_train_use_the_default_recipe_original_is_a_flag():
    args = cli.build_parser().parse_args(["reproduce", "MNIST"])
    assert args.dataset == "mnist"
    # reproduce trains the tuned recipe for its own number of epochs.
    assert cli.inputs.recipe_from_args(args) == recipes.TUNED.replace(
        epochs=recipes.REPRODUCE_EPOCHS
    )
    args = cli.build_parser().parse_args(
        ["reproduce", "mnist", "--epochs", "7", "--recipe", "original"]
    )
    assert cli.inputs.recipe_from_args(args) == recipes.ORIGINAL.replace(
        epochs=7
    )
    args = cli.build_parser().parse_args(["reproduce", "MNIST"])
    image_shape = cli.inputs.image_shape_of(args, "mnist")
    assert image_shape == (28, 28)
    assert (
        vade_tf.workflow.resolve_pretrain_recipe(
            cli.inputs.recipe_from_args(args), image_shape
        )
        == "augment"
    )
    args = cli.build_parser().parse_args(["train", "--dataset", "digits"])
    assert cli.inputs.recipe_from_args(args) == recipes.get_recipe()
    assert cli.inputs.recipe_from_args(args).name == recipes.DEFAULT_RECIPE
    assert cli.inputs.image_shape_of(args, "digits") is None
    for command in ("train", "pretrain"):
        args = cli.build_parser().parse_args(
            [command, "--dataset", "digits", "--recipe", "original"]
            + (["--out", "ae.weights.h5"] if command == "pretrain" else [])
        )
        assert cli.inputs.recipe_from_args(args) == recipes.ORIGINAL
    args = cli.build_parser().parse_args(
        [
            "train",
            "--dataset",
            "digits",
            "--pretrain-recipe",
            "dec",
            "--lr",
            "0.001",
            "--latent-std",
            "0",
            "--recipe",
            "tuned",
            "--n-starts",
            "4",
            "--start-epochs",
            "3",
        ]
    )
    recipe = cli.inputs.recipe_from_args(args)
    assert recipe == recipes.TUNED.replace(
        pretrain_recipe="dec",
        learning_rate=0.001,
        latent_std=None,
        n_starts=4,
        start_epochs=3,
    )


def test_an_image_array_is_trained_as_images(tmp_path, capsys):
    from vade_tf.data import files

    np.save(tmp_path / "faces.npy", np.zeros((12, 20, 16), "float32"))
    np.save(tmp_path / "table.npy", np.zeros((12, 320), "float32"))
    for name, given, expected in [
        ("faces", [], (20, 16)),
        ("faces", ["--image-shape", "20,16,1"], (20, 16, 1)),
        ("table", [], None),
        ("table", ["--image-shape", "16,20"], (16, 20)),
    ]:
        path = str(tmp_path / f"{name}.npy")
        args = cli.build_parser().parse_args(["train", "--data", path] + given)
        loaded = files.read_data(path)
        image_shape = cli.inputs.image_shape_of(args, name, loaded)
        assert image_shape == expected
        cli.inputs.describe_data(args, loaded.x, None, name, loaded)
        printed = capsys.readouterr().out
        assert ("images of 20x16, the array's shape" in printed) is (
            name == "faces" and not given
        )
        pretraining = vade_tf.workflow.resolve_pretrain_recipe(
            cli.inputs.recipe_from_args(args), image_shape
        )
        assert pretraining == ("adam" if expected is None else "augment")
    # A shape that contradicts the array's own is refused.
    path = str(tmp_path / "faces.npy")
    args = cli.build_parser().parse_args(
        ["train", "--data", path, "--image-shape", "16,20"]
    )
    with pytest.raises(ValueError, match=r"does not match.*\(20, 16\)"):
        cli.inputs.image_shape_of(args, "faces", files.read_data(path))


def test_choose_names_the_run_the_others_agree_with(tmp_path, capsys):
    truth = np.repeat(np.arange(3), 30)
    runs = []
    for i, flipped in enumerate((3, 0, 40)):
        labels = truth.copy()
        labels[:flipped] = (labels[:flipped] + 1) % 3
        folder = tmp_path / f"seed{i}"
        folder.mkdir()
        np.savetxt(
            folder / "clusters.csv",
            labels,
            fmt="%d",
            header="cluster",
            comments="",
        )
        runs.append(str(folder))
    assert cli.main(["choose", *runs]) == 0
    printed = capsys.readouterr().out
    assert f"chosen: {runs[1]}" in printed
    assert cli.main(["choose", *runs[:2]]) == 2
    assert "at least 3 runs" in capsys.readouterr().err
    np.save(tmp_path / "short.npy", truth[:10])
    assert cli.main(["choose", *runs, str(tmp_path / "short.npy")]) == 2
    assert "same rows" in capsys.readouterr().err
    # The same run twice would agree with itself: refused.
    assert cli.main(["choose", *runs, runs[0] + "/"]) == 2
    assert "more than once" in capsys.readouterr().err
    # Identical clusterings tie; the note says so.
    twin = tmp_path / "twin"
    shutil.copytree(runs[1], twin)
    assert cli.main(["choose", runs[1], str(twin), runs[0]]) == 0
    printed = capsys.readouterr().out
    assert "2 runs agree equally" in printed
    assert printed.count("<- chosen") == 1


def test_bad_recipe_flag_is_named_in_the_message(capsys):
    status = cli.main(["train", "--dataset", "digits", "--epochs", "0"])
    assert status == 2
    assert "--epochs=0" in capsys.readouterr().err
    status = cli.main(["train", "--dataset", "digits", "--mixture-lr", "0"])
    assert status == 2
    assert "--mixture-lr=0" in capsys.readouterr().err


def test_help_shows_every_option_with_its_default(capsys):
    for command in ("train", "reproduce", "pretrain"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = capsys.readouterr().out
        assert "default" in text
        for option in ("--latent-dim", "--alpha", "--seed", "--epochs"):
            assert option in text
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("vade-tf ")


def _run_entry_point(*args):
    """Runs the console script's entry point in a fresh interpreter and
    reports its exit status, output and whether TensorFlow got imported."""
    code = (
        "import sys, vade_tf_cli\n"
        f"sys.argv = ['vade-tf', *{list(args)!r}]\n"
        "try:\n"
        "    status = vade_tf_cli.main()\n"
        "except SystemExit as error:\n"
        "    status = error.code\n"
        "print('TF_IMPORTED', 'tensorflow' in sys.modules)\n"
        "sys.exit(status)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("train", "--help"),
        ("--version",),
        ("train", "--dataset", "digits", "--bogus"),
    ],
)
def test_help_version_and_usage_errors_answer_without_tensorflow(args):
    result = _run_entry_point(*args)
    assert "TF_IMPORTED False" in result.stdout, result.stderr
    assert result.returncode == (2 if "--bogus" in args else 0)
    if "--bogus" in args:
        assert "unrecognized arguments: --bogus" in result.stderr
    else:
        assert "vade-tf" in result.stdout
    # No TensorFlow start-up line reaches the terminal.
    assert "cuda" not in result.stderr.lower()


@pytest.mark.slow  # a fresh interpreter importing TensorFlow
def test_a_command_that_runs_imports_the_package_for_real(tmp_path):
    # After the TensorFlow-free parse, the real package (its __init__ and
    # the registered Keras classes) is what the command gets.
    result = _run_entry_point(
        "evaluate",
        "--model",
        str(tmp_path / "missing.keras"),
        "--dataset",
        "digits",
    )
    assert result.returncode == 2
    assert "TF_IMPORTED True" in result.stdout
    assert "missing.keras" in result.stderr
    assert "Traceback" not in result.stderr


def test_option_names_match_the_modules_that_implement_them():
    from vade_tf import choices, workflow
    from vade_tf.model import likelihoods
    from vade_tf.training import pretraining

    assert choices.LIKELIHOODS == tuple(likelihoods._LIKELIHOODS)
    for name in choices.LIKELIHOODS:
        assert likelihoods.get_likelihood(name).name == name
    assert mixture_prior.GAMMA_MODES == choices.GAMMA_MODES
    assert pretraining.RECIPES == choices.PRETRAIN_RECIPES
    for name in choices.PRETRAIN_RECIPES:
        pretraining.recipe_settings(name)
    assert workflow.LIKELIHOOD_AUTO == choices.LIKELIHOOD_AUTO
    from vade_tf.training import distribute

    for name in ("none", "mirrored", "multiworker"):
        assert name in distribute.STRATEGIES
    for name in choices.DTYPE_POLICIES:
        assert keras.dtype_policies.get(name).name == name
    with pytest.raises(ValueError, match="Unknown strategy"):
        distribute.make_strategy("ring")


@pytest.mark.slow  # three training runs, about 80 s
def test_resume_continues_a_run_to_the_weights_of_a_straight_run(
    tmp_path, blob_file, capsys
):
    def train(out, *extra):
        return cli.main(
            [
                "train",
                "--data",
                str(blob_file),
                "--out",
                str(out),
                *TINY,
                *extra,
            ]
        )

    assert train(tmp_path / "straight", "--epochs", "4") == 0
    assert train(tmp_path / "stopped", "--epochs", "2") == 0
    saved = json.loads((tmp_path / "stopped" / "command.json").read_text())
    assert saved["argv"][0] == "train" and "--epochs" in saved["argv"]
    # The saved command is replayed; --epochs 4 replaces its --epochs 2.
    status = cli.main(
        ["train", "--resume", str(tmp_path / "stopped"), "--epochs", "4"]
    )
    assert status == 0
    assert "Resuming" in capsys.readouterr().out
    straight = keras.models.load_model(tmp_path / "straight" / "model.keras")
    resumed = keras.models.load_model(tmp_path / "stopped" / "model.keras")
    for ours, theirs in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    rows = (tmp_path / "stopped" / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # header, then epochs 1-2 and 3-4
    # `elapsed`: seconds from each command's start, rising within a command.
    elapsed = [
        float(row.split(",")[rows[0].split(",").index("elapsed")])
        for row in rows[1:]
    ]
    assert 0 < elapsed[0] < elapsed[1] and 0 < elapsed[2] < elapsed[3]
    # metrics.json and history.png tell the whole run, not the resumed part.
    metrics = json.loads((tmp_path / "stopped" / "metrics.json").read_text())
    assert metrics["resumed"] and len(metrics["history"]["loss"]) == 4
    assert metrics["ae_gmm"]["min_cluster_fraction"] > 0
    # The saved command is the run's, with the new --epochs, without what
    # --resume added.
    command = tmp_path / "stopped" / "command.json"
    saved = json.loads(command.read_text())["argv"]
    assert saved[-2:] == ["--epochs", "4"]
    assert "--resume" not in saved and "--overwrite" not in saved
    # A resume that fails its checks leaves the saved command alone.
    status = cli.main(
        ["train", "--resume", str(tmp_path / "stopped"), "--batch-size", "7"]
    )
    assert status == 2
    assert json.loads(command.read_text())["argv"] == saved
    # Every epoch done: a resume writes the run's outputs again, no training.
    status = cli.main(["train", "--resume", str(tmp_path / "stopped")])
    assert status == 0
    assert "finished 4 of 4 epochs" in capsys.readouterr().out
    # --overwrite starts afresh: no file of the earlier run is left to pass
    # for this one's (its checkpoint above all).
    (tmp_path / "stopped" / "notes.txt").write_text("mine")
    assert train(tmp_path / "stopped", "--epochs", "1", "--overwrite") == 0
    rows = (tmp_path / "stopped" / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 1
    model = keras.models.load_model(tmp_path / "stopped" / "checkpoint.keras")
    four_epochs = int(resumed.optimizer.iterations.numpy())
    assert int(model.optimizer.iterations.numpy()) * 4 == four_epochs
    assert (tmp_path / "stopped" / "notes.txt").read_text() == "mine"


def test_resume_and_evaluate_name_a_bad_folder_or_file(tmp_path, capsys):
    for argv in (
        ["train", "--resume", str(tmp_path)],
        ["train", f"--resume={tmp_path}"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        # One line on stderr and status 2, as for any bad input.
        assert exit_info.value.code == cli.EXIT_ERROR
        err = capsys.readouterr().err
        assert "error: --resume" in err and "command.json" in err
        assert err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--resume", str(tmp_path), "--out", "elsewhere"])
    assert exit_info.value.code == cli.EXIT_ERROR
    assert "--out cannot be given" in capsys.readouterr().err
    truncated = tmp_path / "checkpoint.keras"
    truncated.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    status = cli.main(
        ["evaluate", "--model", str(truncated), "--dataset", "digits"]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert str(truncated) in err and "truncated or corrupted" in err


def _bad_inputs(tmp_path):
    """(name, extra argv, a fragment the message must contain) per case."""
    rng = np.random.default_rng(0)
    good = rng.random((40, 6)).astype("float32")
    cases = []

    def npz(name, **arrays):
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        return str(path)

    nan = good.copy()
    nan[3, 2] = np.nan
    cases.append(("nan", ["--data", npz("nan", x=nan)], "NaN or inf"))
    inf = good.copy()
    inf[0, 0] = np.inf
    cases.append(("inf", ["--data", npz("inf", x=inf)], "NaN or inf"))
    cases.append(
        (
            "strings",
            ["--data", npz("s", x=np.array([["a", "b"]] * 5))],
            "numeric",
        )
    )
    cases.append(
        ("empty", ["--data", npz("empty", x=np.zeros((0, 6)))], "0 samples")
    )
    cases.append(
        (
            "labels",
            ["--data", npz("labels", x=good, y=np.zeros(7, int))],
            "40",
        )
    )
    cases.append(
        (
            "bernoulli",
            ["--data", npz("wide", x=good * 5), "--likelihood", "bernoulli"],
            "[0, 1]",
        )
    )
    cases.append(
        (
            "too_few",
            ["--data", npz("few", x=good[:3]), "--n-clusters", "5"],
            "n_clusters",
        )
    )
    cases.append(
        (
            "one_cluster",
            ["--data", npz("one", x=good), "--n-clusters", "1"],
            "--n-clusters must be an integer >= 2",
        )
    )
    text = tmp_path / "data.txt"
    text.write_text("1 2 3\n")
    cases.append(("file_type", ["--data", str(text)], ".npz"))
    truncated = tmp_path / "ae.weights.h5"
    truncated.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    cases.append(
        (
            "truncated_weights",
            ["--data", npz("ok", x=good), "--pretrained", str(truncated)],
            str(truncated),
        )
    )
    return cases


def test_each_bad_input_is_one_clear_message_and_exit_2(tmp_path, capsys):
    for name, extra, fragment in _bad_inputs(tmp_path):
        out = tmp_path / f"run-{name}"
        status = cli.main(["train", *extra, "--out", str(out), *TINY])
        err = capsys.readouterr().err
        assert status == 2, (name, err)
        assert fragment in err, (name, err)
        assert "Traceback" not in err, name
        assert len(err.strip().splitlines()) == 1, (name, err)
        # Checked before the run folder is made: nothing is left behind.
        assert not out.exists(), name


@pytest.mark.slow  # a whole run and an export, about 30 s
def test_count_data_from_h5ad_with_zinb_and_beta(tmp_path):
    anndata = pytest.importorskip("anndata")
    from scipy import sparse

    x, y = synthetic.make_count_clusters(
        n_samples=120, n_features=20, n_clusters=3, random_state=0
    )
    path = tmp_path / "cells.h5ad"
    names = np.array(["B", "NK", "T"])[y]
    anndata.AnnData(
        X=sparse.csr_matrix(x), obs={"cell_type": names}
    ).write_h5ad(path)
    out = tmp_path / "run"
    status = cli.main(
        [
            "train",
            "--data",
            str(path),
            "--label-key",
            "cell_type",
            "--likelihood",
            "zinb",
            "--beta",
            "2",
            "--epochs",
            "1",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert status == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["config"]["n_clusters"] == 3  # from the obs column
    assert report["config"]["beta"] == 2.0
    model = keras.models.load_model(out / "model.keras")
    assert model.likelihood.name == "zinb"
    assert model.beta == 2.0
    acc = metrics.cluster_acc(y, model.predict_clusters(x))[0]
    assert acc == pytest.approx(report["vade"]["acc"])
    assert (
        cli.main(
            [
                "export",
                "--model",
                str(out / "model.keras"),
                "--out",
                str(tmp_path / "serving"),
            ]
        )
        == 0
    )


def test_train_baseline_vae_gmm(blob_file, tmp_path):
    out = tmp_path / "run"
    status = cli.main(
        [
            "train",
            "--data",
            str(blob_file),
            "--baseline",
            "vae_gmm",
            "--epochs",
            "2",
            "--no-xla",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert status == 0
    model = keras.models.load_model(out / "model.keras")
    assert isinstance(model, vade_tf.model.baselines.VAEGMM)
    report = json.loads((out / "metrics.json").read_text())
    x, y = datasets.load_array(blob_file)
    acc = metrics.cluster_acc(y, model.predict_clusters(x))[0]
    assert acc == pytest.approx(report["vade"]["acc"])


def test_dtype_policy_flag_trains_a_mixed_model_and_restores_float32(
    blob_file, tmp_path
):
    out = tmp_path / "run"
    status = cli.main(
        [
            "train",
            "--data",
            str(blob_file),
            "--dtype-policy",
            "mixed_bfloat16",
            "--epochs",
            "1",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert status == 0
    # The run's process goes on in float32; the saved model keeps its policy.
    assert keras.config.dtype_policy().name == "float32"
    model = keras.models.load_model(out / "model.keras")
    assert model.encoder.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.mixture_variables)
    x, _ = datasets.load_array(blob_file)
    probs = model.predict_proba(x)
    assert probs.dtype == np.float32 and np.isfinite(probs).all()
    report = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(report["history"]["loss"]).all()


@pytest.mark.slow  # a fresh interpreter: the CPU is split before TF starts
def test_train_under_a_mirrored_strategy_of_two_cpu_replicas(tmp_path):
    out = tmp_path / "run"
    result = _run_entry_point(
        "train",
        "--dataset",
        "digits",
        "--strategy",
        "mirrored",
        "--cpu-replicas",
        "2",
        "--epochs",
        "1",
        "--out",
        str(out),
        *TINY,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy with 2 replicas in sync" in result.stdout
    model = keras.models.load_model(out / "model.keras")
    x, y = datasets.load_dataset("digits")
    report = json.loads((out / "metrics.json").read_text())
    acc = metrics.cluster_acc(y, model.predict_clusters(x))[0]
    assert acc == pytest.approx(report["vade"]["acc"])


@pytest.mark.slow  # over 6 s on 2 cores
def test_resume_before_the_first_checkpoint_points_to_the_autoencoder(
    tmp_path, capsys
):
    # A run stopped during its first VaDE epoch keeps command.json and the
    # pretrained autoencoder, not yet a checkpoint.
    out = tmp_path / "run"
    argv = ["train", "--dataset", "digits", "--hidden-dims", "16"]
    argv += ["--pretrain-epochs", "1", "--epochs", "1", "--out", str(out)]
    assert cli.main(argv) == 0
    os.remove(out / "checkpoint.keras")
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No checkpoint.keras" in err
    assert f"--pretrained {out / 'ae.weights.h5'}" in err


def test_an_interrupted_pretrain_names_what_it_kept(tmp_path):
    # Stopped after pretraining, during the mixture's fit: the weights and
    # their metadata are on disk, and the report says so.
    out = tmp_path / "ae.weights.h5"
    # An earlier run's files (to be overwritten) are not this run's.
    out.write_bytes(b"")
    (tmp_path / "ae.weights.json").write_text("{}")
    writer = argparse.Namespace(written=False)
    args = argparse.Namespace(
        command="pretrain", out=str(out), pretrain_writer=writer
    )
    assert cli.run_folder.interrupt_report(args) == "nothing was written"
    writer.written = True
    assert cli.run_folder.interrupt_report(args) == (
        f"kept {out} {tmp_path / 'ae.weights.json'}"
    )


def test_overwrite_keeps_the_pretrained_weights_and_their_metadata(tmp_path):
    for name in (*cli.run_folder.RUN_FILES, "notes.txt"):
        (tmp_path / name).write_text("earlier")
    cli.run_folder.remove_run_files(
        str(tmp_path), keep=str(tmp_path / "ae.weights.h5")
    )
    assert sorted(os.listdir(tmp_path)) == [
        "ae.weights.h5",
        "ae.weights.json",
        "notes.txt",
    ]


def test_options_are_never_abbreviated(capsys):
    # `--resume` is expanded before parsing; `--resu` must not pass for it.
    with pytest.raises(SystemExit) as info:
        cli.parse_args(["train", "--dataset", "digits", "--resu", "run"])
    assert info.value.code == 2
    assert "unrecognized arguments: --resu" in capsys.readouterr().err


def test_history_csv_is_read_back_value_by_epoch(tmp_path, capsys):
    path = tmp_path / "history.csv"
    path.write_text("epoch,acc,loss\n0,0.5,3\n1,,2\n2,0.7,1\n")
    assert cli.run_folder.read_history_csv(str(path)) == {
        "acc": [0.5, None, 0.7],
        "loss": [3.0, 2.0, 1.0],
    }
    path.write_text("epoch,loss\n0,abc\n")
    assert cli.run_folder.read_history_csv(str(path)) is None
    assert "could not read" in capsys.readouterr().out


def test_cli_md_usage_blocks_are_what_help_prints():
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    commands = next(
        a
        for a in cli.build_parser()._actions
        if hasattr(a, "choices") and a.choices and "train" in a.choices
    ).choices
    for name, parser in commands.items():
        usage = parser.format_usage().strip()[len("usage: ") :]
        blocks = re.findall(
            r"```\n(" + re.escape(f"vade-tf {name} [-h]") + r".*?)\n```",
            text,
            re.S,
        )
        assert blocks == [usage], f"docs/cli.md's usage of {name} is stale"


def test_bad_data_answers_before_tensorflow_is_imported(tmp_path):
    # The console script reads and checks the data with NumPy alone first.
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,2\n3,nan\n")
    result = _run_entry_point("train", "--data", str(path))
    assert result.returncode == 2
    assert "TF_IMPORTED False" in result.stdout, result.stderr
    assert "line 3, column 2 ('b')" in result.stderr


def test_the_old_mixture_flags_still_parse_and_are_not_listed():
    args = cli.parse_args(
        [
            "train",
            "--dataset",
            "digits",
            "--gmm-lr",
            "0.01",
            "--gmm-init",
            "kmeans",
            "--gmm-n-init",
            "2",
            "--gmm-updates",
            "relative",
        ]
    )
    assert (args.mixture_lr, args.mixture_init) == (0.01, "kmeans")
    assert (args.mixture_n_init, args.mixture_updates) == (2, "relative")
    assert "gmm-lr" not in cli.build_parser().format_help()


def test_a_run_saved_before_minimum_steps_resumes_with_its_epochs(tmp_path):
    from vade_tf.cli import resume, run_folder

    def expanded(record):
        (tmp_path / "command.json").write_text(json.dumps(record))
        return resume.expand_resume(["train", "--resume", str(tmp_path)])

    command = ["train", "--dataset", "digits"]
    # Saved before recipes raised small data's epochs: its epochs stay.
    argv = expanded({"argv": command, "seed": 0})
    assert argv[:7] == [
        *command,
        "--min-steps",
        "0",
        "--pretrain-min-steps",
        "0",
    ]
    args = cli.parser.build_parser().parse_args(argv)
    assert (args.min_steps, args.pretrain_min_steps) == (0, 0)
    # Saved since: replayed as it is.
    argv = expanded(
        {"argv": command, "seed": 0, run_folder.MIN_STEPS_KEY: True}
    )
    assert argv[:4] == [*command, "--resume"]
