"""Each example script runs to the end in its quick mode, and answers
`--help`, usage errors and missing data at once, without TensorFlow."""

import argparse
import os
import runpy
import subprocess
import sys

import pytest

from tests.conftest import REPO

EXAMPLES = sorted(path.name for path in (REPO / "examples").glob("*.py"))
# What an answer before training must not import. vade_tf's TensorFlow-free
# modules may load (`vade_tf_cli.without_tensorflow`); `import vade_tf`
# itself would bring TensorFlow and Keras, which are in the set.
HEAVY = {"tensorflow", "keras", "sklearn", "matplotlib"}


def _run(tmp_path, script, *args, status=0):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == status, result.stderr[-3000:]
    return result.stdout if status == 0 else result.stderr


@pytest.mark.slow
def test_train_mnist(tmp_path, mnist_dir):
    out = _run(
        tmp_path,
        "train_mnist.py",
        "--data-dir",
        mnist_dir,
        "--epochs",
        "1",
        "--out",
        "run",
    )
    assert "final accuracy" in out
    for name in ("best.keras", "history.csv", "logs"):
        assert (tmp_path / "run" / name).exists(), name


@pytest.mark.slow
def test_generate_per_cluster(tmp_path):
    out = _run(
        tmp_path,
        "generate_per_cluster.py",
        "--out",
        "grid.png",
        "--per-cluster",
        "4",
    )
    assert "wrote grid.png" in out
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    # Run again: refused in one line before any work, the file kept.
    err = _run(
        tmp_path, "generate_per_cluster.py", "--out", "grid.png", status=2
    )
    assert "grid.png exists: pass --overwrite" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_export_serving(tmp_path):
    out = _run(tmp_path, "export_serving.py", "--out", "serving")
    assert "request: " in out and "  row 0 (" in out
    assert "matches the Keras model: True" in out
    assert (tmp_path / "serving" / "1" / "saved_model.pb").exists()
    err = _run(tmp_path, "export_serving.py", "--out", "serving", status=2)
    assert "exists: pass --overwrite" in err and "--version 2" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_custom_data(tmp_path):
    out = _run(tmp_path, "custom_data.py", "--epochs", "5")
    assert "cluster sizes" in out and "VaDE" in out


# -- Fast: what answers before TensorFlow is imported ------------------------


def _quick(tmp_path, script, *args, env=None):
    """Runs an example as a user would, TF_CPP_MIN_LOG_LEVEL unset, with
    `-X importtime`: `(result, stderr lines, top-level modules imported)`,
    the import-time lines left out of the stderr lines."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if key != "TF_CPP_MIN_LOG_LEVEL"
    }
    environ.update(env or {})
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            str(REPO / "examples" / script),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env=environ,
    )
    lines, modules = [], set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:"):
            modules.add(line.rsplit("|", 1)[1].strip().split(".")[0])
        else:
            lines.append(line)
    return result, lines, modules


def _no_mnist_env(tmp_path):
    """$VADE_TF_DATA and HOME pointing to empty folders: the real MNIST of
    this machine cannot be found through them."""
    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    home.mkdir()
    return empty, {"VADE_TF_DATA": str(empty), "HOME": str(home)}


def _one_error_line(result, lines, modules, *words):
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    for word in words:
        assert word in lines[0].lower(), lines[0]
    assert not modules & HEAVY, modules & HEAVY


@pytest.mark.parametrize("script", EXAMPLES)
def test_help_answers_at_once_without_tensorflow(tmp_path, script):
    result, lines, modules = _quick(tmp_path, script, "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: ")
    assert lines == []
    output = (result.stdout + result.stderr).lower()
    assert "cuda" not in output and "traceback" not in output
    assert not modules & HEAVY, modules & HEAVY


@pytest.mark.parametrize("script", EXAMPLES)
def test_usage_error_answers_at_once_without_tensorflow(tmp_path, script):
    result, lines, modules = _quick(tmp_path, script, "--no-such-option")
    assert result.returncode == 2
    assert lines[-1].endswith("unrecognized arguments: --no-such-option")
    assert not modules & HEAVY, modules & HEAVY


@pytest.mark.parametrize("script", EXAMPLES)
def test_every_option_has_a_help_text(monkeypatch, script):
    parsers = []

    def keep(parser, *args, **kwargs):
        parsers.append(parser)
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", keep)
    monkeypatch.setattr(sys, "argv", [script])
    with pytest.raises(SystemExit):
        runpy.run_path(str(REPO / "examples" / script), run_name="__main__")
    (parser,) = parsers
    missing = [
        action.option_strings for action in parser._actions if not action.help
    ]
    assert missing == []


@pytest.mark.parametrize(
    "script", ["train_mnist.py", "generate_per_cluster.py"]
)
def test_missing_mnist_is_one_line_and_status_2(tmp_path, script):
    # An explicit --data-dir: never a download, whatever the network.
    empty, env = _no_mnist_env(tmp_path)
    result, lines, modules = _quick(
        tmp_path, script, "--data-dir", str(empty), env=env
    )
    _one_error_line(result, lines, modules, "mnist", str(empty))
    assert result.stdout == ""
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args", [["--data-dir", "DIR"], ["--dataset", "mnist"]]
)
def test_multiworker_asked_for_mnist_stops_in_one_line(tmp_path, args):
    empty, env = _no_mnist_env(tmp_path)
    args = [str(empty) if arg == "DIR" else arg for arg in args]
    result, lines, modules = _quick(
        tmp_path, "distributed_multiworker.py", *args, env=env
    )
    _one_error_line(result, lines, modules, "mnist not found", "--data-dir")
    assert result.stdout == ""


def test_multiworker_says_when_it_falls_back_to_the_digits(tmp_path):
    # The launcher's choice alone (no training), in its own process.
    _, env = _no_mnist_env(tmp_path)
    code = (
        "import argparse, runpy, sys\n"
        "example = runpy.run_path(sys.argv[1])\n"
        "datasets = example['datasets_without_tensorflow']()\n"
        "if datasets.find_idx_folder('mnist'):\n"
        "    sys.exit('installed')\n"
        "args = argparse.Namespace(dataset=None, data_dir=None)\n"
        "print(example['choose_data'](args, datasets))\n"
        "print(sorted({'tensorflow', 'keras', 'vade_tf'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(REPO / "examples" / "distributed_multiworker.py"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env=dict(os.environ, **env),
    )
    if result.stderr.strip() == "installed":
        pytest.skip("MNIST installed system-wide: no fallback here")
    assert result.returncode == 0, result.stderr[-3000:]
    line, choice, modules = result.stdout.splitlines()
    assert line.startswith("MNIST not found (looked in ")
    assert line.endswith("training on the embedded 8x8 digits instead")
    assert choice == "('digits', None)"
    assert modules == "[]"


def test_existing_outputs_refused_before_tensorflow(tmp_path):
    (tmp_path / "grid.png").write_bytes(b"kept")
    result, lines, modules = _quick(
        tmp_path, "generate_per_cluster.py", "--out", "grid.png"
    )
    _one_error_line(result, lines[-1:], modules, "grid.png exists")
    assert (tmp_path / "grid.png").read_bytes() == b"kept"

    (tmp_path / "serving" / "1").mkdir(parents=True)
    result, lines, modules = _quick(
        tmp_path, "export_serving.py", "--out", "serving"
    )
    _one_error_line(result, lines[-1:], modules, "exists", "--version 2")
