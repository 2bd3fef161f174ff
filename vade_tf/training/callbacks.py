"""Keras callbacks for VaDE: clustering metrics, the two-optimizer schedule."""

import math
import numbers
import time

import keras
import numpy as np

from vade_tf import metrics, validation


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
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.every = validation.check_int(every, "every", 1)
        self.prefix = prefix

    def on_train_begin(self, logs=None):
        # A wrong x fails before the first epoch, not after it.
        self.x = validation.check_model_input(
            self.model, self.x, "ClusteringMetrics x", streamed=False
        )

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        # Checked once in on_train_begin, not again every epoch.
        clusters = self.model.predict_clusters(
            self.x, self.batch_size, check_input=False
        )
        scores = metrics.clustering_scores(self.y, clusters)
        scores["min_cluster_fraction"] = metrics.min_cluster_fraction(
            clusters, self.model.n_clusters
        )
        for name, value in scores.items():
            logs[self.prefix + name] = float(value)


class DatasetEpoch(keras.callbacks.Callback):
    """Tells a dataset which epoch begins (`batches.shuffled_epochs`).

    Sets `variable` to Keras's epoch number in `on_epoch_begin`, before
    `fit` starts the epoch's pass over the data; the dataset reads it to
    order that pass.

    Args:
        variable: an int64 scalar `tf.Variable`.
    """

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class StepProgbar(keras.callbacks.ProgbarLogger):
    """`keras.callbacks.ProgbarLogger` that never counts past an epoch's end.

    With `steps_per_execution` > 1, Keras reports each call of the training
    function as ending `steps_per_execution` steps after it began, also the
    last call of an epoch, which ends earlier: an epoch of 18 steps showed
    `32/18` and a negative ETA before its final `18/18` (keras-team/keras
    issue 20861). This logger clips the count to the epoch's steps;
    `VaDE.fit` uses it unless `callbacks` hold a progress bar already.
    """

    def on_train_batch_end(self, batch, logs=None):
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super().on_train_batch_end(batch, logs)


