"""Training, inference and memory benchmark of vade_tf on MNIST-shaped data.

What it measures, in one run, on synthetic data of MNIST's shape (784
features uniform in [0, 1]; labels uniform over 10 classes):

- VaDE training throughput (samples/s of the full `train_step` through
  `model.fit`) at batch 100 and 256, with and without XLA;
- the same for a plain Keras autoencoder on the same Dense layers
  (`vade_tf.training.pretraining.build_autoencoder`) with a binary cross-entropy
  loss, compiled the same way (Adam(0.002, epsilon=1e-4), same XLA flag);
- the float32 matrix-multiply throughput of this machine (a 2048x2048
  `tf.matmul`) and the model's achieved FLOP/s as a fraction of it;
- inference: `predict_proba` samples/s on 70,000 rows at batch 1000;
- training cost against the number of clusters K = 10, 50, 200;
- in a fresh subprocess per case: the peak resident memory of a training
  epoch over N = 10k, 35k, 70k rows (and over 70k rows at K = 50, 200),
  the epoch's samples/s, and the time the `ClusteringMetrics` callback
  adds to that epoch.

How:

- FLOPs are counted analytically from the layer sizes: a Dense layer
  (in, out) costs 2 * in * out FLOP per sample forward, and a training step
  3x its forward pass. The mixture terms are O(K * D) per sample and left
  out. See benchmarks/README.md.
- Throughput is timed by a Keras callback that records the wall time of
  each epoch. Every configuration trains on its own fixed synthetic set of
  `steps * batch` rows, so an epoch is a fixed number of steps lasting a
  few seconds. Configurations are interleaved in rounds (one epoch each per
  round, the order reversed every other round); round 0 is a warm-up that
  absorbs XLA compilation. Each figure is the median over the timed rounds
  and each ratio the median of the per-round ratios, so slow drift of the
  machine's load cancels out of the ratios. The matmul reference is
  measured in every round too.
- Memory cases run this module again in a subprocess (a hidden
  `--memory-case` option) and read `resource.getrusage(RUSAGE_SELF)
  .ru_maxrss` at the end, so cases do not pollute each other.

The measurement tools (FLOP counts, synthetic data, the epoch clock, the
matmul reference, the inference timer, peak RSS) are in `measure.py` next to
this script, the machine's details and the JSON writing in
`benchmarks/common.py`; this file holds the cases and the run. It prints
figures and ratios and writes them to JSON; it judges nothing.

Absolute figures depend on the machine and on whatever else runs on it;
read them as ratios within one run.

Usage (from the repository root)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.bench_train
    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.bench_train --quick
    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.bench_train \\
        --repeats 7 --out /tmp/results.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

import keras

import vade_tf
from benchmarks import common
from benchmarks.speed.measure import (
    HIDDEN_DIMS,
    INFERENCE_BATCH,
    INPUT_DIM,
    LATENT_DIM,
    MATMUL_SIZE,
    SEED,
    EpochClock,
    current_peak_rss,
    flop_counts,
    matmul_gflops,
    synthetic_images,
    synthetic_labels,
    time_inference,
    train_one_epoch,
)
from vade_tf.training import callbacks as vade_callbacks
from vade_tf.training import pretraining

# =============================================================================
# Settings
# =============================================================================

# INPUT_DIM, HIDDEN_DIMS, LATENT_DIM (the MNIST architecture), SEED,
# MATMUL_SIZE and INFERENCE_BATCH come from measure.py.
BASE_CLUSTERS = 10
LEARNING_RATE = 0.002  # VaDE.compile's default Adam, used for both models
EPSILON = 1e-4
MEMORY_BATCH = 100
TRAIN_BATCHES = (100, 256)
CLUSTER_COUNTS = (10, 50, 200)
MIB = 2**20

MODULE = "benchmarks.speed.bench_train"  # what `--memory-case` runs
DEFAULT_OUT = str(common.RESULTS / "results.json")

# Sizes of the full run and of `--quick`. `epoch_samples` sets the steps per
# epoch (about epoch_samples / batch); memory cases list (N, K).
FULL = {
    "epoch_samples": 10_000,
    "repeats": 5,
    "matmul_repeats": 5,
    "inference_rows": 70_000,
    "memory_cases": (
        (10_000, 10),
        (35_000, 10),
        (70_000, 10),
        (70_000, 50),
        (70_000, 200),
    ),
}
QUICK = {
    "epoch_samples": 1000,
    "repeats": 2,
    "matmul_repeats": 3,
    "inference_rows": 5000,
    # The N series only: each case costs a Python start and XLA compiles.
    "memory_cases": ((1000, 10), (2000, 10), (4000, 10)),
}


def log(message, start):
    """Prints a progress line to stderr with the seconds since `start`."""
    print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=sys.stderr)


# =============================================================================
# Models
# =============================================================================


def adam():
    """A fresh Adam with VaDE.compile's default settings."""
    return keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON)


