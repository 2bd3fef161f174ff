"""Train VaDE on several workers with `MultiWorkerMirroredStrategy`.

Each worker is one process with its own `TF_CONFIG` (the cluster's
addresses and the worker's index); all run the same program on the same
data, Keras splits every global batch between them, and the gradients are
summed across the workers at each step, so every worker holds the same
model. Worker 0, the chief, saves it.

This script plays both roles. Without `--worker-index` it starts
`--workers` copies of itself on 127.0.0.1, one per worker, waits for all of
them and prints the chief's result; with `--worker-index` it is one worker.
By default it trains on the first 10,000 MNIST images, with the library's
default recipe shortened to 10 pretraining and 2 VaDE epochs. The MNIST IDX
files are looked for, as `vade_tf.data.datasets` does, in `--data-dir` (DIR, or
its `mnist/` subfolder), `$VADE_TF_DATA`, `~/.keras/datasets/mnist` and
`/usr/share/datasets/mnist`, and never downloaded: when none holds them it
says so in one line and trains on scikit-learn's embedded 8x8 digits
instead. `--data-dir` or `--dataset mnist` asks for MNIST: without the
files the script stops with one line (exit status 2); `--dataset digits`
always trains on the digits.

    python examples/distributed_multiworker.py --data-dir DIR
    python examples/distributed_multiworker.py --data-dir DIR --workers 1

The second command is the same run in one process, to compare with.

On several machines, start one worker on each host with the same list of
addresses and its own index (worker 0 writes `--out`):

    python examples/distributed_multiworker.py --worker-index I \\
        --addresses host1:12345,host2:12345 --data-dir DIR --out run

or, with the command line tool, set `TF_CONFIG` on each host
(`vade_tf.training.distribute.tf_config`) and run `vade-tf train --strategy
multiworker ...`. docs/distributed.md has the details and what was
measured.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

# Before TensorFlow is first imported (after the arguments); the workers
# started here inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with the MNIST IDX files (never downloaded); given, "
        "MNIST is required",
    )
    parser.add_argument(
        "--dataset",
        choices=("mnist", "digits"),
        help="mnist: require MNIST; digits: the embedded 8x8 digits "
        "(default: MNIST when found, else the digits)",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        default=10000,
        help="train on the first N images (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes to start on 127.0.0.1 (default: %(default)s)",
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=10,
        help="autoencoder pretraining epochs (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=2,
        help="VaDE epochs (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed (default: 0)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="TensorFlow threads per worker (default when started here: "
        "the machine's cores divided among the workers)",
    )
    parser.add_argument(
        "--no-xla",
        action="store_true",
        help="train without XLA (as several workers always do)",
    )
    parser.add_argument(
        "--out",
        default="runs/multiworker",
        help="folder where the chief writes model.keras and metrics.json "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--worker-index", type=int, help="run as this worker (0 = chief)"
    )
    parser.add_argument(
        "--addresses", help="with --worker-index: host:port of every worker"
    )
    args = parser.parse_args()
    if args.worker_index is None:
        launch(args)
    else:
        work(args)


def fail(message):
    """Exits with status 2 and `message` as one line on standard error."""
    prog = os.path.basename(sys.argv[0])
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)


def datasets_without_tensorflow():
    """`vade_tf.data.datasets` with numpy alone, before TensorFlow starts (see
    `vade_tf_cli.without_tensorflow`, installed with the package)."""
    import vade_tf_cli

    return vade_tf_cli.without_tensorflow("data.datasets")


def say(line):
    """Prints `line` in one write, so workers sharing a terminal or pipe
    never split each other's lines (`print` writes the text and its newline
    separately when Python runs unbuffered, as under `python -u`)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def choose_data(args, datasets):
    """`("mnist", folder)` or `("digits", None)`, as the flags ask.

    MNIST when its files are found (never downloaded); without them, the
    digits with one line saying so, or, when `--data-dir` or `--dataset
    mnist` asked for MNIST, one line on standard error and exit status 2.
    """
    if args.dataset == "digits":
        if args.data_dir:
            fail("--data-dir is for MNIST: leave it out with --dataset digits")
        return "digits", None
    folder = datasets.find_idx_folder("mnist", args.data_dir)
    if folder:
        return "mnist", folder
    searched = ", ".join(
        dict.fromkeys(datasets.candidate_folders("mnist", args.data_dir))
    )
    if args.data_dir or args.dataset == "mnist":
        fail(
            f"MNIST not found: none of {searched} holds its four IDX .gz "
            "files (train-images-idx3-ubyte.gz, ...). Pass --data-dir with "
            "the folder that holds them, or --dataset digits for the "
            "embedded 8x8 digits"
        )
    print(
        f"MNIST not found (looked in {searched}; --data-dir DIR names its "
        "folder); training on the embedded 8x8 digits instead",
        flush=True,
    )
    return "digits", None


