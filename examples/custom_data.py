"""Cluster your own numeric table with VaDE and the Gaussian likelihood.

Real-valued features (not in [0, 1]) are standardised and modelled with the
Gaussian likelihood (a linear decoder output and a squared-error
reconstruction). The example uses scikit-learn's embedded wine table
(178 wines, 13 chemical measurements, 3 cultivars); `--data my.csv` runs the
same on your own file (a header column named `label`, `y` or `class`, if
present, is used only to score the result).

    python examples/custom_data.py
    python examples/custom_data.py --data my_table.csv --n-clusters 4
"""

import argparse
import os

# Before TensorFlow is first imported (in main, after the arguments).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        help=".csv/.npz/.npy/.h5 file (x, y) (default: scikit-learn's wine)",
    )
    parser.add_argument(
        "--n-clusters",
        type=int,
        default=3,
        help="number of clusters (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=100,
        help="VaDE epochs (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed (default: 0)"
    )
    args = parser.parse_args()
    # Refused before TensorFlow is imported: one line, exit status 2.
    if args.data and not os.path.isfile(args.data):
        parser.error(f"--data {args.data}: no such file")
    if args.n_clusters < 1:
        parser.error(f"--n-clusters must be >= 1. Received: {args.n_clusters}")

    import keras
    import numpy as np
    from sklearn import datasets, preprocessing

    import vade_tf

    if args.data:
        x, y = vade_tf.data.datasets.load_array(args.data)
    else:
        x, y = datasets.load_wine(return_X_y=True)
    x = preprocessing.StandardScaler().fit_transform(x).astype("float32")

    keras.utils.set_random_seed(args.seed)
    model = vade_tf.workflow.build_model(
        x,
        n_clusters=args.n_clusters,
        likelihood="gaussian",
        latent_dim=2,
        hidden_dims=(64, 32),
        seed=args.seed,
    )
    # The original recipe with epochs and batch sizes for a small table.
    recipe = vade_tf.training.recipes.get_recipe(
        "original",
        pretrain_epochs=200,
        pretrain_batch_size=32,
        epochs=args.epochs,
        batch_size=32,
    )

    def report(stage, model):
        if stage == "initialized" and y is not None:
            clusters = model.predict_clusters(x)
            acc, _ = vade_tf.metrics.cluster_acc(y, clusters)
            print(f"AE+GMM accuracy {acc:.3f}")

    vade_tf.workflow.train(
        model, x, recipe, random_state=args.seed, on_stage=report
    )
    clusters = model.predict_clusters(x)
    print("cluster sizes:", np.bincount(clusters, minlength=args.n_clusters))
    if y is not None:
        scores = vade_tf.metrics.clustering_scores(y, clusters)
        print("VaDE", {k: round(v, 3) for k, v in scores.items()})


if __name__ == "__main__":
    main()
