"""Export a VaDE model for TF Serving and call it as the server would.

Writes `<out>/<version>/` as a SavedModel with the signatures
`serving_default` (clusters), `embed`, `decode` and `generate`, reloads it
with TensorFlow alone and runs one request through each signature. See
docs/serving.md for the `tensorflow_model_server` command and REST bodies.

The request holds real rows of the model's data: the first `--rows` test
images of MNIST (or Fashion-MNIST, as the model's JSON says) when their IDX
files are found (`--data-dir`, `$VADE_TF_DATA`, `~/.keras/datasets/<name>`,
`/usr/share/datasets/...`; never downloaded), the first rows of the 8x8
digits for a digits-sized model. Without the files it says so and sends
the model's own cluster centres, decoded by its `generate` signature.

    python examples/export_serving.py
    python examples/export_serving.py --model models/vade_mnist.keras \\
        --data-dir PATH/TO/mnist
"""

import argparse
import json
import os
import re
import sys

# Before TensorFlow is first imported (in main, after the arguments).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


def data_name(model, path):
    """The named data set `model` was trained on, or `None`: the `"data"`
    of the JSON beside a shipped model, else guessed from the features."""
    sidecar = os.path.splitext(path)[0] + ".json" if path else None
    if sidecar and os.path.isfile(sidecar):
        with open(sidecar) as handle:
            name = json.load(handle).get("data")
        if name:
            return name
    return {784: "mnist", 64: "digits"}.get(model.input_dim)


def request_rows(model, path, data_dir, n_rows):
    """`(x, labels, description)`: the first test rows of the model's data
    set, or `(None, None, why)` when they are not here."""
    import vade_tf

    name = data_name(model, path)
    if name == "digits":
        x, y = vade_tf.data.datasets.load_dataset("digits")
        return x[:n_rows], y[:n_rows], f"the first {n_rows} 8x8 digits"
    if name in vade_tf.data.datasets.IMAGE_SHAPES:
        if vade_tf.data.datasets.find_idx_folder(name, data_dir) or data_dir:
            try:
                x, y = vade_tf.data.datasets.load_dataset(
                    name, data_dir, "test"
                )
            except (OSError, ValueError) as error:  # DataNotFoundError too
                fail(error)
            described = f"the first {n_rows} {name} test images"
            return x[:n_rows], y[:n_rows], described
        searched = ", ".join(
            dict.fromkeys(vade_tf.data.datasets.candidate_folders(name))
        )
        return None, None, f"{name} not found in {searched} (pass --data-dir)"
    return None, None, "the model's data set is not known"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        help="a .keras file (default: the shipped MNIST model, else an "
        "untrained digits-sized model)",
    )
    parser.add_argument(
        "--out",
        default="runs/examples/serving",
        help="the export folder, TF Serving's --model_base_path "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--version",
        type=int,
        default=1,
        help="the version subfolder to write under --out (default: 1)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out/--version folder",
    )
    parser.add_argument(
        "--data-dir",
        metavar="PATH",
        help="folder with the IDX files of the model's data set (MNIST for "
        "the shipped model), whose first test images are sent",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=5,
        help="rows in the request (default: %(default)s)",
    )
    args = parser.parse_args()
    # Refused before TensorFlow is imported: one line, exit status 2.
    target = os.path.join(args.out, str(args.version))
    if os.path.exists(target) and not args.overwrite:
        parser.error(
            f"{target} exists: pass --overwrite to replace it, or "
            f"--version {args.version + 1} to export a new version beside it"
        )
    if args.model and not os.path.isfile(args.model):
        parser.error(f"--model {args.model}: no such file")
    if args.rows < 1:
        parser.error(f"--rows must be >= 1. Received: {args.rows}")

    import keras
    import numpy as np
    import tensorflow as tf

    import vade_tf

    path = args.model or _shipped_mnist_model()
    if path:
        model = keras.models.load_model(path)
    else:
        print("No model given or shipped: an untrained digits-sized model")
        model = vade_tf.VaDE(input_dim=64, n_clusters=10, seed=0)
    x, labels, source = request_rows(model, path, args.data_dir, args.rows)
    export_path = vade_tf.export_saved_model(
        model, args.out, version=args.version, overwrite=args.overwrite
    )
    print(f"wrote {export_path}")

    # What TF Serving does: load with TensorFlow and call the signatures.
    served = tf.saved_model.load(export_path)
    if x is None:
        # No rows of the data here: the cluster centres, decoded (noise 0).
        first = np.arange(args.rows) % model.n_clusters
        x = served.signatures["generate"](
            cluster=tf.constant(first, tf.int64),
            noise=tf.zeros((args.rows, model.latent_dim)),
        )["x_hat"].numpy()
        rows = [f"decoded centre of cluster {c}" for c in first]
        source += (
            f": sending the model's own decoded centres of clusters "
            f"{first.tolist()} instead"
        )
    else:
        rows = [f"label {label}" for label in labels]
    print(f"request: {source}")
    answer = served.signatures["serving_default"](x=tf.constant(x))
    print("serving_default:", {k: v.shape for k, v in answer.items()})
    served_clusters = answer["cluster"].numpy()
    probs = answer["cluster_probs"].numpy()
    for index, (row, cluster) in enumerate(zip(rows, served_clusters)):
        print(
            f"  row {index} ({row}): cluster {cluster} "
            f"(probability {probs[index, cluster]:.3f})"
        )
    keras_clusters = np.asarray(model.predict_clusters(x))
    print(
        f"served clusters {served_clusters.tolist()}, the Keras model's "
        f"{keras_clusters.tolist()} (cluster numbers are the model's own, "
        "not labels)"
    )
    same = np.array_equal(served_clusters, keras_clusters) and np.allclose(
        probs, model.predict_proba(x), atol=1e-5
    )
    print("matches the Keras model:", same)

    rng = np.random.default_rng(0)
    noise = rng.standard_normal((2, model.latent_dim)).astype("float32")
    images = served.signatures["generate"](
        cluster=tf.constant([0, 1], tf.int64), noise=tf.constant(noise)
    )["x_hat"]
    print("generate:", images.shape)

if __name__ == "__main__":
    main()
