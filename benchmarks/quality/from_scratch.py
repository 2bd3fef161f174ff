"""From scratch, every seed: the default command, one autoencoder per seed.

Runs `vade-tf train` as a user types it, each seed pretraining its own
autoencoder (no shipped weights), and reports the mean, std (population),
min and max of ACC and NMI over the seeds after given VaDE epochs, with
each run's wall time. Labels are only scored.

- All 70,000 images: `vade-tf train --dataset NAME --data-dir DIR --seed k`.
- `--subset N`: a fixed N-image subset of the 70,000 (the first N of a
  permutation drawn with `--subset-seed`, the same for every seed), written
  once as `subset.npz` in `--runs-dir` and trained as a user's own file:
  `vade-tf train --data subset.npz --image-shape 28,28 --n-clusters 10
  --seed k` (the image shape turns on the augmented pretraining that the
  named data sets get).

`--train-args "..."` adds arguments to every run (a lever to compare with
the default). `--epochs E` trains E VaDE epochs instead of the recipe's 20;
the "tuned" recipe's learning rate does not depend on the number of epochs,
so the first 20 epochs of a longer run are the default run's, and `--report
20 50` reads both from the same runs. A seed whose run folder already holds
`metrics.json` is read, not rerun (a stopped queue continues).

Usage (from the repository root)::

    python -m benchmarks.quality.from_scratch --dataset mnist \\
        --data-dir ../shared/data/mnist --subset 20000 --epochs 50 \\
        --report 20 50 --seeds 0 1 2 3 4 --runs-dir runs/scratch_mnist_20k \\
        --out benchmarks/results/from_scratch_mnist_20k.json
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

from benchmarks import common

IMAGE_SHAPE = "28,28"
N_CLASSES = 10


def write_subset(name, data_dir, size, seed, path):
    """Writes a fixed `size`-image subset of a named data set to `path`.

    Args:
        name: "mnist" or "fashion_mnist".
        data_dir: folder of the data set's IDX files.
        size: int, the number of images kept.
        seed: int, the seed of the permutation that picks them.
        path: the `.npz` written, with `x` (float32 in [0, 1], shape
            `(size, 784)`) and `y` (int labels).

    Returns:
        `path`.
    """
    import numpy as np

    from vade_tf.data import datasets

    x, y = datasets.load_dataset(name, data_dir=data_dir)
    if not 0 < size <= len(x):
        raise ValueError(f"--subset must be in 1..{len(x)}. Received: {size}")
    keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:size])
    temporary = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(temporary, x=x[keep].astype("float32"), y=y[keep])
    os.replace(temporary, path)
    return path


def train_command(args, seed, data_path):
    """The `vade-tf train` arguments of one seed's run."""
    if data_path is None:
        data = ["--dataset", args.dataset, "--data-dir", args.data_dir]
    else:
        data = ["--data", data_path, "--image-shape", IMAGE_SHAPE]
        data += ["--n-clusters", str(N_CLASSES)]
    command = ["train", *data, "--seed", str(seed), "--verbose", "2"]
    if args.epochs:
        command += ["--epochs", str(args.epochs)]
    command += shlex.split(args.train_args)
    return command + ["--out", os.path.join(args.runs_dir, f"seed{seed}")]


def read_run(folder):
    """`(history, metrics)` of a finished run folder."""
    with open(os.path.join(folder, "metrics.json"), encoding="utf8") as f:
        metrics = json.load(f)
    return metrics["history"], metrics


def spread(values):
    """mean, population std, min and max of a list of numbers."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.pstdev(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", choices=("mnist", "fashion_mnist"), required=True
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--subset", type=int, default=0)
    parser.add_argument("--subset-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--report", type=int, nargs="+", default=[20])
    parser.add_argument(
        "--train-args",
        default="",
        help='more arguments of every run, e.g. "--pretrain-min-steps 10000"',
    )
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    os.makedirs(args.runs_dir, exist_ok=True)
    data_path = None
    if args.subset:
        data_path = os.path.join(args.runs_dir, "subset.npz")
        if not os.path.exists(data_path):
            write_subset(
                args.dataset,
                args.data_dir,
                args.subset,
                args.subset_seed,
                data_path,
            )
    runs = []
    for seed in args.seeds:
        command = train_command(args, seed, data_path)
        folder = command[-1]
        wall = None
        if not os.path.exists(os.path.join(folder, "metrics.json")):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "vade_tf.cli", *command], check=True
            )
            wall = time.perf_counter() - start
        history, metrics = read_run(folder)
        run = {
            "seed": seed,
            # The command the run folder was made by (a folder read, not
            # rerun, may come from other arguments).
            "command": "vade-tf " + metrics["command"].split(" ", 1)[1],
            "wall_seconds": wall,
            "timings": metrics["timings"],
            "start": metrics["ae_gmm"],
            "at_epoch": {},
        }
        for epoch in args.report:
            if epoch <= len(history["acc"]):
                run["at_epoch"][str(epoch)] = {
                    key: history[key][epoch - 1]
                    for key in ("acc", "nmi", "elapsed", "min_cluster_fraction")
                }
        runs.append(run)
        print(json.dumps({"seed": seed, **run["at_epoch"]}), flush=True)
    summary = {}
    for epoch in map(str, args.report):
        done = [
            run["at_epoch"][epoch] for run in runs if epoch in run["at_epoch"]
        ]
        if done:
            summary[epoch] = {
                key: spread([point[key] for point in done])
                for key in ("acc", "nmi", "elapsed")
            }
    summary["start_acc"] = spread([run["start"]["acc"] for run in runs])
    payload = {
        "dataset": args.dataset,
        "subset": args.subset or None,
        "subset_seed": args.subset_seed if args.subset else None,
        "runs": runs,
        "summary": summary,
    }
    common.write_result(args.out, payload)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
