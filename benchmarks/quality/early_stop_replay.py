"""Where a label-free stop on the training loss would have ended runs.

Replays `keras.callbacks.EarlyStopping(monitor="loss", patience=P,
min_delta=D)` on the per-epoch logs of finished `vade-tf train` run
folders (the history in their `metrics.json`, read by `summarize_runs`:
the loss is the negative ELBO per sample, with no labels). Reports, per
run and setting, the epoch it would have stopped at and the ACC there,
against the ACC after 20 epochs and at the run's end (labels only score).
Nothing is trained: it answers whether stopping when the ELBO stops
improving would shorten the default's VaDE epochs, and at what cost in
accuracy.

    python -m benchmarks.quality.early_stop_replay \\
        runs/mnist_20k_new_e50/seed* --patience 3 5 --min-delta 0 0.1 \\
        --out early_stop.json
"""

import argparse

from benchmarks import common
from benchmarks.quality import summarize_runs


class _Stoppable:
    """What `EarlyStopping` needs of a model when it restores no weights."""

    stop_training = False


def stop_epoch(losses, patience, min_delta):
    """The 1-based epoch after which `EarlyStopping` stops, or the last.

    Args:
        losses: list of floats, the loss of each epoch.
        patience: int >= 1.
        min_delta: float >= 0, in the loss's units (nats per sample).

    Returns:
        int in `1..len(losses)`.
    """
    import keras

    callback = keras.callbacks.EarlyStopping(
        monitor="loss", patience=patience, min_delta=min_delta
    )
    model = _Stoppable()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": loss})
        if model.stop_training:
            return epoch + 1
    return len(losses)


def read_history(folder):
    """The per-epoch `loss` and `acc` of a run folder, as `summarize_runs`
    reads them from its `metrics.json`."""
    curves = summarize_runs.summarize(folder)["curves"]
    if "acc" not in curves:
        raise ValueError(
            f"{folder} has no per-epoch ACC: the run was trained without "
            "labels, so the stop cannot be scored."
        )
    return curves["loss"], curves["acc"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders")
    parser.add_argument("--patience", type=int, nargs="+", default=[3, 5])
    parser.add_argument(
        "--min-delta", type=float, nargs="+", default=[0.0, 0.1]
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    rows = []
    for folder in args.runs:
        losses, accs = read_history(folder)
        row = {
            "run": folder,
            "epochs": len(losses),
            "acc_20": accs[min(20, len(accs)) - 1],
            "acc_end": accs[-1],
            "loss_change_last_5": losses[-1] - losses[-6]
            if len(losses) > 5
            else None,
            "stops": [],
        }
        for patience in args.patience:
            for min_delta in args.min_delta:
                epoch = stop_epoch(losses, patience, min_delta)
                row["stops"].append(
                    {
                        "patience": patience,
                        "min_delta": min_delta,
                        "epoch": epoch,
                        "acc": accs[epoch - 1],
                    }
                )
        rows.append(row)
        stops = ", ".join(
            f"p{s['patience']}/d{s['min_delta']:g}: epoch {s['epoch']} "
            f"ACC {s['acc']:.4f}"
            for s in row["stops"]
        )
        print(
            f"{folder}: {row['epochs']} epochs, ACC {row['acc_20']:.4f} at "
            f"20, {row['acc_end']:.4f} at the end; stops {stops}"
        )
    if args.out:
        common.write_result(args.out, {"runs": rows})
    return rows


if __name__ == "__main__":
    main()
