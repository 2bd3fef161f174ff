"""Training speed of VaDE under float32, mixed_bfloat16 and mixed_float16.

Usage: python benchmarks/mixed_precision_speed.py [--rounds 3] [--rows 20000]

Each round runs one process per policy, in turn (interleaved, so a busy
machine slows all alike): `VaDE(784, 10)` with the default compile (XLA),
one warm-up epoch, then the best of two timed epochs at batch 100 on random
[0, 1] data. Prints samples/s per policy and round, the per-round ratios to
float32, and the CPU's bfloat16 support (the `avx512_bf16` / `amx_bf16`
flags); speeds are ratios within one run, never absolute claims.
"""

import argparse
import json
import subprocess
import sys

CHILD = """
import sys, time, numpy as np, keras
policy, rows = sys.argv[1], int(sys.argv[2])
keras.mixed_precision.set_dtype_policy(policy)
import vade_tf
x = np.random.default_rng(0).random((rows, 784), dtype="float32")
model = vade_tf.VaDE(784, 10, seed=0)
model.compile()
model.fit(x, epochs=1, batch_size=100, verbose=0)
best = 0.0
for _ in range(2):
    start = time.perf_counter()
    model.fit(x, epochs=1, batch_size=100, verbose=0)
    best = max(best, rows / (time.perf_counter() - start))
print(best)
"""

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def cpu_flags():
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return sorted(f for f in flags if "bf16" in f or "amx" in f)
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    speeds = {policy: [] for policy in POLICIES}
    for _ in range(args.rounds):
        for policy in POLICIES:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, policy, str(args.rows)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            speeds[policy].append(float(out.strip().splitlines()[-1]))
    ratios = {
        policy: [
            round(s / f, 2) for s, f in zip(speeds[policy], speeds["float32"])
        ]
        for policy in POLICIES
    }
    print(
        json.dumps(
            {
                "bf16_cpu_flags": cpu_flags(),
                "samples_per_second": {
                    p: [round(s) for s in v] for p, v in speeds.items()
                },
                "ratio_to_float32": ratios,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
