"""Small data: the default recipe with and without minimum steps.

`VaDEClustering(n_clusters=K, random_state=seed).fit(x)` (the default,
"tuned": at least 1,000 VaDE steps and its pretraining recipe's minimum,
`Recipe.for_data`) against the same with other minimums (`ARMS`: none at
all, the VaDE minimum only, 500 or 2,000 pretraining steps), all from
scratch, on data sets whose epochs are a few steps: the 8x8 digits, wine,
breast cancer (unscaled tables, the model standardises them) and simulated
counts (`make_count_clusters(n_samples=600 or 3000, n_features=500,
random_state=0)`, the zinb likelihood). Labels are only scored. Prints one
JSON line per run; `--out` writes them all; `--datasets` and `--arms` pick.

Usage (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.quality.min_steps \\
        --seeds 0 1 2 --out /tmp/min_steps.json
"""

import argparse
import json
import time

import numpy as np

from benchmarks import common

DATASETS = ("digits", "wine", "breast_cancer", "counts_600", "counts_3000")
ARMS = {
    "without": {"min_steps": 0, "pretrain_min_steps": 0},
    # The default before pretraining's minimum by recipe (a VaDE minimum).
    "vade_only": {"pretrain_min_steps": 0},
    "default": {},
    "pretrain_500": {"pretrain_min_steps": 500},
    "pretraining_too": {"pretrain_min_steps": 2000},
}


def load(name):
    """`(x, y, n_clusters, estimator keyword arguments)` of a data set."""
    from sklearn import datasets

    from vade_tf.data.synthetic import make_count_clusters

    if name.startswith("counts_"):
        x, y = make_count_clusters(
            n_samples=int(name.split("_")[1]), n_features=500, random_state=0
        )[:2]
        return x, y, 5, {"likelihood": "zinb"}
    if name == "digits":
        bunch = datasets.load_digits()
        return bunch.data / 16.0, bunch.target, 10, {}
    bunch = getattr(datasets, f"load_{name}")()
    return bunch.data, bunch.target, len(set(bunch.target)), {}


def run(name, arm, seed):
    """One fit; its scores, epochs and seconds."""
    from vade_tf import metrics
    from vade_tf.estimator import VaDEClustering

    x, y, n_clusters, options = load(name)
    estimator = VaDEClustering(
        n_clusters=n_clusters, random_state=seed, **options, **ARMS[arm]
    )
    started = time.perf_counter()
    estimator.fit(np.asarray(x, dtype="float32"))
    scores = metrics.clustering_scores(y, estimator.labels_)
    recipe = estimator.recipe_
    return {
        "data": name, "arm": arm, "seed": seed,
        "pretrain_epochs": recipe.pretrain_epochs, "epochs": recipe.epochs,
        "acc": float(scores["acc"]), "nmi": float(scores["nmi"]),
        "seconds": time.perf_counter() - started,
    }  # fmt: skip


def main(argv=None):
    """Runs every data set, arm and seed; prints and writes the runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    runs = []
    for seed in args.seeds:
        for name in args.datasets:
            for arm in args.arms or ARMS:
                runs.append(run(name, arm, seed))
                print(json.dumps(runs[-1]), flush=True)
    if args.out:
        common.write_result(args.out, {"runs": runs})


if __name__ == "__main__":
    main()
