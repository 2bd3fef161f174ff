"""k-means and a Gaussian mixture on raw pixels: the table's first two rows.

Scores `KMeans(n_clusters, n_init=1)` and a diagonal `GaussianMixture`
(initialised by k-means, sklearn's default) on the flattened images, one
run per seed, and writes ACC/NMI/ARI and the wall time of each fit as JSON.

    python -m benchmarks.quality.pixel_baselines mnist \\
        --data-dir ../shared/data/mnist --seeds 0 1 2 \\
        --out benchmarks/results/pixel_baselines_mnist.json
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn import cluster, mixture  # noqa: E402

from benchmarks import common  # noqa: E402
from vade_tf import metrics  # noqa: E402
from vade_tf.data import datasets  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["digits", "mnist", "fashion_mnist"])
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", required=True, help="a JSON file")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()

    x, y = datasets.load_dataset(args.dataset, args.data_dir)
    n_clusters = len(np.unique(y))
    runs = []
    for seed in args.seeds:
        for name in ("kmeans", "gmm"):
            if name == "kmeans":
                model = cluster.KMeans(n_clusters, n_init=1, random_state=seed)
            else:
                model = mixture.GaussianMixture(
                    n_clusters,
                    covariance_type="diag",
                    reg_covar=1e-3,
                    random_state=seed,
                )
            labels, seconds = common.seconds(model.fit_predict, x)
            scores = metrics.clustering_scores(y, labels)
            runs.append(
                {"method": name, "seed": seed, "seconds": seconds} | scores
            )
            print(runs[-1], flush=True)
    payload = {
        "dataset": args.dataset,
        "n_samples": int(len(x)),
        "runs": runs,
    }
    # `command` (read by results_table.py) and `recorded` are added here.
    common.write_result(args.out, payload, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
