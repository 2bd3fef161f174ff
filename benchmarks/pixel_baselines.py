"""k-means and a Gaussian mixture on raw pixels: the table's first two rows.

Scores `KMeans(n_clusters, n_init=1)` and a diagonal `GaussianMixture`
(initialised by k-means, sklearn's default) on the flattened images, one
run per seed, and writes ACC/NMI/ARI and the wall time of each fit as JSON.

    python benchmarks/pixel_baselines.py mnist \\
        --data-dir ../shared/data/mnist --seeds 0 1 2 \\
        --out benchmarks/pixel_baselines_mnist.json
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from sklearn import cluster, mixture  # noqa: E402

from vade_tf import fileio, metrics  # noqa: E402
from vade_tf.data import datasets


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
            start = time.time()
            if name == "kmeans":
                labels = cluster.KMeans(
                    n_clusters, n_init=1, random_state=seed
                ).fit_predict(x)
            else:
                labels = mixture.GaussianMixture(
                    n_clusters,
                    covariance_type="diag",
                    reg_covar=1e-3,
                    random_state=seed,
                ).fit_predict(x)
            scores = metrics.clustering_scores(y, labels)
            runs.append(
                {"method": name, "seed": seed, "seconds": time.time() - start}
                | scores
            )
            print(runs[-1], flush=True)
    payload = {
        "command": "python benchmarks/pixel_baselines.py "
        + " ".join(os.sys.argv[1:]),
        "dataset": args.dataset,
        "n_samples": int(len(x)),
        "runs": runs,
    }
    with fileio.atomic_output(args.out, overwrite=args.overwrite) as tmp:
        with open(tmp, "w", encoding="utf8") as handle:
            json.dump(payload, handle, indent=2)


if __name__ == "__main__":
    main()
