"""The run folder of `vade-tf train` and `reproduce`: its files, the
pretraining record beside the weights, `metrics.json`'s account of K, and
the report of a run stopped with Ctrl-C.
"""

import datetime
import json
import os
import sys
import time

import numpy as np

from vade_tf.cli import inputs
from vade_tf.data import datasets

# The files `train` and `reproduce` write in a run folder.
RUN_FILES = (
    "model.keras",
    "checkpoint.keras",
    "metrics.json",
    "history.csv",
    "clusters.csv",
    "k_selection.png",
    "latent.png",
    "samples.png",
    "profiles.png",
    "history.png",
    "command.json",
    "ae.weights.h5",
    "ae.weights.json",
)


# The fewest seconds between two saves of `checkpoint.keras` during VaDE
# training: small data's epochs take a fraction of a second, and writing the
# model every epoch cost more than training it (the README's wine run: 500
# epochs of 2 steps). The first epoch is always saved; a Ctrl-C loses the
# epochs since the last save.
CHECKPOINT_INTERVAL = 10.0
# The file in a run folder that `--resume` reads the run's command from.
COMMAND_FILE = "command.json"
# The key of `COMMAND_FILE` that marks a command saved since recipes raise
# small data's epochs to their minimum steps (`Recipe.for_data`); a command
# saved before resumes with the epochs it had (`--min-steps 0`).
MIN_STEPS_KEY = "min_steps"


def make_run_folder(args, name):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.command == "reproduce":
        stamp = f"{args.gamma_mode}-seed{args.seed}"
    out = args.out or os.path.join("runs", f"{args.command}-{name}-{stamp}")
    if os.path.isdir(out) and os.listdir(out) and not args.overwrite:
        raise FileExistsError(
            f"{out} exists and is not empty. Pass --overwrite or another --out."
        )
    return out


def remove_run_files(out, keep=None):
    """Removes a run's own files (`RUN_FILES`) from `out`, except `keep`
    (the `--pretrained` file, which may be an earlier run's) and its `.json`
    metadata; other files are left alone."""
    kept = set()
    if isinstance(keep, str):
        # The weights and their metadata beside them.
        kept = {
            os.path.abspath(keep),
            os.path.abspath(os.path.splitext(keep)[0] + ".json"),
        }
    for name in RUN_FILES:
        path = os.path.join(out, name)
        if os.path.isfile(path) and os.path.abspath(path) not in kept:
            os.remove(path)


def read_history_csv(path):
    """`history.csv` as `{column: [value per epoch]}` (the epoch column left
    out, an empty cell `None`), or `None` without a readable file."""
    import csv

    def number(cell):
        return float(cell) if cell not in ("", None) else None

    try:
        with open(path, newline="", encoding="utf8") as handle:
            rows = list(csv.DictReader(handle))
        columns = [key for key in (rows[0] if rows else {}) if key != "epoch"]
        return {key: [number(row.get(key)) for row in rows] for key in columns}
    except (OSError, ValueError) as error:
        print(
            f"warning: could not read {path} ({error}); metrics.json and "
            "history.png show the resumed epochs only"
        )
        return None


