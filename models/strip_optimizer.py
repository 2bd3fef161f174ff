"""Copy a trained VaDE's weights into a fresh, uncompiled model and save it.

The shipped models keep weights and configuration only (no optimizer
state), a third of the size of a training checkpoint:

    python models/strip_optimizer.py runs/.../model.keras \
        models/vade_mnist.keras
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import vade_tf  # noqa: E402
from vade_tf import fileio  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a trained .keras model")
    parser.add_argument("target", help="the .keras file to write")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    trained = keras.models.load_model(args.source)
    fresh = vade_tf.VaDE.from_config(trained.get_config())
    fresh.set_weights(trained.get_weights())
    with fileio.atomic_output(
        args.target, overwrite=args.overwrite, suffix=".keras"
    ) as temporary:
        fresh.save(temporary)
    print(f"wrote {args.target}")


if __name__ == "__main__":
    main()