def build_vade(n_clusters, xla):
    """A compiled `VaDE` of the MNIST architecture (two default Adams).

    Args:
        n_clusters: int, K.
        xla: bool, `jit_compile`.

    Returns:
        A compiled `vade_tf.VaDE`.
    """
    model = vade_tf.VaDE(
        input_dim=INPUT_DIM,
        n_clusters=n_clusters,
        latent_dim=LATENT_DIM,
        hidden_dims=HIDDEN_DIMS,
        seed=SEED,
    )
    model.compile(optimizer=adam(), mixture_optimizer=adam(), jit_compile=xla)
    return model


def build_plain_autoencoder(xla):
    """The plain autoencoder on a VaDE's Dense layers, BCE loss, compiled.

    Args:
        xla: bool, `jit_compile`.

    Returns:
        A compiled functional `keras.Model` from x to x_hat.
    """
    owner = vade_tf.VaDE(
        input_dim=INPUT_DIM,
        n_clusters=BASE_CLUSTERS,
        latent_dim=LATENT_DIM,
        hidden_dims=HIDDEN_DIMS,
        seed=SEED,
    )
    autoencoder = pretraining.build_autoencoder(owner)
    autoencoder.compile(
        optimizer=adam(),
        loss=keras.losses.BinaryCrossentropy(),
        jit_compile=xla,
    )
    return autoencoder


# =============================================================================
# Throughput rounds (in this process)
# =============================================================================


def make_train_cases(settings):
    """The training configurations, each with its model and its data.

    VaDE and the autoencoder at each batch, with and without XLA, then VaDE
    at each K of `CLUSTER_COUNTS` beyond 10 (batch 100, XLA). Every
    configuration's data holds `steps * batch` rows, a whole number of
    batches, so no step has a smaller last batch (a new XLA shape).

    Args:
        settings: the `FULL` or `QUICK` dict.

    Returns:
        dict `{name: case dict}`, in run order.
    """
    data = {}
    for batch in TRAIN_BATCHES:
        steps = max(1, round(settings["epoch_samples"] / batch))
        data[batch] = synthetic_images(steps * batch, seed=SEED + batch)
    specs = []
    for batch in TRAIN_BATCHES:
        for xla in (True, False):
            specs.append(("vade", batch, xla, BASE_CLUSTERS))
            specs.append(("ae", batch, xla, BASE_CLUSTERS))
    for n_clusters in CLUSTER_COUNTS:
        if n_clusters != BASE_CLUSTERS:
            specs.append(("vade", TRAIN_BATCHES[0], True, n_clusters))
    cases = {}
    for kind, batch, xla, n_clusters in specs:
        name = case_name(kind, batch, xla, n_clusters)
        keras.utils.set_random_seed(SEED)
        if kind == "vade":
            model = build_vade(n_clusters, xla)
        else:
            model = build_plain_autoencoder(xla)
        cases[name] = {
            "kind": kind,
            "batch": batch,
            "xla": xla,
            "n_clusters": n_clusters,
            "x": data[batch],
            "model": model,
        }
    return cases


