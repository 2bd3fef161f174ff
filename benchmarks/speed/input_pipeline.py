"""Where an epoch of `VaDE.fit` goes: the compiled step against the input.

Four ways to run the same XLA-compiled VaDE training step over the same
in-memory rows (MNIST's shape, uniform in [0, 1]), each for `--epochs`
epochs in its own fresh process, interleaved in rounds:

- `keras_adapter`: `keras.Model.fit` on the NumPy array (Keras's array
  adapter shuffles and batches it; what `VaDE.fit` did before it fed arrays
  through `vade_tf.data.datasets`);
- `autotuned_prefetch`: `VaDE.fit` on a `tf.data` pipeline that gathers
  each batch from the in-memory rows and prefetches it with
  `tf.data.AUTOTUNE` (tf.data's autotuning on): the library's pipeline
  until it stopped prefetching;
- `epoch_batches`: `VaDE.fit` on the array as the library does now (the
  same gather, made when the step asks for it, autotuning off);
- `step_loop`: the compiled `train_step` called in a Python loop on
  batches made in advance (no `fit`, no `tf.data`): the floor the input
  pipeline and Keras's loop are measured against.

Every process reports its epochs' samples/s and, on Linux, how many of the
machine's cores sat idle during each epoch (from `/proc/stat`): an input
pipeline that makes the step wait shows as idle cores. The first epoch
(compilation) is left out of the summary, which gives per mode the median
and the range of the other epochs over all rounds. `--busy` keeps one core
busy with a spinning process for the whole run.

Usage (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.input_pipeline --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks import common

MODULE = "benchmarks.speed.input_pipeline"  # what each mode's process runs
MODES = ("keras_adapter", "autotuned_prefetch", "epoch_batches", "step_loop")


def idle_core_seconds():
    """Core-seconds this machine has been idle since boot (Linux), or None."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def prefetched_batches(x, batch_size):
    """One shuffled pass over `x`, gathered and prefetched with autotuning.

    The library's training pipeline before it stopped prefetching: one
    in-memory copy of the rows, a new order each pass (each epoch's
    iterator), each batch gathered by a `map` and prefetched with
    `tf.data.AUTOTUNE`.

    Returns:
        A `tf.data.Dataset` of `(batch, 784)` float32 tensors with a known
        number of batches, `ceil(len(x) / batch_size)`.
    """
    import tensorflow as tf

    n = len(x)
    full = n // batch_size * batch_size

    def one_pass(_):
        order = tf.random.shuffle(tf.range(n, dtype=tf.int64))
        batches = tf.data.Dataset.from_tensor_slices(
            tf.reshape(order[:full], (-1, batch_size))
        )
        if full < n:
            rest = tf.data.Dataset.from_tensors(order[full:])
            batches = batches.concatenate(rest)
        return batches

    indices = tf.data.Dataset.range(1).flat_map(one_pass)
    rows = tf.data.Dataset.from_tensors(x).repeat()
    return (
        tf.data.Dataset.zip(rows, indices)
        .map(lambda data, index: tf.gather(data, index))
        .prefetch(tf.data.AUTOTUNE)
        .apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
    )


def run_mode(mode, rows, batch_size, epochs):
    """Samples/s and idle cores of each epoch of `mode`."""
    import keras
    import numpy as np
    import tensorflow as tf

    import vade_tf

    x = np.random.default_rng(0).uniform(size=(rows, 784)).astype("float32")
    model = vade_tf.VaDE(784, 10, seed=0)
    model.compile()
    idle = []  # idle core-seconds of each epoch
    if mode == "step_loop":
        step = tf.function(model.train_step, jit_compile=True)
        batches = [
            tf.constant(x[i : i + batch_size])
            for i in range(0, rows, batch_size)
        ]
        seconds = []
        for _ in range(epochs):
            idle_before = idle_core_seconds()
            started = time.perf_counter()
            for batch in batches:
                logs = step((batch,))
            float(logs["loss"])
            seconds.append(time.perf_counter() - started)
            if idle_before is not None:
                idle.append(idle_core_seconds() - idle_before)
    else:
        from benchmarks.speed import measure

        class IdleCores(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.before = idle_core_seconds()

            def on_epoch_end(self, epoch, logs=None):
                if self.before is not None:
                    idle.append(idle_core_seconds() - self.before)

        clock = measure.EpochClock()
        fit = keras.Model.fit if mode == "keras_adapter" else type(model).fit
        if mode == "autotuned_prefetch":
            data, batch = prefetched_batches(x, batch_size), None
        else:
            data, batch = x, batch_size
        fit(
            model,
            data,
            batch_size=batch,
            epochs=epochs,
            verbose=0,
            callbacks=[IdleCores(), clock],
        )
        seconds = clock.seconds()
    idle = [core_seconds / s for core_seconds, s in zip(idle, seconds)]
    return [rows / s for s in seconds], idle


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--busy", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        rates, idle = run_mode(
            args.mode, args.rows, args.batch_size, args.epochs
        )
        print(json.dumps({"samples_per_second": rates, "idle_cores": idle}))
        return 0
    from benchmarks.speed import versus_pytorch

    machine = common.machine_info()
    busy = versus_pytorch.busy_core() if args.busy else None
    try:
        rounds = run_rounds(args)
    finally:
        if busy is not None:
            busy.kill()
    summary = {}
    for mode in MODES:
        timed = [
            r for rnd in rounds for r in rnd[mode]["samples_per_second"][1:]
        ]
        idle = [i for rnd in rounds for i in rnd[mode]["idle_cores"][1:]]
        summary[mode] = {
            "median": statistics.median(timed),
            "min": min(timed),
            "max": max(timed),
            "idle_cores_median": statistics.median(idle) if idle else None,
            "idle_cores_max": max(idle) if idle else None,
        }
    print(json.dumps(summary, indent=1))
    if args.out:
        settings = {
            "rows": args.rows,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "busy_core": args.busy,
        }
        report = {
            "machine": machine,
            "settings": settings,
            "rounds": rounds,
            "summary": summary,
        }
        common.write_result(args.out, report)
    return 0


def run_rounds(args):
    """Every mode once per round, each in a fresh process."""
    rounds = []
    for index in range(args.rounds):
        order = MODES if index % 2 == 0 else MODES[::-1]
        result = {}
        for mode in order:
            output = subprocess.run(
                [sys.executable, "-m", MODULE, "--mode", mode]
                + ["--rows", str(args.rows), "--epochs", str(args.epochs)]
                + ["--batch-size", str(args.batch_size)],
                cwd=common.ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result[mode] = json.loads(output.strip().splitlines()[-1])
            rates = ", ".join(
                f"{r:,.0f}" for r in result[mode]["samples_per_second"]
            )
            print(f"round {index} {mode}: {rates}", file=sys.stderr)
        rounds.append(result)
    return rounds


if __name__ == "__main__":
    sys.exit(main())