def launch(args):
    """Starts `args.workers` workers on this machine and reports."""
    if args.workers < 1:
        fail(f"--workers must be >= 1. Received: {args.workers}")
    # Decided once, before TensorFlow starts, and passed on to every worker.
    data, folder = choose_data(args, datasets_without_tensorflow())
    from vade_tf.training import distribute

    addresses = ",".join(distribute.local_addresses(args.workers))
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    passed = [
        "--n-samples", str(args.n_samples),
        "--pretrain-epochs", str(args.pretrain_epochs),
        "--epochs", str(args.epochs),
        "--seed", str(args.seed),
        "--threads", str(threads),
        "--out", args.out,
        "--addresses", addresses,
    ]  # fmt: skip
    passed += ["--dataset", data] + (["--data-dir", folder] if folder else [])
    if args.no_xla:
        passed.append("--no-xla")
    print(
        f"Starting {args.workers} worker(s) on {addresses}, {threads} "
        "thread(s) each",
        flush=True,
    )
    workers = [
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__)]
            + passed
            + ["--worker-index", str(index)]
        )
        for index in range(args.workers)
    ]
    codes = [worker.wait() for worker in workers]
    if any(codes):
        raise SystemExit(f"A worker failed: exit codes {codes}")
    with open(os.path.join(args.out, "metrics.json")) as handle:
        metrics = json.load(handle)
    trained_on = {"mnist": "MNIST images", "digits": "8x8 digits"}
    print(
        f"{args.workers} worker(s) finished, trained on "
        f"{metrics['n_samples']} {trained_on[metrics['data']]}. The chief "
        f"saved {os.path.join(args.out, 'model.keras')}: "
        f"ACC {metrics['acc']:.4f}, "
        f"NMI {metrics['nmi']:.4f}; VaDE "
        f"{metrics['vade_samples_per_second']:.0f} samples/s, pretraining "
        f"{metrics['pretrain_samples_per_second']:.0f} samples/s"
    )


class EpochTimer:
    """Wall time of each epoch, as a Keras callback (`.callback`)."""

    def __init__(self):
        import keras

        self.times, starts = [], []
        clock = time.perf_counter
        self.callback = keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: starts.append(clock()),
            on_epoch_end=lambda epoch, logs: self.times.append(
                clock() - starts[-1]
            ),
        )

    def samples_per_second(self, n_samples):
        """Mean samples/s of the epochs after the first (which compiles)."""
        timed = self.times[1:] or self.times
        return n_samples / (sum(timed) / len(timed)) if timed else float("nan")


def work(args):
    """One worker: the strategy, the data, the workflow; the chief saves."""
    # Checked before TensorFlow starts: a missing MNIST is one line.
    data, folder = choose_data(args, datasets_without_tensorflow())
    from vade_tf.training import distribute

    addresses = (args.addresses or "").split(",")
    if len(addresses) > 1:
        os.environ["TF_CONFIG"] = distribute.tf_config(
            addresses, args.worker_index
        )
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    strategy = distribute.make_strategy(
        "multiworker" if len(addresses) > 1 else "none"
    )

    import keras
    import numpy as np

    import vade_tf
    from vade_tf import fileio, metrics, workflow
    from vade_tf.training import compilation, recipes

    keras.utils.set_random_seed(args.seed)
    # The data chose_data picked (the launcher passes its choice on).
    x, y = vade_tf.data.datasets.load_dataset(data, folder)
    image_shape = vade_tf.data.datasets.IMAGE_SHAPES.get(data)
    x, y = x[: args.n_samples], y[: args.n_samples]
    recipe = recipes.get_recipe(
        pretrain_epochs=args.pretrain_epochs, epochs=args.epochs
    )
    pretrain_timer, vade_timer = EpochTimer(), EpochTimer()
    chief = distribute.is_chief(strategy)
    with strategy.scope():
        model = workflow.build_model(x, n_clusters=10, seed=args.seed)
        result = workflow.train(
            model,
            x,
            recipe,
            image_shape=image_shape,
            random_state=args.seed,
            jit_compile=False if args.no_xla else compilation.JIT_COMPILE,
            callbacks=[vade_timer.callback],
            pretrain_callbacks=[pretrain_timer.callback],
            verbose=2 if chief else 0,
        )
    # Every worker holds the same model: the same digest on each.
    state = model.get_weights() + [
        variable.numpy()
        for optimizer in (model.optimizer, model.mixture_optimizer)
        for variable in optimizer.variables
    ]
    digest = hashlib.sha256(
        b"".join(np.ascontiguousarray(value).tobytes() for value in state)
    ).hexdigest()[:16]
    say(f"worker {args.worker_index}: weights {digest}")
    labels = model.predict_clusters(x)
    scores = metrics.clustering_scores(y, labels)
    if not chief:
        say(f"worker {args.worker_index} done")
        return
    os.makedirs(args.out, exist_ok=True)
    with fileio.atomic_output(
        os.path.join(args.out, "model.keras"), overwrite=True, suffix=".keras"
    ) as tmp:
        model.save(tmp)
    report = {
        "workers": len(addresses),
        "threads_per_worker": args.threads,
        "xla": bool(model.jit_compile),
        "n_samples": int(len(x)),
        "data": data,
        "recipe": result.recipe.to_dict(),
        **{name: float(value) for name, value in scores.items()},
        "pretrain_samples_per_second": pretrain_timer.samples_per_second(
            len(x)
        ),
        "vade_samples_per_second": vade_timer.samples_per_second(len(x)),
        "pretrain_epoch_seconds": pretrain_timer.times,
        "vade_epoch_seconds": vade_timer.times,
        "weights_digest": digest,
    }
    with fileio.atomic_output(
        os.path.join(args.out, "metrics.json"), overwrite=True
    ) as tmp:
        with open(tmp, "w") as handle:
            json.dump(report, handle, indent=1)
    say(f"worker {args.worker_index} (chief) saved {args.out}")


if __name__ == "__main__":
    main()