def case_name(kind, batch, xla, n_clusters=BASE_CLUSTERS):
    """A configuration's key, for example `vade_b100_xla_k10`."""
    mode = "xla" if xla else "noxla"
    return f"{kind}_b{batch}_{mode}_k{n_clusters}"


def run_rounds(settings, repeats, start):
    """Runs the interleaved throughput rounds.

    Each round measures the matmul reference, one epoch of every training
    configuration and `predict_proba` over the inference rows with the
    XLA-compiled and the plain K=10, batch-100 VaDE. Round 0 is a warm-up
    and is not kept.

    Args:
        settings: the `FULL` or `QUICK` dict.
        repeats: int, timed rounds.
        start: `time.perf_counter()` at the start of the run, for logs.

    Returns:
        dict with per-round lists: `matmul_gflops`, `train` (per case:
        its settings, `samples_per_epoch`, `epoch_seconds`, `final_loss`)
        and `inference` (per XLA setting: `rows`, `seconds`).
    """
    log("building models", start)
    cases = make_train_cases(settings)
    x_infer = synthetic_images(settings["inference_rows"], seed=SEED + 7)
    inference_models = {
        "xla": cases[case_name("vade", 100, True)]["model"],
        "noxla": cases[case_name("vade", 100, False)]["model"],
    }
    raw = {
        "matmul_gflops": [],
        "train": {
            name: {
                "kind": case["kind"],
                "batch": case["batch"],
                "xla": case["xla"],
                "n_clusters": case["n_clusters"],
                "samples_per_epoch": len(case["x"]),
                "epoch_seconds": [],
                "final_loss": None,
            }
            for name, case in cases.items()
        },
        "inference": {
            mode: {"rows": len(x_infer), "seconds": []}
            for mode in inference_models
        },
    }
    names = list(cases)
    for round_index in range(repeats + 1):
        warm_up = round_index == 0
        label = "warm-up round" if warm_up else f"round {round_index}"
        log(f"{label}/{repeats}", start)
        gflops = matmul_gflops(settings["matmul_repeats"])
        order = names if round_index % 2 == 0 else names[::-1]
        epoch_seconds = {}
        for name in order:
            epoch_seconds[name], loss = train_one_epoch(cases[name])
            raw["train"][name]["final_loss"] = loss
        inference_seconds = {
            mode: time_inference(model, x_infer)
            for mode, model in inference_models.items()
        }
        if warm_up:
            continue
        raw["matmul_gflops"].append(gflops)
        for name, seconds in epoch_seconds.items():
            raw["train"][name]["epoch_seconds"].append(seconds)
        for mode, seconds in inference_seconds.items():
            raw["inference"][mode]["seconds"].append(seconds)
    return raw


# =============================================================================
# Memory cases (each in a fresh subprocess)
# =============================================================================


