"""Per-epoch curves and final scores of `vade-tf` run folders, as JSON.

Reads each run folder's `metrics.json` (written by `vade-tf train` and
`vade-tf reproduce`) and writes one JSON with, per run: the command, the
start's scores (AE+GMM), the final scores, the timings and the per-epoch
ACC/NMI/ARI/loss/smallest-cluster curves; then prints a line per run.

    python benchmarks/summarize_runs.py runs/reproduce-mnist-original-seed0 \\
        runs/strict-original-mnist-seed0 --out benchmarks/some_runs.json
"""

import argparse
import json
import os

CURVES = ("acc", "nmi", "ari", "loss", "min_cluster_fraction")


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
        "recipe": metrics.get("recipe"),
        "gamma_mode": metrics["config"]["gamma_mode"],
        "seed": metrics["config"]["seed"],
        "start": metrics["ae_gmm"],
        "final": metrics["vade"],
        "timings": metrics["timings"],
        "curves": {k: history[k] for k in CURVES if k in history},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="run folders")
    parser.add_argument("--out", required=True, help="the JSON to write")
    args = parser.parse_args()
    runs = [summarize(folder) for folder in args.folders]
    with open(args.out, "w", encoding="utf8") as handle:
        json.dump({"runs": runs}, handle, indent=1)
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
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
