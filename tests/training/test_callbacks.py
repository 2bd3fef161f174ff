"""ClusteringMetrics and StepDecay inside `model.fit`."""

import keras
import numpy as np
import pytest

import vade_tf
from vade_tf import metrics
from vade_tf.training import callbacks


def test_clustering_metrics_land_in_history(small_model, blobs, tmp_path):
    x, y = blobs
    small_model.initialize_mixture(x, random_state=0)
    small_model.compile()
    csv = tmp_path / "log.csv"
    history = small_model.fit(
        x,
        epochs=2,
        batch_size=40,
        verbose=0,
        callbacks=[
            callbacks.ClusteringMetrics(x, y),
            keras.callbacks.CSVLogger(str(csv)),
        ],
    )
    for key in ("acc", "nmi", "ari", "min_cluster_fraction"):
        assert len(history.history[key]) == 2
    clusters = small_model.predict_clusters(x)
    assert history.history["acc"][-1] == pytest.approx(
        metrics.cluster_acc(y, clusters)[0]
    )
    header = csv.read_text().splitlines()[0].split(",")
    assert {"acc", "nmi", "ari", "loss", "kl"} <= set(header)


def test_clustering_metrics_every_and_prefix(small_model, blobs):
    x, y = blobs
    small_model.compile()
    history = small_model.fit(
        x,
        epochs=3,
        batch_size=40,
        verbose=0,
        callbacks=[callbacks.ClusteringMetrics(x, y, every=2, prefix="val_")],
    )
    assert len(history.history["val_acc"]) == 1
    with pytest.raises(ValueError, match="same number of samples"):
        callbacks.ClusteringMetrics(x, y[:5])
    with pytest.raises(ValueError, match="every"):
        callbacks.ClusteringMetrics(x, y, every=0)
    with pytest.raises(ValueError, match="every must be an integer"):
        callbacks.ClusteringMetrics(x, y, every=True)
    assert callbacks.ClusteringMetrics(x, y, every=np.int64(2)).every == 2


