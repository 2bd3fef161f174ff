"""Peak memory of `predict_proba` on a large array (default 1,000,000 rows).

Usage: python -m benchmarks.speed.predict_memory [--rows N] [--features D]

Builds an untrained `VaDE(D, 10)` (the cost does not depend on training),
makes a float32 array of N rows, and reports the resident memory before
`predict_proba`, the process's peak after it, and the difference: an upper
bound on what the call added beyond the input (Linux only).
"""

import argparse
import json
import resource
import time

import numpy as np


def peak_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=784)
    args = parser.parse_args()
    import vade_tf

    model = vade_tf.VaDE(args.features, 10, seed=0)
    model.predict_proba(np.zeros((10, args.features), "float32"))  # warm up
    rng = np.random.default_rng(0)
    x = np.empty((args.rows, args.features), dtype="float32")
    for start in range(0, args.rows, 10_000):  # small blocks: no big peak
        block = x[start : start + 10_000]
        block[...] = rng.random(block.shape, dtype="float32")
    resident = current_mib()
    before = peak_mib()
    started = time.perf_counter()
    probs = model.predict_proba(x)
    seconds = time.perf_counter() - started
    after = peak_mib()
    report = {
        "rows": args.rows,
        "features": args.features,
        "input_mib": round(x.nbytes / 2**20, 1),
        "output_mib": round(probs.nbytes / 2**20, 1),
        "rss_before_mib": round(resident, 1),
        "peak_rss_before_mib": round(before, 1),
        "peak_rss_after_mib": round(after, 1),
        # The most predict_proba can have added to what was resident.
        "growth_mib": round(after - resident, 1),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
