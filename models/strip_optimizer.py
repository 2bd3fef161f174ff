"""Copy a trained VaDE's weights into a fresh, uncompiled model and save it.

The shipped models keep weights and configuration only (no optimizer
state), a third of the size of a training checkpoint:

    python models/strip_optimizer.py runs/.../model.keras \
        models/vade_mnist.keras

When the source's folder holds the run's `metrics.json` (a `vade-tf train`
or `reproduce` run folder), the target gets a JSON beside it
(`vade_mnist.json`) with the run's command, recipe and final scores.
"""

import argparse
import json
import os
import sys

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
    metrics_path = os.path.join(os.path.dirname(args.source), "metrics.json")
    if os.path.isfile(metrics_path):
        with open(metrics_path, encoding="utf8") as handle:
            metrics = json.load(handle)
        record = {
            "model": os.path.basename(args.target),
            "made_by": " ".join(sys.argv),
            "run_command": metrics.get("command"),
            "data": metrics.get("data"),
            "n_samples": metrics.get("n_samples"),
            "recipe": metrics.get("recipe"),
            "scores_at_the_start": metrics.get("ae_gmm"),
            "scores": metrics.get("vade"),
            "timings": metrics.get("timings"),
        }
        target = os.path.splitext(args.target)[0] + ".json"
        with fileio.atomic_output(target, overwrite=args.overwrite) as tmp:
            with open(tmp, "w", encoding="utf8") as handle:
                json.dump(record, handle, indent=1)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
