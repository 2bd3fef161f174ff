"""Export a VaDE model for TF Serving and call it as the server would.

Writes `<out>/<version>/` as a SavedModel with the signatures
`serving_default` (clusters), `embed`, `decode` and `generate`, reloads it
with TensorFlow alone and runs one request through each signature. See
docs/serving.md for the `tensorflow_model_server` command and REST bodies.

    python examples/export_serving.py --model models/vade_mnist.keras
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


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
        "--out", default="runs/examples/serving", help="the export folder"
    )
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    target = os.path.join(args.out, str(args.version))
    if os.path.exists(target) and not args.overwrite:
        parser.error(
            f"{target} exists: pass --overwrite to replace it, or "
            f"--version {args.version + 1} to export a new version beside it"
        )

    import keras

    import vade_tf

    path = args.model or _shipped_mnist_model()
    if path:
        model = keras.models.load_model(path)
    else:
        print("No model given or shipped: an untrained digits-sized model")
        model = vade_tf.VaDE(input_dim=64, n_clusters=10, seed=0)
    export_path = vade_tf.export_saved_model(
        model, args.out, version=args.version, overwrite=args.overwrite
    )
    print(f"wrote {export_path}")

    # What TF Serving does: load with TensorFlow and call the signatures.
    served = tf.saved_model.load(export_path)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, model.input_dim)).astype("float32")
    answer = served.signatures["serving_default"](x=tf.constant(x))
    print("serving_default:", {k: v.shape for k, v in answer.items()})
    print("clusters:", answer["cluster"].numpy())
    noise = rng.standard_normal((2, model.latent_dim)).astype("float32")
    images = served.signatures["generate"](
        cluster=tf.constant([0, 1], tf.int64), noise=tf.constant(noise)
    )["x_hat"]
    print("generate:", images.shape)
    same = np.allclose(
        answer["cluster_probs"], model.predict_proba(x), atol=1e-5
    )
    print("matches the Keras model:", same)


if __name__ == "__main__":
    main()
