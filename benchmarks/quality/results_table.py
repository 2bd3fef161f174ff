"""The reproduction table of docs/results.md, from the runs' own files.

Reads, for one data set, the pixel baselines JSON (`pixel_baselines.py`),
the autoencoders' JSON files written by `vade-tf pretrain`
(`<ae-dir>/ae_<dataset>_s<seed>.weights.json`) and the run folders written
by `vade-tf reproduce`
(`<runs>/reproduce-<dataset>-<gamma mode>-seed<seed>/metrics.json`). Prints
the Markdown table (mean +- std over seeds, best run, epochs, wall time of
each stage), writes the numbers as JSON and the per-epoch accuracy of every
run as a PNG (`vade_tf.plotting.plot_history`).

    python -m benchmarks.quality.results_table mnist --runs runs \\
        --ae-dir runs --pixels benchmarks/results/pixel_baselines_mnist.json \\
        --json benchmarks/results/results_mnist.json \\
        --png docs/images/results_mnist_acc.png
"""

import argparse
import glob
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import common  # noqa: E402
from vade_tf import plotting  # noqa: E402

SCORES = ("acc", "nmi", "ari")


def _summary(runs, seconds=None):
    """Mean, std and best of each score over `runs` (a list of dicts)."""
    row = {"n_seeds": len(runs), "seeds": [r["seed"] for r in runs]}
    for key in SCORES:
        values = np.array([r[key] for r in runs])
        row[key] = {"mean": values.mean(), "std": values.std(ddof=0)}
    row["best_acc"] = max(r["acc"] for r in runs)
    row["min_cluster_fraction"] = min(
        r.get("min_cluster_fraction", np.nan) for r in runs
    )
    if seconds:
        row["seconds"] = {k: float(np.mean(v)) for k, v in seconds.items()}
    return row


def _cell(row, key):
    return f"{row[key]['mean']:.4f} ± {row[key]['std']:.4f}"


def collect(dataset, runs_dir, ae_dir, pixels_path):
    table, curves = {}, {}
    with open(pixels_path, encoding="utf8") as handle:
        pixels = json.load(handle)
    for method, label in (
        ("kmeans", "k-means on pixels"),
        ("gmm", "GMM on pixels"),
    ):
        runs = [r for r in pixels["runs"] if r["method"] == method]
        table[label] = _summary(runs, {"fit": [r["seconds"] for r in runs]})
        table[label]["command"] = pixels["command"]
    ae_runs, ae_seconds, ae_commands = [], [], []
    for path in sorted(
        glob.glob(os.path.join(ae_dir, f"ae_{dataset}_s*.weights.json"))
    ):
        with open(path, encoding="utf8") as handle:
            meta = json.load(handle)
        ae_runs.append(dict(meta["ae_gmm"], seed=meta["seed"]))
        ae_seconds.append(meta["pretrain_seconds"])
        ae_commands.append(meta["command"])
        epochs = meta["epochs"]
    if ae_runs:
        label = "AE+GMM (diagonal, EM from k-means)"
        table[label] = _summary(ae_runs, {"pretrain": ae_seconds})
        table[label].update(epochs=epochs, command=ae_commands[0])
    label = "AE + k-means mixture (VaDE's start)"
    table[label] = None  # keeps the row order; filled from the exact runs
    for mode in ("exact", "original"):
        runs, seconds, commands, starts = [], {"gmm": [], "train": []}, [], []
        pattern = os.path.join(runs_dir, f"reproduce-{dataset}-{mode}-seed*")
        for folder in sorted(glob.glob(pattern)):
            path = os.path.join(folder, "metrics.json")
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf8") as handle:
                metrics = json.load(handle)
            seed = metrics["config"]["seed"]
            runs.append(dict(metrics["vade"], seed=seed))
            starts.append(dict(metrics["ae_gmm"], seed=seed))
            seconds["gmm"].append(metrics["timings"]["gmm_seconds"])
            seconds["train"].append(metrics["timings"]["train_seconds"])
            commands.append(metrics["command"])
            epochs = len(metrics["history"]["loss"])
            curves[f"{mode}_seed{seed}_acc"] = metrics["history"]["acc"]
        if mode == "exact" and starts:
            table[label] = dict(_summary(starts), command=commands[0])
        if runs:
            row = f'VaDE (gamma_mode="{mode}")'
            table[row] = _summary(runs, seconds)
            table[row].update(epochs=epochs, command=commands[0])
    if table[label] is None:
        del table[label]
    return table, curves


def markdown(table):
    header = (
        "ACC",
        "NMI",
        "ARI",
        "best ACC",
        "seeds",
        "epochs",
        "wall time (mean per seed)",
    )
    lines = [
        "| method | " + " | ".join(header) + " |",
        "| --- " * (len(header) + 1) + "|",
    ]
    for label, row in table.items():
        seconds = ", ".join(
            f"{k} {v:,.0f} s" for k, v in row.get("seconds", {}).items()
        )
        lines.append(
            f"| {label} | {_cell(row, 'acc')} | {_cell(row, 'nmi')} | "
            f"{_cell(row, 'ari')} | {row['best_acc']:.4f} | "
            f"{row['n_seeds']} | {row.get('epochs', '')} | {seconds} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["mnist", "fashion_mnist"])
    parser.add_argument("--runs", required=True, help="folder of run folders")
    parser.add_argument("--ae-dir", required=True)
    parser.add_argument("--pixels", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--png", required=True)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    table, curves = collect(args.dataset, args.runs, args.ae_dir, args.pixels)
    print(markdown(table))
    common.write_result(args.json, table, overwrite=args.overwrite)
    if curves:
        plotting.plot_history(
            curves, args.png, keys=list(curves), overwrite=args.overwrite
        )


if __name__ == "__main__":
    main()
