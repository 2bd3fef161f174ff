"""Train VaDE on MNIST with plain Keras: `model.fit` and standard callbacks.

The workflow (`vade_tf.workflow.train`) runs VaDE's "tuned" recipe
(`vade_tf.training.recipes.TUNED`, the settings of `vade-tf reproduce`) around a
`vade_tf.VaDE`: the shipped autoencoder (or "augment" pretraining when no
weights are shipped), the mixture from k-means on a latent space rescaled
to std 5, the two Adam optimizers and the original schedule, and Keras's own
callbacks beside the project's `ClusteringMetrics` (accuracy, NMI, ARI per
epoch): `ModelCheckpoint`, `CSVLogger`, and `TensorBoard` when it is
installed (`pip install "vade_tf[examples]"`).

By default it runs a short demonstration: the shipped autoencoder weights,
10,000 images, 3 epochs (well under two minutes on two cores). `--full`
trains on all 70,000 images for the recipe's 20 epochs; the paper-length run
(100 VaDE epochs, the figures of docs/results.md) is `vade-tf reproduce`.

The four MNIST IDX files (`train-images-idx3-ubyte.gz`,
`train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
`t10k-labels-idx1-ubyte.gz`) are looked for, as
`vade_tf.data.datasets.load_dataset` does, in `--data-dir` (or its `mnist/`
subfolder), `$VADE_TF_DATA` (or its `mnist/`), `~/.keras/datasets/mnist`
and `/usr/share/datasets/mnist`. Without `--data-dir`, when none of them
holds the files, Keras downloads them (a network connection needed); with
`--data-dir` nothing is downloaded, and missing files stop the script with
one line (exit status 2).

    python examples/train_mnist.py
    python examples/train_mnist.py --data-dir PATH/TO/mnist
    python examples/train_mnist.py --data-dir PATH/TO/mnist --full
"""

import argparse
import importlib
import importlib.util
import os
import re
import sys

# Before TensorFlow is first imported (in main, after the arguments).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="The IDX files are looked for in --data-dir, $VADE_TF_DATA, "
        "~/.keras/datasets/mnist and /usr/share/datasets/mnist; without "
        "--data-dir, Keras downloads them when none holds them.",
    )
    parser.add_argument(
        "--data-dir",
        metavar="PATH",
        help="folder with the four MNIST IDX .gz files (or its mnist/ "
        "subfolder); with it nothing is downloaded",
    )
    parser.add_argument(
        "--full", action="store_true", help="all 70,000 images, 20 epochs"
    )
    parser.add_argument(
        "--epochs", type=int, help="VaDE epochs (default: 3, --full 20)"
    )
    parser.add_argument(
        "--out",
        default="runs/train_mnist",
        help="folder for best.keras, history.csv and the TensorBoard logs "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed (default: 0)"
    )
    return parser.parse_args()


def fail(message):
    """Exits with status 2 and `message` as one line on standard error."""
    message = re.sub(r":\n\s+", ": ", str(message))  # the folders searched,
    message = re.sub(r"\n\s+", ", ", message)  # one per line in the library
    message = re.sub(r"\s*\n", "; ", message)
    print(f"{os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)
    sys.exit(2)


def datasets_without_tensorflow():
    """`vade_tf.data.datasets` with numpy alone, before TensorFlow starts (see
    `vade_tf_cli.without_tensorflow`, installed with the package)."""
    import vade_tf_cli

    return vade_tf_cli.without_tensorflow("data.datasets")


def main():
    args = parse_args()

    # The IDX files are read with numpy alone, before TensorFlow starts:
    # missing files are one line on standard error and exit status 2.
    datasets = datasets_without_tensorflow()
    x = y = None
    if args.data_dir or datasets.find_idx_folder("mnist"):
        try:
            x, y = datasets.load_dataset("mnist", args.data_dir)
        except (OSError, ValueError) as error:  # DataNotFoundError too
            fail(error)
    else:
        print(
            "MNIST not found in $VADE_TF_DATA, ~/.keras/datasets/mnist or "
            "/usr/share/datasets/mnist: downloading it with Keras",
            flush=True,
        )

    import keras

    import vade_tf

    if x is None:
        try:
            x, y = vade_tf.data.datasets.load_dataset("mnist")
        except vade_tf.data.datasets.DataNotFoundError as error:
            fail(error)
    keras.utils.set_random_seed(args.seed)
    if not args.full:
        x, y = x[:10000], y[:10000]
    recipe = vade_tf.training.recipes.get_recipe("tuned")
    recipe = recipe.replace(
        epochs=args.epochs or (recipe.epochs if args.full else 3),
        pretrain_epochs=recipe.pretrain_epochs if args.full else 5,
    )
    try:
        pretrained = vade_tf.shipped.autoencoder_weights("mnist")
    except FileNotFoundError:
        pretrained = None
        print("No shipped autoencoder: pretraining, 'augment' recipe")

    os.makedirs(args.out, exist_ok=True)
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            os.path.join(args.out, "best.keras"),
            monitor="acc",
            mode="max",
            save_best_only=True,
        ),
        keras.callbacks.CSVLogger(os.path.join(args.out, "history.csv")),
    ]
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(
            keras.callbacks.TensorBoard(os.path.join(args.out, "logs"))
        )
    else:
        print('TensorBoard not installed: pip install "vade_tf[examples]"')

    model = vade_tf.VaDE(input_dim=784, n_clusters=10, seed=args.seed)
    result = vade_tf.workflow.train(
        model,
        x,
        recipe,
        y=y,
        pretrained=pretrained,
        image_shape=vade_tf.data.datasets.IMAGE_SHAPES["mnist"],
        random_state=args.seed,
        callbacks=callbacks,
        verbose=2,
    )
    print(
        f"final accuracy {result.history['acc'][-1]:.4f}; "
        f"best model in {args.out}/best.keras"
    )


if __name__ == "__main__":
    main()
