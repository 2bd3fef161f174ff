"""Per-epoch curves and final scores of `vade-tf` run folders, as JSON.

Reads each run folder's `metrics.json` (written by `vade-tf train` and
`vade-tf reproduce`) and writes one JSON with, per run: the command, the
start's scores (AE+GMM), the final scores, the timings and the per-epoch
ACC/NMI/ARI/loss/smallest-cluster curves; then prints a line per run.

    python -m benchmarks.quality.summarize_runs \\
        runs/reproduce-mnist-original-seed0 runs/strict-original-mnist-seed0 \\
        --out benchmarks/results/some_runs.json

`--plot PATH` also draws every run's ACC and smallest cluster per epoch, one
line per run, coloured by the data set (`--label` names each run instead of
its folder). `--elbo` loads each run's `model.keras` and its data (the run's
own `--data-dir`) and adds the final model's mean ELBO per sample
(`VaDE.score_samples`), a label-free score to choose among runs.
"""

import argparse
import json
import os

from benchmarks import common

CURVES = ("acc", "nmi", "ari", "loss", "kl", "reconstruction")
CURVES = (*CURVES, "min_cluster_fraction")


def summarize(folder):
    """The summary of one run folder.

    Args:
        folder: str, a run folder holding `metrics.json`.

    Returns:
        dict with `run`, `command`, `start`, `final`, `timings`, `curves`.
    """
    with open(os.path.join(folder, "metrics.json"), encoding="utf8") as f:
        metrics = json.load(f)
    history = metrics["history"]
    return {
        "run": os.path.basename(os.path.normpath(folder)),
        "command": metrics["command"],
        "data": metrics.get("data"),
        "recipe": metrics.get("recipe"),
        "gamma_mode": metrics["config"]["gamma_mode"],
        "seed": metrics["config"]["seed"],
        "start": metrics["ae_gmm"],
        "final": metrics["vade"],
        "timings": metrics["timings"],
        "curves": {k: history[k] for k in CURVES if k in history},
    }


def final_elbo(folder, run):
    """The mean ELBO per sample of a run's final model on its data."""
    import shlex

    import keras

    import vade_tf

    words = shlex.split(run["command"])
    data_dir = (
        words[words.index("--data-dir") + 1] if "--data-dir" in words else None
    )
    x, _ = vade_tf.data.datasets.load_dataset(run["data"], data_dir)
    model = keras.models.load_model(os.path.join(folder, "model.keras"))
    return float(model.score_samples(x).mean())


def plot(runs, labels, path):
    """ACC and the smallest cluster per epoch of every run, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 7), sharex=True, height_ratios=(2, 1)
    )
    colours = {}
    for run, label in zip(runs, labels):
        colour = colours.setdefault(run["data"], f"C{len(colours)}")
        epochs = range(1, len(run["curves"]["acc"]) + 1)
        top.plot(epochs, run["curves"]["acc"], color=colour, label=label)
        bottom.plot(
            epochs,
            [100 * v for v in run["curves"]["min_cluster_fraction"]],
            color=colour,
        )
    top.set_ylabel("ACC")
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    bottom.set_ylabel("smallest cluster (%)")
    bottom.set_xlabel("VaDE epoch")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="run folders")
    parser.add_argument("--out", required=True, help="the JSON to write")
    parser.add_argument("--plot", help="a PNG of the curves")
    parser.add_argument("--label", nargs="+", help="one name per run")
    parser.add_argument(
        "--elbo", action="store_true", help="add each final model's ELBO"
    )
    args = parser.parse_args()
    runs = [summarize(folder) for folder in args.folders]
    if args.elbo:
        for folder, run in zip(args.folders, runs):
            run["final_elbo"] = final_elbo(folder, run)
    if args.plot:
        labels = args.label or [run["run"] for run in runs]
        if len(labels) != len(runs):
            parser.error("--label needs one name per run folder")
        plot(runs, labels, args.plot)
    common.write_result(args.out, {"runs": runs})
    for run in runs:
        acc = run["curves"].get("acc", [])
        start, final = run["start"], run["final"]
        nan = float("nan")
        print(
            f"{run['run']}: start ACC {start.get('acc', nan):.4f}, final "
            f"ACC {final.get('acc', nan):.4f}, NMI {final.get('nmi', nan):.4f}"
            ", smallest "
            f"cluster {final['min_cluster_fraction']:.2%}, "
            f"{len(acc)} epochs"
            + (f", ELBO {run['final_elbo']:.3f}" if "final_elbo" in run else "")
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
