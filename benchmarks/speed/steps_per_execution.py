"""VaDE training samples/s by `steps_per_execution`, interleaved in one process.

One model per value, each compiled with that `steps_per_execution` and
traced on a few batches first; then every model trains one epoch per
repeat, in alternating order, so the machine's drift between processes does
not enter the comparison. Prints the table and writes JSON.

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.steps_per_execution \\
        --data-dir ../shared/data/mnist --values 1,8,32 --repeats 4 \\
        --out benchmarks/results/steps_per_execution_amd_epyc_avx512.json
"""

import argparse
import os
import statistics
import time

from benchmarks import common

SEED = 0


def epoch_rates(x, batch_size, values, repeats):
    """Samples/s of each epoch, per `steps_per_execution` value.

    Args:
        x: float32 array `(n, 784)`.
        batch_size: int.
        values: list of ints.
        repeats: int, epochs per value.

    Returns:
        Dict from each value to its list of `repeats` samples/s.
    """
    import vade_tf

    models = {}
    for value in values:
        model = vade_tf.VaDE(x.shape[1], 10, seed=SEED)
        model.compile(steps_per_execution=value)
        model.fit(x[: 50 * batch_size], batch_size=batch_size, verbose=0)
        models[value] = model
    rates = {value: [] for value in values}
    for repeat in range(repeats):
        for value in values if repeat % 2 == 0 else values[::-1]:
            started = time.perf_counter()
            models[value].fit(x, batch_size=batch_size, verbose=0)
            rates[value].append(len(x) / (time.perf_counter() - started))
    return rates


def main(argv=None):
    """Runs the comparison; prints the table, writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rows", type=int, default=70000)
    parser.add_argument("--batch-sizes", default="100,800")
    parser.add_argument("--values", default="1,8,32")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    from benchmarks.speed import versus_pytorch

    machine = common.machine_info()
    x, source = versus_pytorch.load_rows(args.data_dir, args.rows)
    values = [int(v) for v in args.values.split(",")]
    results = {}
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        rates = epoch_rates(x, batch_size, values, args.repeats)
        medians = {v: statistics.median(r) for v, r in rates.items()}
        results[str(batch_size)] = {
            str(v): {
                "samples_per_second": rates[v],
                "median": medians[v],
                "median_over_first": medians[v] / medians[values[0]],
            }
            for v in values
        }
        for v in values:
            print(
                f"batch {batch_size:4d}  steps_per_execution {v:3d}: "
                f"median {medians[v]:8,.0f} samples/s "
                f"({medians[v] / medians[values[0]]:.2f}x), epochs "
                + " · ".join(f"{r:,.0f}" for r in rates[v]),
                flush=True,
            )
    if args.out:
        report = {
            "machine": machine,
            "data": {"source": source, "rows": len(x)},
            "settings": vars(args),
            "results": results,
            "load_average_at_end": list(os.getloadavg()),
        }
        common.write_result(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