class StepDecay(keras.callbacks.Callback):
    """The original release's schedule, driving both VaDE optimizers.

    At the start of epoch e the learning rate of `model.optimizer` and
    `model.mixture_optimizer` is `max(initial * decay ** (e // every), floor)`
    (a rate that starts below the floor is left as it is). A recipe's
    schedule is `recipe.schedule()`:
    `vade_tf.training.recipes.ORIGINAL.schedule()`
    is the original release's (x0.9 every 10 epochs, floor 0.0002).

    `initial_rates` are the rates at epoch 0. Give them when training
    resumes (`fit(initial_epoch=k)` on a model whose optimizers already
    decayed); by default they are read from the optimizers when training
    begins for the first time.

    Args:
        decay: float in (0, 1].
        every: int, epochs between decays.
        floor: float, the smallest rate.
        initial_rates: `None` or a pair `(network, mixture)` of floats.
    """

    def __init__(self, decay, every, floor, initial_rates=None):
        super().__init__()
        if not 0 < decay <= 1:
            raise ValueError(f"decay must be in (0, 1]. Received: {decay!r}")
        self.every = validation.check_int(every, "every", 1)
        self.decay = decay
        self.floor = floor
        if initial_rates is not None:
            initial_rates = [
                validation.check_positive_float(rate, "initial_rates")
                for rate in initial_rates
            ]
        self.initial_rates = initial_rates

    def _optimizers(self):
        optimizers = [self.model.optimizer]
        mixture_optimizer = getattr(self.model, "mixture_optimizer", None)
        if mixture_optimizer is not None:
            optimizers.append(mixture_optimizer)
        return optimizers

    @staticmethod
    def _configured_rate(optimizer):
        # A LossScaleOptimizer (under "mixed_float16") has the rate in its
        # inner optimizer's config, not its own.
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        return optimizer.get_config()["learning_rate"]

    def on_train_begin(self, logs=None):
        for optimizer in self._optimizers():
            rate = self._configured_rate(optimizer)
            if not isinstance(rate, (int, float)):
                raise ValueError(
                    "StepDecay sets the learning rate of both optimizers, "
                    "but one of them follows a LearningRateSchedule "
                    f"({rate}). Use either the schedule or StepDecay, not "
                    "both."
                )
        if self.initial_rates is None:
            self.initial_rates = [
                float(self._configured_rate(optimizer))
                for optimizer in self._optimizers()
            ]

    def on_epoch_begin(self, epoch, logs=None):
        factor = self.decay ** (epoch // self.every)
        for optimizer, initial in zip(self._optimizers(), self.initial_rates):
            floor = min(self.floor, initial)
            optimizer.learning_rate = max(initial * factor, floor)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(
                self._configured_rate(self.model.optimizer)
            )


class Checkpoint(keras.callbacks.Callback):
    """Saves the whole model to a `.keras` file after epochs, atomically.

    Each save goes to a temporary file beside `path` that is then renamed
    onto it, so an interrupted save (Ctrl-C, a full disk, a killed process)
    leaves the previous epoch's checkpoint intact instead of a truncated
    file. `keras.callbacks.ModelCheckpoint` writes the file in place.

    With `min_interval`, the first epoch is saved, then an epoch's save is
    skipped while the last save is less than that many seconds old, and the
    last epoch is saved when training ends (a Ctrl-C loses the epochs after
    the last save): on small data, whose epochs take a fraction of a second,
    writing the model (tens of MB with its optimizer state) would otherwise
    cost more than the training. A run resumed from such a checkpoint
    continues from the epoch it holds (`vade_tf.workflow.resume` counts the
    optimizer's steps).

    Args:
        path: str, a file name ending in `.keras`.
        every: int, save every this many epochs (and, with `min_interval`,
            the last epoch when training ends).
        min_interval: float >= 0, the fewest seconds between two saves
            during training.
    """

    def __init__(self, path, every=1, min_interval=0.0):
        super().__init__()
        path = str(path)
        if not path.endswith(".keras"):
            raise ValueError(
                f"Checkpoint path must end in '.keras'. Received: {path!r}"
            )
        if (
            isinstance(min_interval, bool)
            or not isinstance(min_interval, numbers.Real)
            or not min_interval >= 0
        ):
            raise ValueError(
                "Checkpoint min_interval must be a number of seconds >= 0. "
                f"Received: min_interval={min_interval!r}"
            )
        self.path = path
        self.every = validation.check_int(every, "every", 1)
        self.min_interval = float(min_interval)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self._saved_at = -math.inf  # the first epoch is always saved
        self._unsaved = False

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        if time.monotonic() - self._saved_at < self.min_interval:
            self._unsaved = True
            return
        self._save()

    def on_train_end(self, logs=None):
        if self._unsaved:
            self._save()

    def _save(self):
        from vade_tf import fileio

        with fileio.atomic_output(
            self.path, overwrite=True, suffix=".keras"
        ) as temporary:
            self.model.save(temporary)
        self._saved_at = time.monotonic()
        self._unsaved = False


class HistoryCSV(keras.callbacks.CSVLogger):
    """`keras.callbacks.CSVLogger` with only the columns that have values.

    Keras's logger adds a `val_` column for every metric when the first
    epoch has none, which are all empty without validation data; this one
    writes the keys of the first epoch's logs, and `val_` columns only when
    there is validation data.

    Args:
        filename: str, the CSV file.
        separator: str.
        append: bool, append to an existing file. A fit that resumes at
            `initial_epoch` > 0 first drops the file's rows of that epoch and
            later ones, which the resumed run writes again.
    """

    def on_train_begin(self, logs=None):
        self._first_epoch = True
        super().on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        if self.append and self._first_epoch and epoch > 0:
            self._drop_rows_from(epoch)
        self._first_epoch = False

    def _drop_rows_from(self, epoch):
        """Drops the rows of epochs >= `epoch` from the file being appended
        to, when a fit resumes at `epoch` > 0: a run resumed from an earlier
        checkpoint (one stopped between writing an epoch's row and saving
        its checkpoint) repeats them. Rows whose epoch is not a number are
        kept."""

        def before(row):
            try:
                return int(float(row[0])) < epoch
            except (ValueError, IndexError):
                return True

        import csv

        from vade_tf import fileio

        self.csv_file.close()
        with open(self.filename, newline="", encoding="utf8") as handle:
            lines = list(csv.reader(handle, delimiter=self.sep))
        kept = lines[:1] + [row for row in lines[1:] if row and before(row)]
        if len(kept) < len(lines):
            with fileio.atomic_output(self.filename, overwrite=True) as temp:
                with open(temp, "w", encoding="utf8", newline="") as handle:
                    csv.writer(
                        handle, delimiter=self.sep, lineterminator="\n"
                    ).writerows(kept)
        self.csv_file = open(self.filename, "a", encoding="utf8")

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None and logs:
            # Appended rows follow the file's own columns (a run started by
            # an older version may lack one): a column missing from the logs
            # is written "NA", a log missing from the file is left out.
            self.keys = (self.append and self._header()) or sorted(logs)
        super().on_epoch_end(epoch, logs)

    def _header(self):
        """The columns after `epoch` of the file appended to, or `None`."""
        import csv

        try:
            with open(self.filename, newline="", encoding="utf8") as handle:
                header = next(csv.reader(handle, delimiter=self.sep), None)
        except OSError:
            return None
        return header[1:] if header and header[0] == "epoch" else None


class CollapseMonitor(keras.callbacks.Callback):
    """Warns when VaDE's clusters collapse, naming the cluster and the cause.

    At the end of every `every`-th epoch it computes q(c|x) on `x` (at most
    `max_samples` rows, a fixed random subset) and warns when

    - a cluster's share of the points falls below `min_fraction` (the
      points moved to other clusters),
    - a mixture weight `theta_p[c]` falls below `min_weight` (the prior
      itself gave the cluster up),
    - q(c|x) is nearly uniform: its mean entropy is above
      `max_entropy_ratio * log K`, so the clusters no longer explain the
      points (overlapping components; with `gamma_mode="original"` the
      original release's `p(c, z) + 1e-10` does this, docs/model.md).

    Each warning is given once per cluster and cause, as a Python warning
    (`VaDECollapseWarning`; `warnings.simplefilter("error",
    VaDECollapseWarning)` turns them into errors) or through `report`. It
    uses no labels. The epoch logs get `min_cluster_fraction`, the
    smallest share, unless an earlier callback (`ClusteringMetrics`, on
    all of x) logged it. A model whose mixture is fitted only after
    training (`fits_mixture_after_training`, the VAE+GMM baseline) is not
    checked: its mixture during training is not the one it will cluster
    with.

    Args:
        x: array of shape `(n_samples, input_dim)`, the training data.
        min_fraction: float, the smallest share of points a cluster should
            keep; default 1% of what an even split gives each cluster
            (`0.01 / K`) when `None`.
        min_weight: float or `None` (the same default as `min_fraction`).
        max_entropy_ratio: float in (0, 1].
        max_samples: int, rows scored each time.
        every: int, check every this many epochs.
        seed: int, picks the subset.
        report: `None` to warn, or a function called with each message
            (the command line prints them).
    """

    def __init__(
        self,
        x,
        min_fraction=None,
        min_weight=None,
        max_entropy_ratio=0.9,
        max_samples=10000,
        every=1,
        seed=0,
        report=None,
    ):
        super().__init__()
        x = np.asarray(x, dtype="float32")
        if len(x) > max_samples:
            rows = np.random.default_rng(seed).choice(
                len(x), max_samples, replace=False
            )
            x = x[np.sort(rows)]
        self.x = x
        self.min_fraction = min_fraction
        self.min_weight = min_weight
        if not 0.0 < max_entropy_ratio <= 1.0:
            raise ValueError(
                "max_entropy_ratio must be in (0, 1]. Received: "
                f"{max_entropy_ratio!r}"
            )
        self.max_entropy_ratio = max_entropy_ratio
        self.every = validation.check_int(every, "every", 1)
        self.report = report
        self.warned = set()

    def on_train_begin(self, logs=None):
        self.x = validation.check_model_input(
            self.model, self.x, "CollapseMonitor x", streamed=False
        )

    def _warn(self, key, message):
        if key in self.warned:
            return
        self.warned.add(key)
        if self.report is not None:
            self.report(message)
            return
        import warnings

        warnings.warn(message, VaDECollapseWarning, stacklevel=2)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or getattr(
            self.model, "fits_mixture_after_training", False
        ):
            return
        k = self.model.n_clusters
        probs = self.model.predict_proba(self.x, check_input=False)
        shares = np.bincount(probs.argmax(axis=1), minlength=k) / len(probs)
        theta = np.asarray(self.model.theta_p)
        min_fraction = self.min_fraction or 0.01 / k
        min_weight = self.min_weight or 0.01 / k
        if logs is not None:
            # ClusteringMetrics, when present, logged it on all of x.
            logs.setdefault("min_cluster_fraction", float(shares.min()))
        for c in np.flatnonzero(theta < min_weight):
            self._warn(
                ("weight", c),
                f"epoch {epoch + 1}: the mixture weight of cluster {c} fell "
                f"to {theta[c]:.2g} (< {min_weight:.2g}): the prior gave the "
                "cluster up. Likely cause: the mixture's steps are too large "
                "for its scale (lower mixture_learning_rate, or "
                'mixture_updates="relative" / --mixture-updates relative).',
            )
        emptied = [
            c
            for c in np.flatnonzero(shares < min_fraction)
            if ("weight", c) not in self.warned
        ]
        for c in emptied:
            kept = int(np.sum(shares >= min_fraction))
            self._warn(
                ("share", c),
                f"epoch {epoch + 1}: cluster {c} holds {shares[c]:.2%} of "
                f"the points (< {min_fraction:.2%}) while its weight is "
                f"{theta[c]:.3f}: the encoder moved its points to other "
                f"clusters, and {kept} of the {k} clusters keep points. "
                f"Most likely K = {k} is more than the clusters the data "
                "hold: let K be chosen (n_clusters=\"auto\", --n-clusters "
                f"auto) or ask for about {kept}. Less likely: a network "
                "learning rate too high for the latent scale (the tuned "
                "recipe uses 0.0002), or data whose scale the likelihood "
                "does not suit (standardise features for the gaussian "
                "likelihood).",
            )
        entropy = -np.sum(probs * np.log(np.maximum(probs, 1e-30)), axis=1)
        ratio = float(entropy.mean() / np.log(k))
        if ratio > self.max_entropy_ratio:
            self._warn(
                ("uniform",),
                f"epoch {epoch + 1}: q(c|x) is nearly uniform (mean entropy "
                f"{ratio:.0%} of log {k}): the components overlap and no "
                'longer separate the points. With gamma_mode="original" '
                "the original release's p(c, z) + 1e-10 flattens gamma "
                'this way (docs/model.md); gamma_mode="exact" does not.',
            )


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops `fit` with a `FloatingPointError` when an epoch's loss is not
    finite, naming the likely causes.

    Keras's own `TerminateOnNaN` only stops, and a model whose weights went
    NaN then predicts NaN without a word. `VaDE.fit` adds this callback
    unless one is given. It reads the epoch's logged loss (no extra work
    per batch).
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        raise FloatingPointError(
            f"Training diverged: the loss of epoch {epoch + 1} is not finite "
            f"({loss}). Likely causes: features far from unit scale for the "
            "gaussian likelihood (standardise them, or build the model with "
            "vade_tf.workflow.build_model, which does), or a learning rate "
            "too high for the latent scale."
        )


class VaDECollapseWarning(UserWarning):
    """Warned by `CollapseMonitor` when clusters collapse."""
