"""Generate images from every cluster of a trained VaDE model.

Samples z from each mixture component and decodes it, one row per cluster.
With labelled data (`--data-dir` with the MNIST files for an MNIST model, or
the quick digits model below) the rows are ordered by the label each cluster
matches; without, in cluster order. By default it uses the shipped MNIST
model (`models/vade_mnist.keras`); with `--model` any `.keras` file; when
neither exists it trains a quick model on the embedded 8x8 digits.
`--min-posterior 0.999` keeps only samples the model itself assigns to the
cluster with that confidence, as the original paper's figures did.

`--data-dir` names a folder with the four MNIST IDX .gz files (or its
`mnist/` subfolder; `$VADE_TF_DATA`, `~/.keras/datasets/mnist` and
`/usr/share/datasets/mnist` are searched after it, as `vade_tf.data.datasets`
does). Nothing is downloaded: when none holds the files, the script stops
at once with one line (exit status 2).

    python examples/generate_per_cluster.py            # runs/examples/grid.png
    python examples/generate_per_cluster.py --data-dir PATH/TO/mnist
"""

import argparse
import os
import re
import sys

# Before TensorFlow is first imported (in main, after the arguments).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def quick_digits_model(seed=0):
    """A VaDE trained briefly on scikit-learn's digits, and its data."""
    import keras

    import vade_tf

    x, y = vade_tf.data.datasets.load_dataset("digits")
    keras.utils.set_random_seed(seed)
    model = vade_tf.workflow.build_model(x, n_clusters=10, seed=seed)
    recipe = vade_tf.training.recipes.get_recipe("original", epochs=20)
    vade_tf.workflow.train(model, x, recipe, random_state=seed)
    return model, x, y


def _shipped_mnist_model():
    """The package's trained MNIST model, or `None` when not shipped."""
    import vade_tf

    try:
        return vade_tf.shipped.model_path("mnist")
    except FileNotFoundError:
        return None


def fail(message):
    """Exits with status 2 and `message` as one line on standard error."""
    message = re.sub(r":\n\s+", ": ", str(message))  # the folders searched,
    message = re.sub(r"\n\s+", ", ", message)  # one per line in the library
    message = re.sub(r"\s*\n", "; ", message)
    prog = os.path.basename(sys.argv[0])
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)


def datasets_without_tensorflow():
    """`vade_tf.data.datasets` with numpy alone, before TensorFlow starts (see
    `vade_tf_cli.without_tensorflow`, installed with the package)."""
    import vade_tf_cli

    return vade_tf_cli.without_tensorflow("data.datasets")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        help="a .keras file (default: the shipped MNIST model, else a quick "
        "model trained on the 8x8 digits)",
    )
    parser.add_argument(
        "--out",
        default="runs/examples/grid.png",
        help="the PNG to write (default: %(default)s)",
    )
    parser.add_argument(
        "--per-cluster",
        type=int,
        default=10,
        help="samples per cluster, one row each (default: %(default)s)",
    )
    parser.add_argument(
        "--min-posterior",
        type=float,
        help="keep only samples the model assigns to their cluster with at "
        "least this probability, e.g. 0.999",
    )
    parser.add_argument(
        "--data-dir",
        metavar="PATH",
        help="folder with the MNIST IDX files: with them the rows follow "
        "the digit labels (never downloaded)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed (default: 0)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out"
    )
    args = parser.parse_args()
    # Refused before TensorFlow is imported: one line, exit status 2.
    if os.path.exists(args.out) and not args.overwrite:
        parser.error(f"{args.out} exists: pass --overwrite or another --out")
    if args.model and not os.path.isfile(args.model):
        parser.error(f"--model {args.model}: no such file")
    labelled = None
    if args.data_dir:  # read with numpy alone; missing files: one line
        try:
            labelled = datasets_without_tensorflow().load_dataset(
                "mnist", args.data_dir, split="test"
            )
        except (OSError, ValueError) as error:  # DataNotFoundError too
            fail(error)

    import keras

    import vade_tf

    path = args.model or _shipped_mnist_model()
    x = y = None
    if path:
        model = keras.models.load_model(path)
        if labelled is not None and model.input_dim == 784:
            x, y = labelled
        elif labelled is not None:
            print(
                f"--data-dir not used: the model has {model.input_dim} "
                "features, MNIST 784; rows in cluster order"
            )
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
