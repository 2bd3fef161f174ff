"""Ablation: how the encoder's log-variance head starts, on the 8x8 digits.

The head is not pretrained. Three starts are compared with the settings of
`vade-tf train --dataset digits` (50 pretraining epochs with the "adam"
recipe, GMM with n_init=10, 50 VaDE epochs at batch 100 with StepDecay):

- `random`: Glorot-uniform kernel, zero bias (the original release);
- `unit`: zero kernel and bias, q(z|x) variance 1 for every input;
- `ratio`: zero kernel, bias log(0.1 * mean c_var), the library default.

    python benchmarks/ablate_log_var_init.py --seeds 0 1 2 [--out runs.json]

Prints one line per run (AE+GMM accuracy, VaDE accuracy every 10 epochs,
smallest cluster share) and, with `--out`, writes the results as JSON.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import vade_tf  # noqa: E402

STARTS = ("random", "unit", "ratio")


def run(start, seed, x, y, epochs=50):
    """One pretrain + GMM + VaDE run; returns its scores."""
    keras.utils.set_random_seed(seed)
    model = vade_tf.VaDE(64, 10, seed=seed)
    model.pretrain(x, epochs=50, verbose=0)
    ratio = 0.1 if start == "ratio" else None
    model.initialize_gmm(
        x, random_state=seed, n_init=10, posterior_var_ratio=ratio
    )
    head = model.encoder.get_layer("z_log_var")
    if start == "random":
        kernel = keras.initializers.GlorotUniform(seed=seed)(head.kernel.shape)
        head.kernel.assign(kernel)
    ae_acc = vade_tf.metrics.cluster_acc(y, model.predict_clusters(x))[0]
    model.compile()
    history = model.fit(
        x,
        epochs=epochs,
        batch_size=100,
        verbose=0,
        callbacks=[
            vade_tf.training.callbacks.ClusteringMetrics(x, y, every=10),
            vade_tf.training.recipes.ORIGINAL.schedule(),
        ],
    )
    return {
        "start": start,
        "seed": seed,
        "ae_gmm_acc": ae_acc,
        "acc_every_10": history.history["acc"],
        "min_cluster_fraction": history.history["min_cluster_fraction"][-1],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--starts", nargs="+", default=list(STARTS), choices=STARTS
    )
    parser.add_argument(
        "--out",
        help="a JSON file for the per-run results (not written by default; "
        "benchmarks/ablate_log_var_init.json holds the committed run)",
    )
    args = parser.parse_args()
    x, y = vade_tf.data.datasets.load_dataset("digits")
    results = []
    for start in args.starts:
        for seed in args.seeds:
            result = run(start, seed, x, y)
            results.append(result)
            print(
                f"{start:7s} seed {seed}: AE+GMM {result['ae_gmm_acc']:.3f} "
                f"VaDE {' '.join(f'{a:.3f}' for a in result['acc_every_10'])}"
                f" smallest cluster {result['min_cluster_fraction']:.3f}",
                flush=True,
            )
    for start in args.starts:
        final = [r["acc_every_10"][-1] for r in results if r["start"] == start]
        print(f"{start:7s} mean {np.mean(final):.3f} +- {np.std(final):.3f}")
    if args.out:
        with vade_tf.fileio.atomic_output(args.out, overwrite=True) as temp:
            with open(temp, "w", encoding="utf8") as handle:
                json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
