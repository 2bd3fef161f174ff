"""Samples/s of `VaDE.fit` epochs at given batch sizes, library defaults.

Usage: XLA_FLAGS=... python benchmarks/epoch_speed.py x.npy 800,100 [rows]

`x.npy`: a float32 array of rows in [0, 1] (for example all of MNIST). For
each batch size, a fresh `VaDE(784, 10)` with the default compile runs one
warm-up epoch over the first `rows` rows (default 20,000), then the best of
two timed epochs. Prints one JSON line; compare settings in one session.
"""

import json
import sys
import time

import numpy as np

import vade_tf


def main():
    x = np.load(sys.argv[1])[: int(sys.argv[3]) if len(sys.argv) > 3 else 20000]
    result = {}
    for batch_size in map(int, sys.argv[2].split(",")):
        model = vade_tf.VaDE(x.shape[1], 10, seed=0)
        model.compile()
        model.fit(x, epochs=1, batch_size=batch_size, verbose=0)
        best = 0.0
        for _ in range(2):
            start = time.perf_counter()
            model.fit(x, epochs=1, batch_size=batch_size, verbose=0)
            best = max(best, len(x) / (time.perf_counter() - start))
        result[batch_size] = round(best)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
