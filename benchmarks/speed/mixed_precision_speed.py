"""Training speed of VaDE under float32, mixed_bfloat16 and mixed_float16.

Usage: python -m benchmarks.speed.mixed_precision_speed [--rounds 3]
           [--rows 20000] [--batch-size 100]
           [--cases float32,mixed_bfloat16,mixed_float16] [--work fit|pretrain]

A case is a Keras dtype policy, optionally followed by `/no-xla` for
`jit_compile=False` (TensorFlow's own kernels, oneDNN on x86, instead of
XLA's); without it the case runs XLA (`jit_compile=True`), whatever "auto"
would pick. Each round runs one process per case, in turn
(interleaved, so a busy machine slows all alike): `VaDE(784, 10)`, one call
of three epochs at `--batch-size` on random [0, 1] data, the best of the
last two epochs timed by a callback: of VaDE training (`fit`) or of
autoencoder pretraining (`pretrain`, the "adam" recipe). Prints samples/s
per case and round, the per-round ratios to the first case, and the CPU's
bfloat16 support (the `avx512_bf16` / `amx_bf16` flags); speeds are ratios
within one run, never absolute claims.
"""

import argparse
import json
import subprocess
import sys

from benchmarks import common

CHILD = """
import sys, time, numpy as np, keras
policy, xla = sys.argv[1], sys.argv[2] == "1"
rows, batch, work = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
keras.mixed_precision.set_dtype_policy(policy)
import vade_tf
x = np.random.default_rng(0).random((rows, 784), dtype="float32")
model = vade_tf.VaDE(784, 10, seed=0)


class EpochTimes(keras.callbacks.Callback):
    seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


args = dict(epochs=3, batch_size=batch, verbose=0, callbacks=[EpochTimes()])
if work == "fit":
    model.compile(jit_compile=xla)
    model.fit(x, **args)
else:
    model.pretrain(x, recipe="adam", jit_compile=xla, **args)
best = rows / min(EpochTimes.seconds[1:])
print(best)
"""

CASES = "float32,mixed_bfloat16,mixed_float16"


def cpu_flags():
    """The CPU's bfloat16 and AMX flags, sorted."""
    _, flags = common.cpu()
    return sorted(f for f in flags if "bf16" in f or "amx" in f)


def parse_case(case):
    """Splits a case into its dtype policy and whether it runs XLA.

    Args:
        case: str, `"policy"` or `"policy/no-xla"`.

    Returns:
        Tuple `(policy, xla)`: str and bool.
    """
    policy, _, suffix = case.partition("/")
    if suffix not in ("", "no-xla"):
        raise SystemExit(
            f"A case is a dtype policy, optionally with '/no-xla'. "
            f"Received: {case!r}."
        )
    return policy, not suffix


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--cases", default=CASES)
    parser.add_argument("--work", choices=("fit", "pretrain"), default="fit")
    args = parser.parse_args()
    cases = args.cases.split(",")
    speeds = {case: [] for case in cases}
    for _ in range(args.rounds):
        for case in cases:
            policy, xla = parse_case(case)
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    policy,
                    str(int(xla)),
                    str(args.rows),
                    str(args.batch_size),
                    args.work,
                ],
                cwd=common.ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            speeds[case].append(float(out.strip().splitlines()[-1]))
    first = speeds[cases[0]]
    print(
        json.dumps(
            {
                "bf16_cpu_flags": cpu_flags(),
                "rows": args.rows,
                "batch_size": args.batch_size,
                "work": args.work,
                "samples_per_second": {
                    case: [round(s) for s in v] for case, v in speeds.items()
                },
                f"ratio_to_{cases[0]}": {
                    case: [round(s / f, 2) for s, f in zip(v, first)]
                    for case, v in speeds.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