def run_memory_case(n_rows, n_clusters, batch=MEMORY_BATCH):
    """One MNIST-shaped training epoch with `ClusteringMetrics`; its costs.

    Builds N rows of data and random labels, a compiled VaDE (XLA on, the
    default), warms up on a few batches (XLA compilation of the training
    and prediction steps), then trains one epoch over all N rows with the
    callbacks `[clock, ClusteringMetrics(x, y), clock_after]`. The first
    clock's epoch end comes before the metrics run, the second's after, so
    one epoch gives both the time with and the time without the callback.

    Args:
        n_rows: int, N, a multiple of `batch` and of 1000 so that no
            batch is smaller (a new XLA shape).
        n_clusters: int, K.
        batch: int, the training batch size.

    Returns:
        dict with `n_rows`, `n_clusters`, `batch`, `train_seconds` (the
        epoch without the callback), `metrics_seconds` (what the callback
        adds), `samples_per_second`, `rss_after_import`, `rss_after_data`
        and `peak_rss` (bytes), `final_loss`.
    """
    if n_rows % batch or n_rows % INFERENCE_BATCH:
        raise ValueError(
            f"n_rows must be a multiple of {batch} and {INFERENCE_BATCH} "
            f"(no smaller last batch). Received: n_rows={n_rows}"
        )
    keras.utils.set_random_seed(SEED)
    rss_after_import = current_peak_rss()
    x = synthetic_images(n_rows)
    y = synthetic_labels(n_rows)
    rss_after_data = current_peak_rss()
    model = build_vade(n_clusters, xla=True)
    warm_rows = min(n_rows, 10 * batch)
    model.fit(x[:warm_rows], batch_size=batch, epochs=1, verbose=0)
    model.predict_clusters(x[:INFERENCE_BATCH], batch_size=INFERENCE_BATCH)
    clock = EpochClock()
    clock_after = EpochClock()
    metrics_callback = vade_callbacks.ClusteringMetrics(
        x, y, batch_size=INFERENCE_BATCH
    )
    history = model.fit(
        x,
        batch_size=batch,
        epochs=1,
        shuffle=True,
        verbose=0,
        callbacks=[clock, metrics_callback, clock_after],
    )
    train_seconds = clock.ends[0] - clock.begins[0]
    metrics_seconds = clock_after.ends[0] - clock.ends[0]
    return {
        "n_rows": n_rows,
        "n_clusters": n_clusters,
        "batch": batch,
        "train_seconds": train_seconds,
        "metrics_seconds": metrics_seconds,
        "samples_per_second": n_rows / train_seconds,
        "rss_after_import": rss_after_import,
        "rss_after_data": rss_after_data,
        "peak_rss": current_peak_rss(),
        "final_loss": float(history.history["loss"][-1]),
    }


