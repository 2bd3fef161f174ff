"""Streaming sharded .npy files through tf.data: every row once per epoch,
shuffled, in bounded memory; samples for what needs data in memory."""

import os
import subprocess
import sys

import numpy as np
import pytest

import vade_tf
from vade_tf.data import streaming


@pytest.fixture
def shards(tmp_path):
    # Row i holds i in every column, so rows can be told apart.
    x = np.repeat(np.arange(2500, dtype="float32")[:, None], 4, axis=1)
    paths = streaming.write_shards(x, tmp_path / "s", rows_per_shard=900)
    return x, paths


def _rows(dataset):
    return np.concatenate([batch.numpy() for batch in dataset])[:, 0]


def test_write_shards_splits_and_refuses_to_overwrite(shards, tmp_path):
    x, paths = shards
    assert [os.path.basename(p) for p in paths] == [
        "shard-00000.npy",
        "shard-00001.npy",
        "shard-00002.npy",
    ]
    np.testing.assert_array_equal(
        np.concatenate([np.load(p) for p in paths]), x
    )
    with pytest.raises(FileExistsError, match="shard-00000.npy exists"):
        streaming.write_shards(x, tmp_path / "s")
    assert streaming.count_rows(tmp_path / "s") == 2500


def test_write_shards_refuses_before_writing_any(tmp_path):
    # Only the second shard exists: nothing is written, not even the first.
    folder = tmp_path / "partial"
    folder.mkdir()
    np.save(folder / "shard-00001.npy", np.zeros((2, 3), "float32"))
    x = np.ones((10, 3), "float32")
    with pytest.raises(FileExistsError, match="1 of the 2 shards"):
        streaming.write_shards(x, folder, rows_per_shard=5)
    assert sorted(os.listdir(folder)) == ["shard-00001.npy"]
    paths = streaming.write_shards(x, folder, rows_per_shard=5, overwrite=True)
    np.testing.assert_array_equal(
        np.concatenate([np.load(p) for p in paths]), x
    )


def test_each_epoch_reads_every_row_once_in_a_new_order(shards, tmp_path):
    x, _ = shards
    dataset = streaming.stream(
        tmp_path / "s", 64, shuffle_buffer=300, seed=0, chunk_rows=128
    )
    assert dataset.cardinality().numpy() == -(-2500 // 64)
    first, second = _rows(dataset), _rows(dataset)
    for rows in (first, second):
        np.testing.assert_array_equal(np.sort(rows), x[:, 0])
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, x[:, 0])
    unshuffled = streaming.stream(tmp_path / "s", 64, shuffle_buffer=0)
    np.testing.assert_array_equal(_rows(unshuffled), x[:, 0])
    # Fixed parallelism and prefetch, without tf.data's autotuning on top
    # (it left the cores idle: docs/performance.md, "The training input").
    assert dataset.options().autotune.enabled is False


def test_shards_of_chunks_split_the_rows_between_workers(shards, tmp_path):
    x, _ = shards
    streams = [
        streaming.stream(
            tmp_path / "s", 50, seed=1, chunk_rows=100, shard=(2, i)
        )
        for i in range(2)
    ]
    parts = [_rows(stream) for stream in streams]
    for stream, rows in zip(streams, parts):
        # The declared batch count is right, short last chunks included
        # (shards of 900, 900, 700 rows in chunks of 100).
        assert stream.cardinality().numpy() == -(-len(rows) // 50)
        assert sum(1 for _ in stream) == stream.cardinality().numpy()
    assert abs(len(parts[0]) - len(parts[1])) <= 100
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), x[:, 0])
    with pytest.raises(ValueError, match="shard must be"):
        streaming.stream(tmp_path / "s", 50, shard=(2, 2))


def test_sample_is_seeded_uniform_and_without_replacement(shards, tmp_path):
    x, paths = shards
    rows = streaming.sample(paths, 700, seed=3)[:, 0]
    np.testing.assert_array_equal(
        rows, streaming.sample(paths, 700, seed=3)[:, 0]
    )
    assert len(np.unique(rows)) == 700
    # Drawn from every shard, about in proportion to its rows.
    counts = np.histogram(rows, bins=[0, 900, 1800, 2500])[0]
    assert (
        np.abs(counts / 700 - np.array([900, 900, 700]) / 2500) < 0.06
    ).all()
    assert len(streaming.sample(paths, 10**6)) == 2500


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="No .npy files"):
        streaming.stream(tmp_path, 10)
    np.save(tmp_path / "a.npy", np.zeros((5, 3), "float32"))
    np.save(tmp_path / "b.npy", np.zeros((5, 4), "float32"))
    with pytest.raises(ValueError, match="same number of features"):
        streaming.stream(tmp_path, 10)
    np.save(tmp_path / "c.npy", np.zeros((5, 3, 2), "float32"))
    with pytest.raises(ValueError, match="shape \\(rows, features\\)"):
        streaming.shard_layout(tmp_path / "c.npy")


def test_vade_trains_on_a_stream_and_scores_a_sample(tmp_path):
    x, y = vade_tf.data.datasets.load_dataset("digits")
    folder = tmp_path / "digits"
    streaming.write_shards(x, folder, rows_per_shard=700)
    model = vade_tf.VaDE(64, 10, latent_dim=4, hidden_dims=(32,), seed=0)
    model.pretrain(streaming.sample(folder, 1000, seed=0), epochs=2, verbose=0)
    model.initialize_mixture(
        streaming.sample(folder, 1000, seed=1), random_state=0
    )
    model.compile(jit_compile=False)
    metrics = vade_tf.training.callbacks.ClusteringMetrics(x[:400], y[:400])
    history = model.fit(
        streaming.stream(folder, 100, seed=0),
        epochs=2,
        verbose=0,
        callbacks=[metrics],
    )
    assert np.isfinite(history.history["loss"]).all()
    assert len(history.history["acc"]) == 2


MEMORY_SCRIPT = r"""
import resource, sys
import numpy as np
import vade_tf
from vade_tf.data import streaming

folder = sys.argv[1]
dataset = streaming.stream(folder, 256, seed=0)
next(iter(dataset))  # the pipeline's own start-up cost, before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = sum(int(batch.shape[0]) for batch in dataset)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rows, (after - before) / 1024)
"""


@pytest.mark.slow  # writes 256 MiB and starts an interpreter, about 7 s
def test_a_stream_larger_than_the_memory_budget_stays_within_it(tmp_path):
    # 256 MiB of shards, read through in a process whose peak memory may
    # grow by at most 64 MiB while it does.
    folder = tmp_path / "big"
    rows_per_shard = 2**15
    for index in range(8):
        block = np.full((rows_per_shard, 256), index, "float32")
        streaming.write_shards(block, folder / f"{index}", rows_per_shard)
    script = tmp_path / "memory.py"
    script.write_text(MEMORY_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(folder / "*" / "*.npy")],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows, growth_mib = result.stdout.split()[-2:]
    assert int(rows) == 8 * rows_per_shard
    assert float(growth_mib) < 64, growth_mib
