"""Throughput from 1 to 2 workers of `MultiWorkerMirroredStrategy`, one machine.

Runs `examples/distributed_multiworker.py` (which starts its workers as
processes on 127.0.0.1) in rounds, each configuration in turn on the same
data (the first `--rows` MNIST images, or the digits without MNIST), and
collects the chief's samples/s of pretraining and of VaDE training (the
mean of the epochs after the first):

- `1 worker, XLA`: one process, the library's defaults;
- `1 worker, no XLA`: one process without XLA, the step several workers run;
- `2 workers`: two processes, the machine's cores divided between them.

It prints a table and writes JSON with the CPU; it judges nothing.

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.multiworker_scaling \\
        --data-dir ../shared/data/mnist --rounds 2 \\
        --out benchmarks/results/multiworker_scaling.json
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from benchmarks import common

# Not a module (examples/ is no package): run by its path, from the root.
EXAMPLE = common.ROOT / "examples" / "distributed_multiworker.py"
CONFIGS = {
    "1 worker, XLA": ["--workers", "1"],
    "1 worker, no XLA": ["--workers", "1", "--no-xla"],
    "2 workers": ["--workers", "2"],
}


def run(config, args, folder):
    out = pathlib.Path(folder) / "run"
    command = [
        sys.executable,
        str(EXAMPLE),
        *CONFIGS[config],
        "--n-samples", str(args.rows),
        "--pretrain-epochs", str(args.epochs),
        "--epochs", str(args.epochs),
        "--out", str(out),
    ]  # fmt: skip
    if args.data_dir:
        command += ["--data-dir", os.path.abspath(args.data_dir)]
    subprocess.run(
        command, cwd=common.ROOT, check=True, capture_output=True, text=True
    )
    return json.loads((out / "metrics.json").read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--out",
        default=str(common.RESULTS / "multiworker_scaling.json"),
        help="the JSON file (default "
        "benchmarks/results/multiworker_scaling.json)",
    )
    args = parser.parse_args()
    results = {config: [] for config in CONFIGS}
    for round_ in range(args.rounds):
        for config in CONFIGS:
            with tempfile.TemporaryDirectory() as folder:
                report = run(config, args, folder)
            results[config].append(
                {
                    "pretrain": report["pretrain_samples_per_second"],
                    "vade": report["vade_samples_per_second"],
                    "acc": report["acc"],
                    "data": report["data"],
                }
            )
            print(round_, config, results[config][-1], flush=True)
    summary = {
        config: {
            work: common.median([run_[work] for run_ in runs])
            for work in ("pretrain", "vade")
        }
        for config, runs in results.items()
    }
    print("| configuration | pretraining samples/s | VaDE samples/s |")
    print("| --- | --- | --- |")
    for config, medians in summary.items():
        pretrain, vade = medians["pretrain"], medians["vade"]
        print(f"| {config} | {pretrain:,.0f} | {vade:,.0f} |")
    payload = {
        "rows": args.rows,
        "epochs": args.epochs,
        "rounds": results,
        "medians": summary,
    }
    common.write_result(args.out, payload)


if __name__ == "__main__":
    main()
