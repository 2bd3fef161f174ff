"""Time to a result: MNIST from raw pixels to a clustering, wall clock.

Two sides on the same machine, one after the other:

- `vade_tf`: the default command a user types, `vade-tf train --dataset
  mnist` (no shipped weights: the autoencoder is pretrained from scratch),
  run as its own process. Its `history.csv` gives each VaDE epoch's ACC and
  NMI (labels for reporting only) and `elapsed`, the seconds since the
  command started; `metrics.json` gives the stages' seconds.
- `torch`: `torch_vade.TorchVaDE` trained with VaDE-pytorch's recipe
  (github.com/GuHongyang/VaDE-pytorch, `main.py` and `model.py`): 50
  pretraining epochs at batch 800 (Adam 1e-3, mean squared error of the
  sigmoid outputs), the log-variance head copied from the mean head, a
  diagonal `GaussianMixture` on the latent means, then VaDE at batch 800
  with one Adam (2e-3) over every parameter, decayed x0.95 every 10 epochs
  (`StepLR`). The mixture's constraints of `torch_vade` apply after each
  step. ACC is computed on all 70,000 images after every epoch, inside the
  clock, as vade_tf's run does; it stops at the first epoch whose ACC
  reaches the highest target, or after `--torch-epochs`.

It reports, for each side, the seconds to ACC 0.90, 0.94 and 0.95 (or
`None`), writes them with every epoch to JSON and draws ACC against wall time
for both in one picture:

    python -m benchmarks.speed.time_to_result --data-dir ../shared/data/mnist \\
        --out /tmp/ttr.json --png /tmp/ttr.png

`--vade-args` passes more arguments to `vade-tf train` (for example
`"--epochs 10"` to stop the default's VaDE stage early); `--sides` runs one
side only, merged into an existing `--out`.
"""

import argparse
import csv
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

from benchmarks import common

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGETS = (0.90, 0.94, 0.95)


def first_time_at(points, target):
    """The first `seconds` of `points` whose `acc` reaches `target`."""
    for point in points:
        if point["acc"] is not None and point["acc"] >= target:
            return point["seconds"]
    return None


def _read_history(path):
    # Not `vade_tf.cli.run_folder.read_history_csv`: it would import
    # TensorFlow into the process that then times torch.
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def run_vade_tf(data_dir, seed, extra):
    """The default `vade-tf train --dataset mnist`, in its own process."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "run")
        command = [
            sys.executable, "-m", "vade_tf_cli", "train", "--dataset",
            "mnist", "--data-dir", str(data_dir), "--seed", str(seed),
            "--out", out, *extra,
        ]  # fmt: skip
        started = time.time()
        subprocess.run(command, check=True, cwd=ROOT)
        total = time.time() - started
        rows = _read_history(os.path.join(out, "history.csv"))
        with open(os.path.join(out, "metrics.json")) as handle:
            metrics = json.load(handle)
    points = [
        {
            "epoch": int(row["epoch"]) + 1,
            "seconds": float(row["elapsed"]),
            "acc": float(row["acc"]),
            "nmi": float(row["nmi"]),
        }
        for row in rows
    ]
    return {
        "command": "vade-tf " + " ".join(command[3:]).replace(out, "<out>"),
        "stages": metrics.get("timings"),
        "total_seconds": total,
        "points": points,
    }


def run_torch(data_dir, seed, max_epochs, stop_at, threads):
    """VaDE-pytorch's recipe on `torch_vade.TorchVaDE`, timed."""
    import torch
    from sklearn import mixture

    import vade_tf_cli
    from benchmarks.speed import torch_vade

    # vade_tf's NumPy-only modules, without importing TensorFlow here.
    metrics = vade_tf_cli.without_tensorflow("metrics")
    datasets = vade_tf_cli.without_tensorflow("data.datasets")

    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    x_np, y = datasets.load_dataset("mnist", data_dir)
    started = time.time()
    x = torch_vade.as_tensor(x_np)
    model = torch_vade.TorchVaDE()
    generator = torch.Generator().manual_seed(seed)
    batch = 800

    def batches():
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch):
            yield x[order[start : start + batch]]

    pretrain = torch.optim.Adam(model.network_parameters(), lr=1e-3)
    for _ in range(50):
        for xb in batches():
            z_mean, _ = model.encode(xb)
            recon = torch.sigmoid(model.decode_logits(z_mean))
            loss = torch.nn.functional.mse_loss(recon, xb)
            pretrain.zero_grad(set_to_none=True)
            loss.backward()
            pretrain.step()
    with torch.no_grad():
        model.z_log_var.load_state_dict(model.z_mean.state_dict())
        z = torch.cat(
            [model.encode(x[i : i + 1000])[0] for i in range(0, len(x), 1000)]
        ).numpy()
    gmm = mixture.GaussianMixture(10, covariance_type="diag", random_state=0)
    gmm.fit(z)
    with torch.no_grad():
        model.theta_p.copy_(torch.from_numpy(gmm.weights_).float())
        model.c_mean.copy_(torch.from_numpy(gmm.means_).float())
        model.c_var.copy_(torch.from_numpy(gmm.covariances_).float())
    pretrain_seconds = time.time() - started

    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, 10, gamma=0.95)
    points = []
    for epoch in range(1, max_epochs + 1):
        for xb in batches():
            eps = torch.randn(len(xb), 10, generator=generator)
            loss, _, _ = model.loss(xb, eps)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.constrain()
        schedule.step()
        labels = model.predict_proba(x).argmax(1)
        acc, _ = metrics.cluster_acc(y, labels)
        nmi = metrics.nmi(y, labels)
        points.append(
            {
                "epoch": epoch,
                "seconds": time.time() - started,
                "acc": float(acc),
                "nmi": float(nmi),
            }
        )
        print(f"torch epoch {epoch}: {points[-1]}", flush=True)
        if acc >= stop_at:
            break
    return {
        "command": "VaDE-pytorch's recipe on torch_vade.TorchVaDE",
        "stages": {"pretrain_and_mixture_seconds": pretrain_seconds},
        "total_seconds": time.time() - started,
        "torch_threads": torch.get_num_threads(),
        "points": points,
    }


