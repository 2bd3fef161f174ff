"""Each example script runs to the end in its quick mode."""

import os
import subprocess
import sys

import pytest

from .conftest import REPO


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
    assert "matches the Keras model: True" in out
    assert (tmp_path / "serving" / "1" / "saved_model.pb").exists()
    err = _run(tmp_path, "export_serving.py", "--out", "serving", status=2)
    assert "exists: pass --overwrite" in err and "--version 2" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_custom_data(tmp_path):
    out = _run(tmp_path, "custom_data.py", "--epochs", "5")
    assert "cluster sizes" in out and "VaDE" in out