def test_step_decay_drives_both_optimizers(small_model, blobs):
    x, _ = blobs
    small_model.compile(
        optimizer=keras.optimizers.Adam(0.002),
        mixture_optimizer=keras.optimizers.Adam(0.004),
    )
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(
                (
                    float(self.model.optimizer.learning_rate),
                    float(self.model.mixture_optimizer.learning_rate),
                )
            )

    history = small_model.fit(
        x,
        epochs=7,
        batch_size=60,
        verbose=0,
        callbacks=[
            callbacks.StepDecay(decay=0.5, every=2, floor=0.0003),
            Record(),
        ],
    )
    expected = [
        (
            max(0.002 * 0.5 ** (e // 2), 0.0003),
            max(0.004 * 0.5 ** (e // 2), 0.0003),
        )
        for e in range(7)
    ]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    np.testing.assert_allclose(
        history.history["learning_rate"], [s[0] for s in seen], rtol=1e-6
    )


def test_step_decay_refuses_a_learning_rate_schedule(small_model, blobs):
    x, _ = blobs
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)
    small_model.compile(optimizer=keras.optimizers.Adam(schedule))
    with pytest.raises(ValueError, match="LearningRateSchedule"):
        small_model.fit(
            x,
            epochs=1,
            verbose=0,
            callbacks=[callbacks.StepDecay(0.9, 10, 0.0002)],
        )


def test_the_original_recipes_schedule_is_the_releases():
    from vade_tf.training import recipes

    decay = recipes.ORIGINAL.schedule()
    assert (decay.decay, decay.every, decay.floor) == (0.9, 10, 0.0002)
    with pytest.raises(ValueError, match="decay"):
        callbacks.StepDecay(decay=1.5, every=10, floor=0.0)


def test_history_csv_has_no_empty_validation_columns(
    small_model, blobs, tmp_path
):
    x, _ = blobs
    small_model.initialize_mixture(x, random_state=0)
    small_model.compile(jit_compile=False)
    path = tmp_path / "history.csv"
    small_model.fit(
        x,
        epochs=2,
        batch_size=40,
        verbose=0,
        callbacks=[callbacks.HistoryCSV(str(path))],
    )
    rows = path.read_text().splitlines()
    header = rows[0].split(",")
    assert "loss" in header and not any(k.startswith("val_") for k in header)
    assert len(rows) == 3 and all("NA" not in row for row in rows)
    # With validation data, its columns are there and filled.
    path.unlink()
    small_model.fit(
        x,
        epochs=1,
        batch_size=40,
        verbose=0,
        validation_data=x,
        callbacks=[callbacks.HistoryCSV(str(path))],
    )
    header, values = [r.split(",") for r in path.read_text().splitlines()]
    assert "val_loss" in header and "NA" not in values


def _record_saves(model, x, monkeypatch, record):
    """Starts and compiles `model` on `x`; returns the list that gets
    `record(target)` for each `model.save(target)`."""
    model.initialize_mixture(x, random_state=0)
    model.compile(jit_compile=False)
    saved = []
    original_save = model.save

    def recording_save(target, *args, **kwargs):
        saved.append(record(target))
        return original_save(target, *args, **kwargs)

    monkeypatch.setattr(model, "save", recording_save)
    return saved


def test_checkpoint_saves_each_epoch_through_a_temporary_file(
    small_model, blobs, tmp_path, monkeypatch
):
    x, _ = blobs
    path = tmp_path / "checkpoint.keras"
    saved = _record_saves(
        small_model, x, monkeypatch, lambda target: str(target)
    )
    small_model.fit(
        x,
        epochs=2,
        batch_size=40,
        verbose=0,
        callbacks=[callbacks.Checkpoint(str(path))],
    )
    # Written twice, never in place, and nothing left beside it.
    assert len(saved) == 2 and all(s != str(path) for s in saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.keras"]
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        restored.predict_proba(x), small_model.predict_proba(x), atol=1e-6
    )
    with pytest.raises(ValueError, match="must end in '.keras'"):
        callbacks.Checkpoint(str(tmp_path / "checkpoint.h5"))


def test_checkpoint_min_interval_saves_the_last_epoch_once(
    small_model, blobs, tmp_path, monkeypatch
):
    x, _ = blobs
    path = tmp_path / "checkpoint.keras"
    saved_after = _record_saves(
        small_model,
        x,
        monkeypatch,
        lambda target: int(small_model.optimizer.iterations.numpy()),
    )
    checkpoint = callbacks.Checkpoint(str(path), min_interval=3600)
    seen = []
    small_model.fit(
        x,
        epochs=3,
        batch_size=40,
        verbose=0,
        callbacks=[
            checkpoint,
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: seen.append(path.exists())
            ),
        ],
    )
    # The first epoch saved, none within the interval, the last when
    # training ends.
    steps_per_epoch = -(-len(x) // 40)
    assert seen == [True, True, True]
    assert saved_after == [steps_per_epoch, 3 * steps_per_epoch]
    restored = keras.models.load_model(path)
    assert int(restored.optimizer.iterations.numpy()) == 3 * steps_per_epoch
    # A clock 6 s further at each reading, an interval of 10 s: epochs 1
    # and 3 saved in training (3 is 12 s after 1's save), 4 at its end.
    saved_after.clear()
    clock = iter(range(6, 600, 6))
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: next(clock))
    small_model.fit(
        x,
        epochs=4,
        batch_size=40,
        verbose=0,
        callbacks=[callbacks.Checkpoint(str(path), min_interval=10)],
    )
    start = 3 * steps_per_epoch
    assert saved_after == [start + e * steps_per_epoch for e in (1, 3, 4)]
    for bad in (-1, "10", True, float("nan")):
        with pytest.raises(ValueError, match="min_interval must be"):
            callbacks.Checkpoint(str(path), min_interval=bad)


def _monitor_messages(model, x, **kwargs):
    """Runs a CollapseMonitor for one epoch end; returns its messages."""
    messages = []
    monitor = callbacks.CollapseMonitor(x, report=messages.append, **kwargs)
    monitor.set_model(model)
    monitor.on_train_begin()
    logs = {}
    monitor.on_epoch_end(0, logs)
    return messages, logs


def test_collapse_monitor_names_the_cluster_and_the_cause(small_model, blobs):
    x, _ = blobs
    small_model.initialize_mixture(x, n_init=1, random_state=0)
    messages, logs = _monitor_messages(small_model, x)
    assert messages == []  # a healthy start: nothing to say
    assert logs["min_cluster_fraction"] > 0.2

    # Cluster 2's weight at the floor: the prior gave it up.
    theta = np.asarray(small_model.theta_p).copy()
    theta[2] = 1e-6
    small_model.set_mixture_parameters(
        theta / theta.sum(), small_model.c_mean, small_model.c_var
    )
    messages, _ = _monitor_messages(small_model, x)
    assert any("cluster 2" in m and "mixture weight" in m for m in messages)

    # Cluster 0's mean far from every point: no points, weight intact.
    means = np.asarray(small_model.c_mean).copy()
    means[0] = 1e3
    small_model.set_mixture_parameters(
        [1 / 3, 1 / 3, 1 / 3], means, small_model.c_var
    )
    messages, logs = _monitor_messages(small_model, x)
    assert logs["min_cluster_fraction"] == 0.0
    assert any("cluster 0 holds 0.00%" in m for m in messages)
    # The likeliest cause first: more clusters than the data hold.
    emptied = next(m for m in messages if "cluster 0 holds" in m)
    assert "2 of the 3 clusters keep points" in emptied
    assert emptied.index("K = 3 is more than") < emptied.index("learning rate")
    assert "--n-clusters auto" in emptied

    # All components the same and very wide: q(c|x) is uniform.
    small_model.set_mixture_parameters(
        [1 / 3, 1 / 3, 1 / 3], np.zeros((3, 2)), np.full((3, 2), 1e4)
    )
    messages, _ = _monitor_messages(small_model, x)
    assert any("nearly uniform" in m for m in messages)


def test_collapse_monitor_leaves_a_mixture_fitted_after_training_alone(blobs):
    # The VAE+GMM baseline's mixture is fitted only at the end: during
    # training it is no sign of collapse, whatever it holds.
    x, _ = blobs
    model = vade_tf.model.baselines.VAEGMM(
        12, 3, latent_dim=2, hidden_dims=(8,), seed=0
    )
    model.set_mixture_parameters(
        [1 / 3, 1 / 3, 1 / 3], np.zeros((3, 2)), np.full((3, 2), 1e4)
    )
    assert _monitor_messages(model, x) == ([], {})


def test_collapse_monitor_warns_once_per_cause(small_model, blobs):
    x, _ = blobs
    small_model.set_mixture_parameters(
        [1 / 3, 1 / 3, 1 / 3], np.zeros((3, 2)), np.full((3, 2), 1e4)
    )
    monitor = callbacks.CollapseMonitor(x)
    monitor.set_model(small_model)
    monitor.on_train_begin()
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.on_epoch_end(0, {})
    collapse = [
        w for w in caught if w.category is callbacks.VaDECollapseWarning
    ]
    assert any("nearly uniform" in str(w.message) for w in collapse)

    with warnings.catch_warnings():
        warnings.simplefilter("error", callbacks.VaDECollapseWarning)
        monitor.on_epoch_end(1, {})  # the same cause: no second warning


def test_progress_bar_never_counts_past_the_epoch(capsys):
    # 18 steps an epoch, 32 steps per call: Keras alone would show 32/18.
    x = np.random.default_rng(0).random((180, 12)).astype("float32")
    model = vade_tf.VaDE(12, 3, latent_dim=2, hidden_dims=(8,), seed=0)
    model.compile(jit_compile=False, steps_per_execution=32)
    capsys.readouterr()
    model.fit(x, batch_size=10, epochs=1, verbose=1)
    shown = capsys.readouterr().out
    assert "18/18" in shown and "32/18" not in shown
    # A progress bar of the user's own is left as it is.
    own = keras.callbacks.ProgbarLogger()
    model.fit(x, batch_size=10, epochs=1, verbose=1, callbacks=[own])
    assert "18/18" in capsys.readouterr().out


def test_history_csv_resumed_from_an_earlier_epoch_drops_its_later_rows(
    small_model, blobs, tmp_path
):
    # A run stopped after writing epoch 3's row but before its checkpoint:
    # the resumed run starts at epoch 3 again, and its row is not doubled.
    x, _ = blobs
    path = tmp_path / "history.csv"
    small_model.compile(jit_compile=False)
    small_model.fit(
        x,
        epochs=4,
        batch_size=40,
        verbose=0,
        callbacks=[callbacks.HistoryCSV(path)],
    )
    small_model.fit(
        x,
        initial_epoch=2,
        epochs=5,
        batch_size=40,
        verbose=0,
        callbacks=[callbacks.HistoryCSV(path, append=True)],
    )
    rows = path.read_text().splitlines()
    assert rows[0].startswith("epoch,")
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1", "2", "3", "4"]
    # A new fit from epoch 0 appends, as Keras's CSVLogger does.
    small_model.fit(
        x,
        epochs=2,
        batch_size=40,
        verbose=0,
        callbacks=[callbacks.HistoryCSV(path, append=True)],
    )
    epochs = [row.split(",")[0] for row in path.read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2", "3", "4", "0", "1"]
