"""Keras callbacks for VaDE: clustering metrics, the two-optimizer schedule."""

import keras
import numpy as np

from vade_tf import metrics


class ClusteringMetrics(keras.callbacks.Callback):
    """Adds clustering accuracy, NMI and ARI to the epoch logs.

    At the end of every `every`-th epoch the model's clusters on `x` are
    scored against `y`; the scores appear in the progress bar, the `History`
    and any later callback (`CSVLogger`, `TensorBoard`, `ModelCheckpoint`
    with `monitor="acc"`). It also logs `min_cluster_fraction`, the share of
    points in the smallest cluster, which falls to 0 when clusters collapse.

    Args:
        x: array of shape `(n_samples, input_dim)`.
        y: array of shape `(n_samples,)`, true labels.
        batch_size: int, the prediction batch size (large batches keep the
            epoch-end pass cheap; see docs/performance.md).
        every: int, score every this many epochs.
        prefix: str put before each log key (for example `"val_"`).
    """

    def __init__(self, x, y, batch_size=5000, every=1, prefix=""):
        super().__init__()
        x = np.asarray(x, dtype="float32")
        y = np.asarray(y)
        if len(x) != len(y):
            raise ValueError(
                "x and y must have the same number of samples. Received "
                f"{len(x)} and {len(y)}."
            )
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1. Received: {every!r}")
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.every = every
        self.prefix = prefix

    def on_train_begin(self, logs=None):
        # x is fixed: check it once here, not at every epoch.
        self.x = self.model._check(self.x, "ClusteringMetrics x")

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        _, probs = self.model._inference(self.x, self.batch_size)
        clusters = np.argmax(probs, axis=-1)
        scores = metrics.clustering_scores(self.y, clusters)
        scores["min_cluster_fraction"] = metrics.min_cluster_fraction(
            clusters, self.model.n_clusters
        )
        for name, value in scores.items():
            logs[self.prefix + name] = float(value)


class StepDecay(keras.callbacks.Callback):
    """The original release's schedule, driving both VaDE optimizers.

    At the start of epoch e the learning rate of `model.optimizer` and
    `model.gmm_optimizer` is `max(initial * decay ** (e // every), floor)`,
    where `initial` is each optimizer's rate when training began (a rate
    that starts below the floor is left as it is). The defaults (x0.9 every
    10 epochs, floor 0.0002) are the original's.

    Args:
        decay: float in (0, 1].
        every: int, epochs between decays.
        floor: float, the smallest rate.
    """

    def __init__(self, decay=0.9, every=10, floor=0.0002):
        super().__init__()
        if not 0 < decay <= 1:
            raise ValueError(f"decay must be in (0, 1]. Received: {decay!r}")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1. Received: {every!r}")
        self.decay = decay
        self.every = every
        self.floor = floor
        self.initial_rates = None

    def _optimizers(self):
        optimizers = [self.model.optimizer]
        gmm_optimizer = getattr(self.model, "gmm_optimizer", None)
        if gmm_optimizer is not None:
            optimizers.append(gmm_optimizer)
        return optimizers

    def on_train_begin(self, logs=None):
        for optimizer in self._optimizers():
            if isinstance(
                optimizer._learning_rate,
                keras.optimizers.schedules.LearningRateSchedule,
            ):
                raise ValueError(
                    "StepDecay sets the learning rate of both optimizers, "
                    "but one of them follows a LearningRateSchedule "
                    f"({type(optimizer._learning_rate).__name__}). Use "
                    "either the schedule or StepDecay, not both."
                )
        if self.initial_rates is None:
            self.initial_rates = [
                float(keras.ops.convert_to_numpy(opt.learning_rate))
                for opt in self._optimizers()
            ]

    def on_epoch_begin(self, epoch, logs=None):
        factor = self.decay ** (epoch // self.every)
        for optimizer, initial in zip(self._optimizers(), self.initial_rates):
            floor = min(self.floor, initial)
            optimizer.learning_rate = max(initial * factor, floor)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            )