def pretraining_record(out):
    """The AE+GMM scores and pretraining recipe of the run in `out`, from its
    `ae.weights.json` (both `None` when it pretrained nothing)."""
    try:
        with open(os.path.join(out, "ae.weights.json"), encoding="utf8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None, None
    return record.get("ae_gmm"), record.get("recipe")


def k_record(out, selection, reason, resumed):
    """`metrics.json`'s account of K: where it came from and, when chosen,
    every K's score. A resumed run keeps what its first run wrote."""
    record = {
        "n_clusters_from": (
            f"chosen by {selection.criterion} ({reason})"
            if selection
            else reason
        ),
        "k_selection": selection.to_dict() if selection else None,
        "k_scores": (
            {str(k): v for k, v in selection.k_scores.items()}
            if selection
            else None
        ),
    }
    if resumed:
        try:
            with open(os.path.join(out, "metrics.json"), encoding="utf8") as f:
                saved = json.load(f)
            record.update({key: saved[key] for key in record if key in saved})
        except (OSError, ValueError):
            pass
    return record


def write_json(path, payload, overwrite):
    from vade_tf import fileio

    with fileio.atomic_output(path, overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf8") as handle:
            json.dump(payload, handle, indent=2, default=float)


def data_sha256(x):
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def rows_are_images(x, image_shape):
    """Samples are drawn as images for a known image shape or a square
    number of at least 64 features; other rows are a table."""
    if image_shape is not None:
        return True
    return (
        x.shape[1] >= 64 and datasets.infer_image_shape(x.shape[1]) is not None
    )


class StageReporter:
    """Reports the workflow's stages: prints the start's scores and, when
    given a path, writes the autoencoder's weights and JSON.

    The weights are written right after pretraining (so an interrupted run
    keeps them) and again once the mixture is fitted (the latent space may
    have been rescaled), with the AE+GMM scores.

    Args:
        x, y: the data and labels (or `None`).
        recipe: the `Recipe` of the run.
        path: `None` or the `.weights.h5` file to write.
        args: the parsed arguments (for the metadata).
        image_shape: the data's image shape or `None`.
        overwrite: bool, replace an existing file at the first write.
        next_step: str printed after the scores, or `None`.
    """

    def __init__(
        self,
        x,
        y,
        recipe,
        path=None,
        args=None,
        image_shape=None,
        overwrite=False,
        next_step=None,
    ):
        self.x, self.y = x, y
        self.path = path
        from vade_tf.training import recipes

        pretrain_recipe = recipes.resolve_pretrain_recipe(
            recipe, image_shape, getattr(args, "likelihood", None)
        )
        self.overwrite = overwrite
        self.next_step = next_step
        self.scores = None
        self.written = False
        self.started = time.perf_counter()
        self.metadata = {
            "command": " ".join(sys.argv),
            # The pretraining recipe, its epochs and batch size (the keys of
            # the shipped weights' JSON), then the whole training recipe.
            "recipe": pretrain_recipe,
            "image_shape": image_shape,
            "epochs": recipe.pretrain_epochs,
            "batch_size": recipe.pretrain_batch_size
            or recipes.PRETRAIN_BATCH_SIZES[pretrain_recipe],
            "noise": recipe.noise,
            "mixture_init": recipe.mixture_init,
            "latent_std": recipe.latent_std,
            "seed": getattr(args, "seed", None),
            "training_recipe": recipe.to_dict(),
            "data_sha256": data_sha256(x),
            "n_samples": int(len(x)),
        }

    def __call__(self, stage, model):
        if stage == "pretrained":
            # Once: with K chosen ("auto") the stage comes twice, after
            # pretraining and when the chosen model takes the autoencoder.
            self.metadata.setdefault(
                "pretrain_seconds", time.perf_counter() - self.started
            )
            self._write(model)
        elif stage == "initialized":
            self.scores = inputs.score_clusters(model, self.x, self.y)
            self.metadata["ae_gmm"] = self.scores
            self._write(model)
            print(f"AE+GMM  {inputs.format_scores(self.scores)}", flush=True)
            if self.next_step:
                print(self.next_step, flush=True)

    def _write(self, model):
        if self.path is None:
            return
        # The first write honours --overwrite; later ones replace this
        # run's own files.
        overwrite = self.overwrite or self.written
        model.save_pretrained_weights(self.path, overwrite=overwrite)
        write_json(
            os.path.splitext(self.path)[0] + ".json", self.metadata, overwrite
        )
        self.written = True


def interrupt_report(args):
    """The one-line report of a run stopped with Ctrl-C."""
    if args.command == "pretrain":
        # Written once pretraining ended, before the mixture's fit (files
        # of an earlier run that --overwrite would replace do not count).
        writer = getattr(args, "pretrain_writer", None)
        if writer is None or not writer.written:
            return "nothing was written"
        return f"kept {args.out} {os.path.splitext(args.out)[0]}.json"
    out = getattr(args, "run_folder", None)
    if out and os.path.isdir(out):
        kept = sorted(
            name for name in os.listdir(out) if not name.startswith(".tmp-")
        )
        if not kept:
            os.rmdir(out)
            return "nothing was written"
        report = f"kept in {out}/: {' '.join(kept)}"
        if COMMAND_FILE in kept and "checkpoint.keras" in kept:
            report += f"; continue with: vade-tf {args.command} --resume {out}"
        elif "ae.weights.h5" in kept:
            report += (
                "; run the command again with --pretrained "
                f"{os.path.join(out, 'ae.weights.h5')} and a new --out"
            )
        return report
    return "nothing was written"
