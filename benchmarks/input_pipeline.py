"""Where an epoch of `VaDE.fit` goes: the compiled step against the input.

Three ways to run the same XLA-compiled VaDE training step over the same
in-memory rows (MNIST's shape, uniform in [0, 1]), each for `--epochs`
epochs in its own fresh process, interleaved in rounds:

- `keras_adapter`: `keras.Model.fit` on the NumPy array (Keras's array
  adapter shuffles and batches it; what `VaDE.fit` did before it fed arrays
  through `vade_tf.datasets.epoch_batches`);
- `epoch_batches`: `VaDE.fit` on the array as the library does now;
- `step_loop`: the compiled `train_step` called in a Python loop on
  batches made in advance (no `fit`, no `tf.data`): the floor the input
  pipeline and Keras's loop are measured against.

Every process reports its epochs' samples/s; the first epoch (compilation)
is left out of the summary, which gives per mode the median and the range
of the other epochs over all rounds.

Usage (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/input_pipeline.py --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MODES = ("keras_adapter", "epoch_batches", "step_loop")


def run_mode(mode, rows, batch_size, epochs):
    """Samples/s of each epoch of `mode`."""
    import keras
    import numpy as np
    import tensorflow as tf

    import vade_tf

    x = np.random.default_rng(0).uniform(size=(rows, 784)).astype("float32")
    model = vade_tf.VaDE(784, 10, seed=0)
    model.compile()
    if mode == "step_loop":
        step = tf.function(model.train_step, jit_compile=True)
        batches = [
            tf.constant(x[i : i + batch_size])
            for i in range(0, rows, batch_size)
        ]
        seconds = []
        for _ in range(epochs):
            started = time.perf_counter()
            for batch in batches:
                logs = step((batch,))
            float(logs["loss"])
            seconds.append(time.perf_counter() - started)
        return [rows / s for s in seconds]

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from measure import EpochClock

    clock = EpochClock()
    fit = keras.Model.fit if mode == "keras_adapter" else type(model).fit
    fit(
        model,
        x,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
        callbacks=[clock],
    )
    return [rows / seconds for seconds in clock.seconds()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default=None)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        rates = run_mode(args.mode, args.rows, args.batch_size, args.epochs)
        print(json.dumps(rates))
        return 0
    rounds = []
    for index in range(args.rounds):
        order = MODES if index % 2 == 0 else MODES[::-1]
        result = {}
        for mode in order:
            output = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--mode", mode]
                + ["--rows", str(args.rows), "--epochs", str(args.epochs)]
                + ["--batch-size", str(args.batch_size)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result[mode] = json.loads(output.strip().splitlines()[-1])
            rates = ", ".join(f"{r:,.0f}" for r in result[mode])
            print(f"round {index} {mode}: {rates}", file=sys.stderr)
        rounds.append(result)
    summary = {}
    for mode in MODES:
        timed = [rate for r in rounds for rate in r[mode][1:]]
        summary[mode] = {
            "median": statistics.median(timed),
            "min": min(timed),
            "max": max(timed),
        }
    print(json.dumps(summary, indent=1))
    if args.out:
        with open(args.out + ".tmp", "w") as handle:
            json.dump({"rounds": rounds, "summary": summary}, handle, indent=1)
        os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
