"""Cluster an autoencoder's latent means several ways (AE+k-means, AE+GMM).

Loads pretrained autoencoder weights into a VaDE of MNIST's shape, encodes
the data set and scores k-means (10 initialisations), a diagonal and a
full-covariance GaussianMixture (3 initialisations each) and a diagonal
GaussianMixture started from the k-means centres. It shows how well the
latent space suits VaDE's diagonal mixture prior.

    python -m benchmarks.quality.cluster_latent mnist \\
        pretrain_weights/ae_mnist.weights.h5 \\
        --data-dir ../shared/data/mnist
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sklearn import cluster, mixture  # noqa: E402

import vade_tf  # noqa: E402
from vade_tf import metrics  # noqa: E402
from vade_tf.data import datasets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["mnist", "fashion_mnist"])
    parser.add_argument("weights", help="a .weights.h5 autoencoder file")
    parser.add_argument("--data-dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, y = datasets.load_dataset(args.dataset, args.data_dir)
    model = vade_tf.VaDE(784, 10, seed=args.seed)
    model.load_pretrained_weights(args.weights)
    z = model.transform(x)
    kmeans = cluster.KMeans(10, n_init=10, random_state=args.seed).fit(z)
    results = {"AE+k-means": kmeans.labels_}
    for covariance in ("diag", "full"):
        gmm = mixture.GaussianMixture(
            10, covariance_type=covariance, n_init=3, random_state=args.seed
        ).fit(z)
        results[f"AE+GMM {covariance}"] = gmm.predict(z)
    gmm = mixture.GaussianMixture(
        10,
        covariance_type="diag",
        means_init=kmeans.cluster_centers_,
        random_state=args.seed,
    ).fit(z)
    results["AE+GMM diag from k-means"] = gmm.predict(z)
    for name, labels in results.items():
        scores = metrics.clustering_scores(y, labels)
        print(
            f"{name:26s} "
            + "  ".join(f"{k.upper()} {v:.4f}" for k, v in scores.items())
        )


if __name__ == "__main__":
    main()