def spawn_memory_case(n_rows, n_clusters):
    """Runs `run_memory_case` in a fresh Python process (this module, `-m`).

    Args:
        n_rows: int, N.
        n_clusters: int, K.

    Returns:
        The case's result dict (parsed from the child's last stdout line).
    """
    spec = json.dumps({"n_rows": n_rows, "n_clusters": n_clusters})
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    completed = subprocess.run(
        [sys.executable, "-m", MODULE, "--memory-case", spec],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"Memory case N={n_rows} K={n_clusters} failed with exit code "
            f"{completed.returncode}:\n{completed.stderr[-3000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_memory_cases(settings, start):
    """Runs every memory case of `settings`, one subprocess each, in turn."""
    results = []
    for n_rows, n_clusters in settings["memory_cases"]:
        log(f"memory case N={n_rows} K={n_clusters} (subprocess)", start)
        results.append(spawn_memory_case(n_rows, n_clusters))
    return results


# =============================================================================
# Summary
# =============================================================================


def row(metric, value, unit, fmt="{:.2f}"):
    """One table row.

    Args:
        metric: str.
        value: float.
        unit: str.
        fmt: str, the value's format.

    Returns:
        dict with `metric`, `value`, `unit`, `shown`.
    """
    return {
        "metric": metric,
        "value": value,
        "unit": unit,
        "shown": fmt.format(value),
    }


def summarize(raw, memory, flops):
    """Turns the raw measurements into the table's rows.

    Args:
        raw: the dict from `run_rounds`.
        memory: the list from `run_memory_cases`.
        flops: the dict from `flop_counts`.

    Returns:
        list of row dicts (see `row`).
    """
    matmul = raw["matmul_gflops"]
    train = raw["train"]

    def rates(name):
        case = train[name]
        return [case["samples_per_epoch"] / s for s in case["epoch_seconds"]]

    def fractions(name, flop_per_sample):
        return [
            rate * flop_per_sample / 1e9 / ref
            for rate, ref in zip(rates(name), matmul)
        ]

    def paired(numerator, denominator):
        return common.median(
            [a / b for a, b in zip(rates(numerator), rates(denominator))]
        )

    rows = [
        row(
            f"matmul {MATMUL_SIZE}x{MATMUL_SIZE} float32",
            common.median(matmul),
            "GFLOP/s",
            fmt="{:.1f}",
        )
    ]
    for batch in TRAIN_BATCHES:
        for xla in (True, False):
            mode = "xla" if xla else "no-xla"
            for kind, label in (("vade", "VaDE"), ("ae", "autoencoder")):
                name = case_name(kind, batch, xla)
                rows.append(
                    row(
                        f"train {label} b={batch} {mode}",
                        common.median(rates(name)),
                        "samples/s",
                        fmt="{:.0f}",
                    )
                )
    for xla in (True, False):
        mode = "xla" if xla else "no-xla"
        for batch in TRAIN_BATCHES:
            ratio = paired(
                case_name("vade", batch, xla), case_name("ae", batch, xla)
            )
            rows.append(
                row(
                    f"VaDE / autoencoder samples/s b={batch} {mode}",
                    ratio,
                    "ratio",
                )
            )
    for batch in TRAIN_BATCHES:
        for xla in (True, False):
            mode = "xla" if xla else "no-xla"
            for kind, label, key in (
                ("vade", "VaDE", "vade_train"),
                ("ae", "autoencoder", "autoencoder_train"),
            ):
                name = case_name(kind, batch, xla)
                fraction = common.median(fractions(name, flops[key]))
                rows.append(
                    row(
                        f"train {label} b={batch} {mode} FLOP/s / matmul",
                        fraction,
                        "fraction",
                    )
                )
    for batch in TRAIN_BATCHES:
        rows.append(
            row(
                f"XLA speed-up VaDE b={batch}",
                paired(
                    case_name("vade", batch, True),
                    case_name("vade", batch, False),
                ),
                "ratio",
            )
        )
    for mode, label in (("xla", "xla"), ("noxla", "no-xla")):
        case = raw["inference"][mode]
        inference_rates = [case["rows"] / s for s in case["seconds"]]
        fraction = common.median(
            [
                rate * flops["inference"] / 1e9 / ref
                for rate, ref in zip(inference_rates, matmul)
            ]
        )
        rows.append(
            row(
                f"predict_proba {case['rows']} rows b={INFERENCE_BATCH} "
                f"{label}",
                common.median(inference_rates),
                "samples/s",
                fmt="{:.0f}",
            )
        )
        rows.append(
            row(
                f"predict_proba b={INFERENCE_BATCH} {label} FLOP/s / matmul",
                fraction,
                "fraction",
            )
        )
    base = case_name("vade", 100, True, BASE_CLUSTERS)
    for n_clusters in CLUSTER_COUNTS:
        if n_clusters == BASE_CLUSTERS:
            continue
        name = case_name("vade", 100, True, n_clusters)
        rows.append(
            row(
                f"train VaDE b=100 xla K={n_clusters}",
                common.median(rates(name)),
                "samples/s",
                fmt="{:.0f}",
            )
        )
        ratio = paired(base, name)  # epoch time at K over epoch time at 10
        rows.append(
            row(
                f"epoch time K={n_clusters} / K={BASE_CLUSTERS} (b=100 xla)",
                ratio,
                "ratio",
            )
        )
    rows.extend(summarize_memory(memory))
    return rows


def summarize_memory(memory):
    """The rows of the subprocess cases: memory, N and K scaling, metrics.

    Args:
        memory: the list from `run_memory_cases`; the cases at K=10 form
            the N series, the largest N is "full MNIST".

    Returns:
        list of row dicts.
    """
    base = [case for case in memory if case["n_clusters"] == BASE_CLUSTERS]
    base.sort(key=lambda case: case["n_rows"])
    full = base[-1]
    rows = [
        row(
            "RSS after imports (TF, Keras, vade_tf), before data",
            full["rss_after_import"] / MIB,
            "MiB",
            fmt="{:.0f}",
        )
    ]
    for case in memory:
        label = f"N={case['n_rows']} K={case['n_clusters']}"
        rows.append(
            row(
                f"peak RSS, training epoch {label}",
                case["peak_rss"] / MIB,
                "MiB",
                fmt="{:.0f}",
            )
        )
        rows.append(
            row(
                f"train samples/s, one epoch {label}",
                case["samples_per_second"],
                "samples/s",
                fmt="{:.0f}",
            )
        )
    if len(base) >= 3:
        low, middle, high = base[0], base[len(base) // 2], base[-1]
        # The line through the smallest and largest N predicts the middle
        # case; its miss is given as a fraction of the growth from smallest
        # to largest N, or of one float32 copy of the added rows when the
        # growth is smaller (allocator noise on tiny N).
        span = high["peak_rss"] - low["peak_rss"]
        added_rows = high["n_rows"] - low["n_rows"]
        slope = span / added_rows
        predicted = low["peak_rss"] + slope * (middle["n_rows"] - low["n_rows"])
        scale = max(span, added_rows * INPUT_DIM * 4)
        nonlinearity = abs(middle["peak_rss"] - predicted) / scale
        rows.append(
            row(
                "peak RSS per row (slope in N) / one float32 row",
                slope / (INPUT_DIM * 4),
                "copies",
                fmt="{:.1f}",
            )
        )
        rows.append(
            row(
                f"peak RSS nonlinearity in N (N={middle['n_rows']} vs line)",
                nonlinearity,
                "fraction",
            )
        )
    overhead = full["metrics_seconds"] / full["train_seconds"]
    rows.append(
        row(
            f"ClusteringMetrics time / epoch N={full['n_rows']}",
            overhead,
            "fraction",
        )
    )
    return rows


def format_table(rows):
    """The rows as a fixed-width text table (metric, value, unit).

    Args:
        rows: list of row dicts.

    Returns:
        str.
    """
    header = ("metric", "value", "unit")
    lines = [(item["metric"], item["shown"], item["unit"]) for item in rows]
    widths = [
        max(len(str(line[i])) for line in [header, *lines])
        for i in range(len(header))
    ]
    rule = "  ".join("-" * width for width in widths)

    def render(line):
        cells = [
            str(cell).rjust(width) if index == 1 else str(cell).ljust(width)
            for index, (cell, width) in enumerate(zip(line, widths))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([render(header), rule, *map(render, lines)])


# =============================================================================
# Entry point
# =============================================================================


def parse_args(argv):
    """The command line; `--memory-case` is internal (`spawn_memory_case`)."""
    parser = argparse.ArgumentParser(
        description="Benchmark VaDE training, inference and memory on "
        "MNIST-shaped synthetic data; prints a table and writes JSON."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 2 repeats, to check the script (about a minute)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed rounds after the warm-up (default 5, or 2 with --quick)",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help="the JSON file (default benchmarks/results/results.json)",
    )
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def main(argv=None):
    """Runs the benchmark (or, with `--memory-case`, one memory case)."""
    args = parse_args(argv)
    if args.memory_case:
        spec = json.loads(args.memory_case)
        print(json.dumps(run_memory_case(spec["n_rows"], spec["n_clusters"])))
        return
    start = time.perf_counter()
    settings = dict(QUICK if args.quick else FULL)
    repeats = args.repeats or settings["repeats"]
    machine = common.machine_info()
    keras.utils.set_random_seed(SEED)
    flops = flop_counts()
    memory = run_memory_cases(settings, start)
    raw = run_rounds(settings, repeats, start)
    rows = summarize(raw, memory, flops)
    machine["load_average_end"] = list(os.getloadavg())
    duration = time.perf_counter() - start
    log("done", start)
    print(format_table(rows))
    mode = "quick" if args.quick else "full"
    print(
        f"\n{mode} run, {repeats} repeats, {duration:.0f} s; ratios are "
        "medians of per-round ratios. Read figures as ratios within "
        "this run."
    )
    result = {
        "mode": mode,
        "repeats": repeats,
        "duration_seconds": duration,
        "machine": machine,
        "settings": {
            key: value for key, value in settings.items() if key != "repeats"
        },
        "flops_per_sample": flops,
        "rows": rows,
        "raw": {**raw, "memory_cases": memory},
    }
    common.write_result(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
