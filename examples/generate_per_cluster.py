"""Generate images from every cluster of a trained VaDE model.

Samples z from each mixture component and decodes it, one row per cluster.
With labelled data (`--data-dir` with the MNIST files for an MNIST model, or
the quick digits model below) the rows are ordered by the label each cluster
matches; without, in cluster order. By default it uses the shipped MNIST
model (`models/vade_mnist.keras`); with `--model` any `.keras` file; when
neither exists it trains a quick model on the embedded 8x8 digits.
`--min-posterior 0.999` keeps only samples the model itself assigns to the
cluster with that confidence, as the original paper's figures did.

    python examples/generate_per_cluster.py            # runs/examples/grid.png
    python examples/generate_per_cluster.py --data-dir ../shared/data/mnist
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import vade_tf  # noqa: E402


def quick_digits_model(seed=0):
    """A VaDE trained briefly on scikit-learn's digits, and its data."""
    x, y = vade_tf.datasets.load_dataset("digits")
    keras.utils.set_random_seed(seed)
    model = vade_tf.workflow.build_model(x, n_clusters=10, seed=seed)
    recipe = vade_tf.recipes.get_recipe("original", epochs=20)
    vade_tf.workflow.train(model, x, recipe, random_state=seed)
    return model, x, y


def _shipped_mnist_model():
    """The package's trained MNIST model, or `None` when not shipped."""
    import vade_tf

    try:
        return vade_tf.shipped.model_path("mnist")
    except FileNotFoundError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras file (default: shipped)")
    parser.add_argument(
        "--out", default="runs/examples/grid.png", help="the PNG to write"
    )
    parser.add_argument("--per-cluster", type=int, default=10)
    parser.add_argument("--min-posterior", type=float)
    parser.add_argument(
        "--data-dir",
        help="MNIST IDX files: with them the rows follow the digit labels",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out"
    )
    args = parser.parse_args()
    if os.path.exists(args.out) and not args.overwrite:
        parser.error(f"{args.out} exists: pass --overwrite or another --out")

    path = args.model or _shipped_mnist_model()
    x = y = None
    if path:
        model = keras.models.load_model(path)
        if model.input_dim == 784 and args.data_dir:
            try:
                x, y = vade_tf.datasets.load_dataset(
                    "mnist", args.data_dir, split="test"
                )
            except ValueError as error:
                print(f"rows unordered: {error}")
    else:
        print("No model given or shipped: training a quick digits model")
        model, x, y = quick_digits_model(args.seed)
    vade_tf.plotting.plot_cluster_samples(
        model,
        args.out,
        n_per_cluster=args.per_cluster,
        x=x,
        y=y,
        seed=args.seed,
        min_posterior=args.min_posterior,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
