"""ClusteringMetrics and StepDecay inside `model.fit`."""

import keras
import numpy as np
import pytest

from vade_tf import callbacks, metrics


def test_clustering_metrics_land_in_history(small_model, blobs, tmp_path):
    x, y = blobs
    small_model.initialize_gmm(x, random_state=0)
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


def test_step_decay_drives_both_optimizers(small_model, blobs):
    x, _ = blobs
    small_model.compile(
        optimizer=keras.optimizers.Adam(0.002),
        gmm_optimizer=keras.optimizers.Adam(0.004),
    )
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(
                (
                    float(self.model.optimizer.learning_rate),
                    float(self.model.gmm_optimizer.learning_rate),
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
            x, epochs=1, verbose=0, callbacks=[callbacks.StepDecay()]
        )


def test_step_decay_defaults_are_the_original_schedule():
    decay = callbacks.StepDecay()
    assert (decay.decay, decay.every, decay.floor) == (0.9, 10, 0.0002)
    with pytest.raises(ValueError, match="decay"):
        callbacks.StepDecay(decay=1.5)


def test_history_csv_has_no_empty_validation_columns(
    small_model, blobs, tmp_path
):
    x, _ = blobs
    small_model.initialize_gmm(x, random_state=0)
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


def test_checkpoint_saves_each_epoch_through_a_temporary_file(
    small_model, blobs, tmp_path, monkeypatch
):
    x, _ = blobs
    small_model.initialize_gmm(x, random_state=0)
    small_model.compile(jit_compile=False)
    path = tmp_path / "checkpoint.keras"
    saved = []
    original_save = small_model.save

    def recording_save(target, *args, **kwargs):
        saved.append(str(target))
        return original_save(target, *args, **kwargs)

    monkeypatch.setattr(small_model, "save", recording_save)
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
