"""One matrix product at given shapes, in one library, GFLOP/s.

Usage:
    THREADS=2 python -m benchmarks.speed.matmul_shapes {xla,onednn,torch} \
        800x500x2000,2048x2048x2048

`xla`: TensorFlow with `jit_compile=True` (the training step's path);
`onednn`: TensorFlow without XLA (the inference path); `torch`: PyTorch (MKL).
`THREADS` sets the intra-op threads (default 2); `DTYPE` the operands'
dtype, `float32` (default) or `bfloat16` (on CPUs with AMX, oneDNN's and
MKL's bfloat16 products use its tiles). Each shape m x k x n is the best of
five repeats after two warm-up calls. Prints one JSON line.
"""

import argparse
import json
import os
import time


def best_gflops(product, flop, repeats):
    product()
    product()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            product()
        best = min(best, (time.perf_counter() - start) / repeats)
    return flop / best / 1e9


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="THREADS and DTYPE are read from the environment.",
    )
    parser.add_argument("side", choices=("xla", "onednn", "torch"))
    parser.add_argument("shapes", help="m x k x n, comma-separated")
    args = parser.parse_args()
    side = args.side
    shapes = [tuple(map(int, s.split("x"))) for s in args.shapes.split(",")]
    threads = int(os.environ.get("THREADS", "2"))
    dtype = os.environ.get("DTYPE", "float32")
    if dtype not in ("float32", "bfloat16"):
        raise SystemExit(f"DTYPE is float32 or bfloat16. Received: {dtype!r}.")
    if side == "torch":
        import torch

        torch.set_num_threads(threads)
        torch_dtype = getattr(torch, dtype)
        rand = lambda *shape: torch.rand(*shape, dtype=torch_dtype)  # noqa: E731
        matmul = torch.mm
    else:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        rand = lambda *shape: tf.cast(tf.random.uniform(shape), dtype)  # noqa: E731
        matmul = tf.function(tf.matmul, jit_compile=side == "xla")
    result = {}
    for m, k, n in shapes:
        a, b = rand(m, k), rand(k, n)
        flop = 2 * m * k * n
        result[f"{m}x{k}x{n}"] = round(
            best_gflops(
                lambda a=a, b=b: matmul(a, b), flop, max(3, int(2e9 / flop))
            )
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
