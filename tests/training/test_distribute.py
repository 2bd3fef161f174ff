"""Several workers: `MultiWorkerMirroredStrategy`
(`vade_tf.training.distribute`).

The 2-worker runs start real worker processes on 127.0.0.1 (slow tests);
the rest checks the helpers in this process, where no cluster is set up.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO, _data_folder
from vade_tf.training import distribute, pretraining


def test_tf_config_names_the_cluster_and_this_worker():
    config = json.loads(
        distribute.tf_config(["127.0.0.1:1000", "127.0.0.1:1001"], 1)
    )
    assert config == {
        "cluster": {"worker": ["127.0.0.1:1000", "127.0.0.1:1001"]},
        "task": {"type": "worker", "index": 1},
    }
    with pytest.raises(ValueError, match=r"index must be in \[0, 2\)"):
        distribute.tf_config(["a:1", "b:2"], 2)
    with pytest.raises(ValueError, match="at least one"):
        distribute.tf_config([], 0)


def test_multiworker_strategy_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG unset"):
        distribute.make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not JSON"):
        distribute.make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": ["a:1"]}')
    with pytest.raises(ValueError, match="'cluster'.*'task'"):
        distribute.make_strategy("multiworker")
    with pytest.raises(ValueError, match="one replica per worker"):
        distribute.make_strategy("multiworker", cpu_replicas=2)


def test_one_process_is_its_own_chief_and_keeps_its_logs():
    assert not distribute.is_multi_worker()
    assert distribute.is_chief()
    logs = {"loss": tf.constant(1.5)}
    assert distribute.reducible_logs(logs) is logs


def test_autoencoder_takes_batches_of_x_alone(small_model, rng):
    x = rng.random((64, small_model.input_dim)).astype("float32")
    autoencoder = pretraining.build_autoencoder(small_model)
    autoencoder.compile(optimizer="sgd", loss="mse")
    alone = autoencoder.evaluate(
        tf.data.Dataset.from_tensor_slices(x).batch(32), verbose=0
    )
    paired = autoencoder.evaluate(x, x, batch_size=32, verbose=0)
    assert np.isfinite(alone)
    np.testing.assert_allclose(alone, paired, rtol=1e-5)


def test_autoencoder_reloads_and_takes_metrics_on_x_alone(
    small_model, rng, tmp_path
):
    import keras

    x = rng.random((64, small_model.input_dim)).astype("float32")
    autoencoder = pretraining.build_autoencoder(small_model)
    autoencoder.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    logs = autoencoder.evaluate(
        tf.data.Dataset.from_tensor_slices(x).batch(32),
        verbose=0,
        return_dict=True,
    )
    mae = np.mean(np.abs(autoencoder.predict(x, verbose=0) - x))
    assert logs["mae"] == pytest.approx(mae, rel=1e-5)
    autoencoder.save(tmp_path / "autoencoder.keras")
    reloaded = keras.models.load_model(tmp_path / "autoencoder.keras")
    assert type(reloaded) is pretraining.Autoencoder
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0),
        autoencoder.predict(x, verbose=0),
        rtol=1e-6,
    )


def test_multiworker_refuses_resume(tmp_path, capsys):
    from vade_tf import cli

    # A run folder whose command trained on several workers.
    (tmp_path / cli.run_folder.COMMAND_FILE).write_text(
        json.dumps(
            {
                "argv": ["train", "--dataset", "digits"]
                + ["--strategy", "multiworker"],
                "seed": 0,
            }
        )
    )
    code = cli.main(
        [
            "train",
            "--dataset",
            "digits",
            "--strategy",
            "multiworker",
            "--resume",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert "--resume is not available with --strategy multiworker" in (
        capsys.readouterr().err
    )


def _start_workers(command, cwd, count=2):
    """Runs `command` as `count` workers on 127.0.0.1; their outputs."""
    addresses = distribute.local_addresses(count)
    workers = [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=dict(
                os.environ,
                TF_CPP_MIN_LOG_LEVEL="3",
                TF_CONFIG=distribute.tf_config(addresses, index),
            ),
        )
        for index in range(count)
    ]
    outputs = [worker.communicate(timeout=900) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    return [stdout for stdout, _ in outputs]


def _example(tmp_path, out, workers, data_dir):
    args = [
        sys.executable,
        str(REPO / "examples" / "distributed_multiworker.py"),
        "--workers",
        str(workers),
        "--out",
        str(out),
    ]
    if data_dir:
        args += ["--data-dir", str(data_dir)]
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads((out / "metrics.json").read_text())


@pytest.mark.slow  # three processes, about 3 minutes on 2 cores
def test_two_workers_train_one_model_that_clusters_like_one_process(tmp_path):
    data_dir = _data_folder("mnist")  # None: the example uses the digits
    stdout, two = _example(tmp_path, tmp_path / "two", 2, data_dir)
    # Both workers finished, holding the same weights and optimizer slots.
    assert "worker 1 done" in stdout
    digests = dict(re.findall(r"worker (\d): weights ([0-9a-f]{16})", stdout))
    assert set(digests) == {"0", "1"}
    assert digests["0"] == digests["1"] == two["weights_digest"]
    assert two["workers"] == 2
    import keras

    model = keras.models.load_model(tmp_path / "two" / "model.keras")
    assert model.c_mean.shape == (10, model.latent_dim)

    _, one = _example(tmp_path, tmp_path / "one", 1, data_dir)
    assert one["n_samples"] == two["n_samples"]
    # The same recipe, data and global batches; the runs differ in the
    # order of float sums and in the z draws of each replica.
    assert two["acc"] == pytest.approx(one["acc"], abs=0.05)
    assert two["nmi"] == pytest.approx(one["nmi"], abs=0.05)


@pytest.mark.slow  # two processes, about a minute
def test_train_command_on_two_workers_writes_one_run_folder(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "vade_tf.cli",
        "train",
        "--dataset",
        "digits",
        "--strategy",
        "multiworker",
        "--pretrain-epochs",
        "2",
        "--epochs",
        "2",
        "--out",
        str(out),
    ]
    outputs = _start_workers(command, tmp_path)
    assert "CollectiveAllReduceStrategy with 2 replicas" in outputs[0]
    # Only the chief's folder exists; the other worker's was temporary.
    assert (out / "model.keras").is_file()
    assert (out / "metrics.json").is_file()
    temporary = re.search(r"removed (\S+): this worker's copy", outputs[1])
    assert temporary, outputs[1][-2000:]
    assert "vade-tf-worker-" in temporary[1]
    assert not os.path.exists(temporary[1])
    # The two workers end on the same scores (the same model).
    finals = [re.search(r"VaDE +(ACC .*)", stdout)[1] for stdout in outputs]
    assert finals[0] == finals[1]


_BROADCAST = """
import keras
from vade_tf.training import distribute
strategy = distribute.make_strategy("multiworker")
import tensorflow as tf
chief = distribute.is_chief(strategy)
with strategy.scope():
    weights = keras.Variable([1.5, -2.0, 3.25])
    raw = tf.Variable([[1.0, 2.0]], dtype=tf.float64)
    steps = keras.Variable(5, dtype="int64")
# A start that differs between the workers (as rounding on another CPU
# might make it), with values no float sum would keep exactly (-0.0).
if chief:
    weights.assign([0.1, -0.0, -3.0e38])
    raw.assign([[1e-300, -0.0]])
else:
    weights.assign([7.0, 8.0, 9.0])
    raw.assign([[3.0, 4.0]])
    steps.assign(6)
distribute.broadcast_from_chief([weights, raw, steps], strategy)
print(
    "VALUES",
    weights.numpy().tobytes().hex(),
    raw.numpy().tobytes().hex(),
    int(steps.numpy()),
)
"""


@pytest.mark.slow  # two processes, about 20 s
def test_broadcast_from_chief_gives_every_worker_the_chiefs_values(tmp_path):
    outputs = _start_workers([sys.executable, "-c", _BROADCAST], tmp_path)
    weights = np.array([0.1, -0.0, -3.0e38], "float32").tobytes().hex()
    raw = np.array([[1e-300, -0.0]], "float64").tobytes().hex()
    # Every float is the chief's, bit for bit; integers are left alone.
    assert f"VALUES {weights} {raw} 5" in outputs[0]
    assert f"VALUES {weights} {raw} 6" in outputs[1]
