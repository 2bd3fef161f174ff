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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(REPO, "models", "vade_mnist.keras")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras file (default: shipped)")
    parser.add_argument("--out", default="serving/vade")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()

    import keras

    import vade_tf

    path = args.model or (SHIPPED if os.path.exists(SHIPPED) else None)
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
