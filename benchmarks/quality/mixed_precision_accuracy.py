"""Clustering accuracy of the default workflow under a dtype policy.

Usage: python -m benchmarks.quality.mixed_precision_accuracy POLICY
           [--seeds 0,1,2] [--jit-compile auto|true|false]

For each seed, in one process: `keras.mixed_precision.set_dtype_policy(
POLICY)`, `VaDE(64, 10, seed=seed)` on scikit-learn's digits, then
`vade_tf.workflow.train` with the default recipe and `random_state=seed`
(as `vade-tf train --dataset digits --seed seed`). Labels are used only to
score the result. Prints one JSON line per seed: the final ACC, the smallest
cluster's share of the digits and the workflow's seconds.
"""

import argparse
import json
import time

import keras
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--jit-compile", choices=("auto", "true", "false"), default="auto"
    )
    args = parser.parse_args()
    keras.mixed_precision.set_dtype_policy(args.policy)
    import vade_tf

    jit_compile = {"auto": "auto", "true": True, "false": False}[
        args.jit_compile
    ]
    x, y = vade_tf.data.datasets.load_dataset("digits")
    for seed in map(int, args.seeds.split(",")):
        keras.utils.set_random_seed(seed)
        model = vade_tf.VaDE(x.shape[1], 10, seed=seed)
        start = time.perf_counter()
        vade_tf.workflow.train(
            model, x, random_state=seed, jit_compile=jit_compile
        )
        seconds = time.perf_counter() - start
        clusters = model.predict_clusters(x)
        acc = vade_tf.metrics.cluster_acc(y, clusters)[0]
        print(
            json.dumps(
                {
                    "policy": args.policy,
                    "jit_compile": model.jit_compile,
                    "seed": seed,
                    "acc": round(float(acc), 4),
                    "smallest_cluster": round(
                        float(np.bincount(clusters, minlength=10).min())
                        / len(x),
                        3,
                    ),
                    "seconds": round(seconds, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