def summary(sides):
    return {
        name: {
            f"seconds_to_acc_{target:.2f}": first_time_at(
                side["points"], target
            )
            for target in TARGETS
        }
        | {
            "final_acc": side["points"][-1]["acc"] if side["points"] else None,
            "epochs": len(side["points"]),
        }
        for name, side in sides.items()
    }


def draw(sides, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.2))
    for name, side in sides.items():
        minutes = [p["seconds"] / 60 for p in side["points"]]
        accs = [p["acc"] for p in side["points"]]
        (line,) = axes.plot(minutes, accs, marker=".", label=name)
        if minutes:  # before the first point: pretraining, no clusters yet
            axes.plot(
                [0, minutes[0]],
                [0.5, 0.5],
                color=line.get_color(),
                linewidth=4,
                alpha=0.4,
            )
    for target in TARGETS:
        axes.axhline(target, color="grey", linewidth=0.5, linestyle=":")
    axes.set_xlabel(
        "minutes since the command started (bar: until the first VaDE epoch)"
    )
    axes.set_ylabel("ACC, all 70,000 MNIST images")
    axes.set_ylim(0.49, 1.0)
    axes.set_xlim(left=0)
    axes.legend()
    axes.set_title(common.cpu()[0])
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sides", default="vade_tf,torch")
    parser.add_argument("--vade-args", default="")
    parser.add_argument("--torch-epochs", type=int, default=300)
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--out")
    parser.add_argument("--png")
    args = parser.parse_args()
    sides = {}
    if args.out and os.path.exists(args.out):
        with open(args.out) as handle:
            sides = json.load(handle).get("sides", {})
    names = args.sides.split(",")
    if "vade_tf" in names:
        sides["vade_tf"] = run_vade_tf(
            args.data_dir, args.seed, shlex.split(args.vade_args)
        )
    if "torch" in names:
        sides["torch"] = run_torch(
            args.data_dir,
            args.seed,
            args.torch_epochs,
            max(TARGETS),
            args.torch_threads,
        )
    result = {"sides": sides, "summary": summary(sides)}
    print(json.dumps(result["summary"], indent=1))
    if args.out:
        common.write_result(args.out, result)
    if args.png:
        draw(sides, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
