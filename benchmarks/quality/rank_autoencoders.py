"""Which label-free score ranks separately pretrained runs by accuracy?

Reads finished `vade-tf train` run folders made on the same data (for
example the seeds of `benchmarks.quality.from_scratch`, one autoencoder
each) and scores every run without labels:

- `elbo`: minus the final training loss (`history.csv`), and its two parts,
  `reconstruction` and `kl`;
- `silhouette`: of the k-means partition of the pretrained autoencoder's
  latent means (scaled to a mean std of 5, as the mixture's start sees
  them; 5,000 rows);
- `agreement`: the run's mean NMI with the other runs' clusterings (a
  run the others agree with; `clusters.csv`), and `start_agreement`, the same
  for the k-means partitions of the pretrained autoencoders' latent means
  (`ae.weights.h5`), before VaDE.

Labels only score: each score's Spearman correlation with the final ACC,
the ACC of the run each score would pick among all the runs, and over
every group of three runs the mean ACC of its pick and how often it picks
the group's least accurate run (what `vade-tf choose` does with the
`agreement` score).

Usage (from the repository root)::

    python -m benchmarks.quality.rank_autoencoders \\
        --runs runs/fmnist_20k/seed0 runs/fmnist_20k/seed1 ... \\
        --data runs/fmnist_20k/subset.npz --out /tmp/rank_fmnist.json
"""

import argparse
import itertools
import json
import os

import numpy as np

from benchmarks import common

LATENT_STD = 5.0
SILHOUETTE_ROWS = 5000
GROUP = 3


def final_losses(folder):
    """`{"elbo", "reconstruction", "kl"}` of the last epoch in history.csv."""
    import pandas as pd

    last = pd.read_csv(os.path.join(folder, "history.csv")).iloc[-1]
    return {
        "elbo": -float(last["loss"]),
        "reconstruction": -float(last["reconstruction"]),
        "kl": -float(last["kl"]),
    }


def latent_means(model, weights, x):
    """The latent means of `x` under the autoencoder `weights`, scaled."""
    model.load_pretrained_weights(weights)
    z = model.transform(x).astype("float64")
    return z * LATENT_STD / float(np.mean(z.std(axis=0)))


def picks(scores, acc):
    """The ACC of the run with the highest score, among all and per group.

    Returns:
        dict: the Spearman correlation of the score with ACC, the ACC of
        the run it picks among all, and over every group of three runs the
        mean ACC of its pick, the lowest, and how often the pick is the
        group's least accurate run or below the group's mean.
    """
    from scipy.stats import spearmanr

    groups = [
        list(trio) for trio in itertools.combinations(range(len(acc)), GROUP)
    ]
    chosen = [group[int(np.argmax(scores[group]))] for group in groups]
    picked = acc[chosen]
    return {
        "spearman": float(spearmanr(scores, acc)[0]),
        "picked_acc": float(acc[int(np.argmax(scores))]),
        "picked_acc_per_group_of_3": float(np.mean(picked)),
        "worst_pick_per_group_of_3": float(np.min(picked)),
        "groups": len(groups),
        "picked_the_groups_worst": int(
            sum(acc[c] == acc[g].min() for c, g in zip(chosen, groups))
        ),
        "picked_below_the_groups_mean": int(
            sum(acc[c] < acc[g].mean() for c, g in zip(chosen, groups))
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--data", required=True, help=".npz with x and y")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from vade_tf import assignments, building, metrics

    with np.load(args.data) as data:
        x, y = data["x"], data["y"]
    model = building.build_model(x, 10)
    rows = np.random.default_rng(0).choice(
        len(x), min(SILHOUETTE_ROWS, len(x)), replace=False
    )
    runs, ends, starts = [], [], []
    for seed, folder in enumerate(args.runs):
        labels = assignments.read_clusters(folder)
        with open(os.path.join(folder, "metrics.json"), encoding="utf8") as f:
            recorded = json.load(f)
        z = latent_means(model, os.path.join(folder, "ae.weights.h5"), x)
        start = KMeans(recorded["n_clusters"], n_init=10, random_state=seed)
        start = start.fit_predict(z)
        runs.append(
            {
                "folder": folder,
                "acc": metrics.cluster_acc(y, labels)[0],
                "start_acc": recorded["ae_gmm"]["acc"],
                **final_losses(folder),
                "silhouette": float(silhouette_score(z[rows], start[rows])),
            }
        )
        ends.append(labels)
        starts.append(start)
    for key, partitions in (("agreement", ends), ("start_agreement", starts)):
        for run, value in zip(runs, metrics.agreement(partitions)):
            run[key] = float(value)
    acc = np.array([run["acc"] for run in runs])
    criteria = (
        "elbo",
        "reconstruction",
        "kl",
        "silhouette",
        "agreement",
        "start_agreement",
    )
    ranking = {
        key: picks(np.array([run[key] for run in runs]), acc)
        for key in criteria
    }
    ranking["random"] = {
        "picked_acc_per_group_of_3": float(np.mean(acc)),
        "best_per_group_of_3": float(
            np.mean(
                [
                    max(acc[list(trio)])
                    for trio in itertools.combinations(range(len(acc)), GROUP)
                ]
            )
        ),
    }
    common.write_result(
        args.out, {"data": args.data, "runs": runs, "ranking": ranking}
    )
    for key, value in ranking.items():
        print(f"{key:>16} {json.dumps(value)}")


if __name__ == "__main__":
    main()
