"""VaDE training throughput: one replica, MirroredStrategy, streamed input.

Each configuration runs in its own process (a strategy over logical CPUs
must be set up before TensorFlow starts), in rounds, on the same synthetic
MNIST-sized data (`measure.synthetic_images`, 784 features): `VaDE(784, 10)`
with the library's defaults, `fit` for 2 epochs, samples/s of the second.

- `single`: one replica, XLA on (the library's default);
- `single_no_xla`: one replica, XLA off (what a multi-replica step runs);
- `mirrored_2`: `MirroredStrategy` over the CPU split in 2 logical devices
  (`vade-tf train --strategy mirrored --cpu-replicas 2`), XLA off;
- `stream`: one replica, XLA on, the data read from `.npy` shards by
  `vade_tf.data.streaming.stream` instead of an in-memory array.

It prints a table and writes JSON; it judges nothing.

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.distributed_throughput \\
        --rows 20000 --rounds 3 \\
        --out benchmarks/results/distributed_throughput.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks import common

# Each configuration runs in its own process: `python -m MODULE --one ...`.
MODULE = "benchmarks.speed.distributed_throughput"
CONFIGS = ("single", "single_no_xla", "mirrored_2", "stream")


def one(config, rows, batch_size, folder):
    """Runs one configuration here; prints its samples/s as JSON."""
    if config == "mirrored_2":
        from vade_tf.training import distribute

        strategy = distribute.make_strategy("mirrored", cpu_replicas=2)
    else:
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
    import keras

    import vade_tf
    from benchmarks.speed import measure

    x = measure.synthetic_images(rows)
    data = x
    if config == "stream":
        vade_tf.data.streaming.write_shards(x, folder, rows_per_shard=5000)
        data = vade_tf.data.streaming.stream(folder, batch_size, seed=0)
    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.started)

    with strategy.scope():
        model = vade_tf.VaDE(784, 10, seed=0)
        model.initialize_mixture(x[:5000], random_state=0)
        model.compile(jit_compile=config != "single_no_xla")
    model.fit(
        data,
        epochs=2,
        batch_size=None if config == "stream" else batch_size,
        verbose=0,
        callbacks=[EpochTimer()],
    )
    print(
        json.dumps(
            {
                "config": config,
                "replicas": strategy.num_replicas_in_sync,
                "samples_per_second": rows / times[-1],
            }
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out",
        default=str(common.RESULTS / "distributed.json"),
        help="the JSON file (default benchmarks/results/distributed.json)",
    )
    args = parser.parse_args(argv)
    if args.one:
        return one(args.one, args.rows, args.batch_size, args.folder)

    runs = []
    for round_ in range(args.rounds):
        for config in args.configs:
            with tempfile.TemporaryDirectory() as folder:
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        MODULE,
                        "--one",
                        config,
                        "--rows",
                        str(args.rows),
                        "--batch-size",
                        str(args.batch_size),
                        "--folder",
                        os.path.join(folder, "shards"),
                    ],
                    cwd=common.ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
            row = json.loads(result.stdout.strip().splitlines()[-1])
            row["round"] = round_
            runs.append(row)
            print(
                f"round {round_} {config:>14}: "
                f"{row['samples_per_second']:.0f} samples/s",
                flush=True,
            )
    common.write_result(args.out, {"runs": runs})
    print("| configuration | replicas | samples/s (median) | per round |")
    print("| --- | --- | --- | --- |")
    for config in args.configs:
        group = [r for r in runs if r["config"] == config]
        values = [r["samples_per_second"] for r in group]
        print(
            f"| {config} | {group[0]['replicas']} | "
            f"{common.median(values):.0f} | "
            + " · ".join(f"{v:.0f}" for v in values)
            + " |"
        )


if __name__ == "__main__":
    main()
