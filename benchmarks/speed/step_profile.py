"""Where a VaDE training step's time goes, on each side of versus_pytorch.py.

A training step of the 784-500-500-2000-10 network is, by arithmetic, its
matrix products; by memory traffic, the Adam update of its 3.35 million
weights. This script times both parts on each side, so that a step's time
can be split into them and compared with the CPU's matmul peak:

- the shapes of every matrix product of one training step, at batch 100
  and 800: for each Dense layer its forward product, its weight gradient
  and (except the first layer's, which nothing needs) its input gradient;
  the two 10-unit heads of the encoder are separate layers, as in both
  implementations. The gradients' products are timed as plain products of
  operands of their shapes, not as the transposed products backpropagation
  runs;
- the Adam update of the network's weights: Keras's `Adam` inside an XLA
  function, as `VaDE.compile()` runs it, and `torch.optim.Adam(fused=True)`
  as `torch_vade.py` runs it;
- a whole training step, from a timed `fit` (vade_tf) or `train_epoch`
  (PyTorch) epoch over synthetic rows of MNIST's shape, once as it is and
  once with the network's optimizer only reading the gradients: the
  difference is what the update costs inside the step (the update alone,
  timed by itself, need not cost the same). A difference of two epoch
  timings, it is as noisy as they are and can come out negative;
- the float32 matmul 2048 x 2048, the peak each side is measured against.

Sides: `xla` (TensorFlow with XLA, the library's training default), `tf`
(TensorFlow without XLA, oneDNN; the library's inference path) and `torch`
(2 threads). Each side runs in its own process, one after the other.
TensorFlow products are timed `PRODUCTS_PER_CALL` at a time inside one
function (as many different left operands, all results returned), so that
the per-call overhead of a function call is not counted as kernel time. The
products of one call do not depend on each other, so TensorFlow may overlap
them, which a step cannot: per-product times can come out a little faster
than inside a step. PyTorch products are timed one call at a time, which is
what its eager step pays. Products and the update alone are the best of 5
timed repeats; a step is the best of a fit's second and third epochs.

Usage (from the repository root; `--torch-python`: an interpreter that has
torch)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.step_profile \\
        --torch-python /path/to/python \\
        --out benchmarks/results/step_profile.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import common

MODULE = "benchmarks.speed.step_profile"  # what each side's process runs
SIDES = ("xla", "tf", "torch")
BATCHES = (100, 800)
# The network's Dense layers as (inputs, outputs), in the order of a step.
LAYERS = (
    (784, 500),
    (500, 500),
    (500, 2000),
    (2000, 10),  # z_mean head
    (2000, 10),  # z_log_var head
    (10, 2000),
    (2000, 500),
    (500, 500),
    (500, 784),
)
MATMUL_SIZE = 2048
PRODUCTS_PER_CALL = 20  # TensorFlow products per timed call
STEP_ROWS = 20000  # rows of the timed training epoch
SEED = 0


def step_products(batch):
    """The matrix products of one training step at `batch`.

    Args:
        batch: int, the batch size.

    Returns:
        list of `(name, m, k, n)`: an `(m, k) @ (k, n)` product each, named
        `fwd`, `dW` (weight gradient) or `dx` (input gradient) and the
        layer's index.
    """
    products = []
    for index, (k, n) in enumerate(LAYERS):
        products.append((f"fwd{index}", batch, k, n))
        products.append((f"dW{index}", k, batch, n))
        if index:
            products.append((f"dx{index}", batch, n, k))
    return products


def timed_shapes():
    """Every distinct `(m, k, n)` to time: the 2048 matmul, then each step's.

    Returns:
        list of int triples, in first-seen order.
    """
    shapes = [(MATMUL_SIZE, MATMUL_SIZE, MATMUL_SIZE)]
    for batch in BATCHES:
        shapes += [shape[1:] for shape in step_products(batch)]
    return list(dict.fromkeys(shapes))


def _calls_for(flop, per_call):
    """Calls per timed repeat: about 0.2 GFLOP of work, at least 3.

    Args:
        flop: int, the FLOP of one product.
        per_call: int, products per call.

    Returns:
        int >= 3.
    """
    return max(3, int(2e8 / (flop * per_call)))


def _best_seconds(call, per_call, calls, repeats=5):
    """Best-of-`repeats` seconds of one unit of work.

    Args:
        call: callable doing `per_call` units (products or updates).
        per_call: int, units per call.
        calls: int, calls per timed repeat.
        repeats: int, timed repeats after two untimed calls.

    Returns:
        float, the best repeat's seconds per unit.
    """
    call()
    call()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls / per_call)
    return best


# =============================================================================
# Workers
# =============================================================================


def tensorflow_worker(jit):
    """Times the products, the update and a step with TensorFlow.

    Args:
        jit: bool, run everything under XLA (`jit_compile=True`).

    Returns:
        dict: `products` (shape key -> seconds), `adam_seconds`,
        `parameters`, `step_seconds` and `step_without_update_seconds`
        (batch key -> seconds per step), `versions`.
    """
    import keras
    import tensorflow as tf

    import vade_tf
    from benchmarks.speed import measure

    results = {"products": {}}
    for m, k, n in timed_shapes():
        lefts = [
            tf.random.uniform((m, k), seed=i) for i in range(PRODUCTS_PER_CALL)
        ]
        right = tf.random.uniform((k, n), seed=PRODUCTS_PER_CALL)

        @tf.function(jit_compile=jit)
        def products(lefts, right):
            return [tf.matmul(left, right) for left in lefts]

        def call(lefts=lefts, right=right):
            products(lefts, right)[-1][0, 0].numpy()

        calls = _calls_for(2 * m * k * n, PRODUCTS_PER_CALL)
        seconds = _best_seconds(call, PRODUCTS_PER_CALL, calls)
        results["products"][f"{m}x{k}x{n}"] = seconds
    model = vade_tf.VaDE(784, 10, seed=SEED)
    model.compile(jit_compile=jit)
    variables = model.network_variables
    gradients = [
        tf.random.normal(v.shape, stddev=1e-3, seed=i)
        for i, v in enumerate(variables)
    ]

    @tf.function(jit_compile=jit)
    def adam_update(gradients):
        model.optimizer.apply(gradients, variables)

    def adam_call():
        adam_update(gradients)
        variables[0][0, 0].numpy()

    results["adam_seconds"] = _best_seconds(adam_call, 1, 20)
    results["parameters"] = int(sum(np.prod(v.shape) for v in variables))
    x = np.random.default_rng(SEED).uniform(size=(STEP_ROWS, 784))
    x = x.astype("float32")
    results["step_seconds"] = {}
    results["step_without_update_seconds"] = {}
    for batch in BATCHES:
        for key, optimizer in (
            ("step_seconds", None),
            ("step_without_update_seconds", _no_update_optimizer()),
        ):
            model = vade_tf.VaDE(784, 10, seed=SEED)
            model.compile(optimizer=optimizer, jit_compile=jit)
            clock = measure.EpochClock()
            model.fit(
                x, batch_size=batch, epochs=3, verbose=0, callbacks=[clock]
            )
            steps = -(-STEP_ROWS // batch)
            results[key][str(batch)] = min(clock.seconds()[1:]) / steps
            keras.backend.clear_session()
    results["versions"] = {"tensorflow": tf.__version__}
    return results


def _no_update_optimizer():
    """A Keras optimizer that reads each gradient but updates nothing.

    Compiled as the network's optimizer, it gives the training step without
    the network's update. It still sums every gradient into a scalar: a
    gradient nothing reads would be pruned (with its matrix products) by
    XLA and by TensorFlow's graph optimizer. So the difference to the real
    step is the update's cost inside the step, less one read of the
    gradients.
    """
    import keras

    class NoUpdate(keras.optimizers.Optimizer):
        def __init__(self):
            super().__init__(learning_rate=0.0, name="no_update")

        def build(self, variables):
            super().build(variables)
            self.sink = self.add_variable((), name="gradient_sink")

        def update_step(self, gradient, variable, learning_rate):
            self.sink.assign_add(keras.ops.sum(gradient))

    return NoUpdate()


def torch_worker():
    """Times the products, the update and a step with PyTorch (2 threads).

    Returns:
        dict with the keys of `tensorflow_worker`.
    """
    import torch

    from benchmarks.speed import torch_vade

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    results = {"products": {}}
    for m, k, n in timed_shapes():
        left = torch.rand(m, k)
        right = torch.rand(k, n)
        calls = _calls_for(2 * m * k * n, 1)
        seconds = _best_seconds(
            lambda left=left, right=right: left @ right, 1, calls
        )
        results["products"][f"{m}x{k}x{n}"] = seconds
    model = torch_vade.TorchVaDE(784, 10)
    parameters = list(model.network_parameters())
    for parameter in parameters:
        parameter.grad = torch.randn_like(parameter) * 1e-3
    optimizer = torch_vade.adam(parameters)
    results["adam_seconds"] = _best_seconds(optimizer.step, 1, 20)
    results["parameters"] = int(sum(p.numel() for p in parameters))
    x = torch_vade.as_tensor(
        np.random.default_rng(SEED).uniform(size=(STEP_ROWS, 784))
    )
    results["step_seconds"] = {}
    results["step_without_update_seconds"] = {}
    for batch in BATCHES:
        for key in ("step_seconds", "step_without_update_seconds"):
            model = torch_vade.TorchVaDE(784, 10)
            trainer = torch_vade.Trainer(model, seed=SEED)
            if key == "step_without_update_seconds":
                # The network's update skipped; the rest of the step runs.
                trainer.optimizer.step = lambda: None
            seconds = [trainer.train_epoch(x, batch) for _ in range(3)]
            steps = -(-STEP_ROWS // batch)
            results[key][str(batch)] = min(seconds[1:]) / steps
    results["versions"] = {"torch": torch.__version__}
    return results


# =============================================================================
# The report
# =============================================================================


def summarize(sides):
    """Per side and batch: a step split into products, update and the rest.

    Args:
        sides: dict of side name -> a worker's results.

    Returns:
        dict of side -> {"matmul_2048_gflops", "adam_ms" (the update alone),
        "batches": {batch: {"step_ms", "products_ms", "products_gflops",
        "products_fraction_of_2048_peak", "update_in_step_ms" (the step
        with the network's update minus the step without it), "rest_ms"
        (step - products - update), "step_flop", "per_product_gflops"}}}.
    """
    summary = {}
    for side, result in sides.items():
        products = result["products"]
        square = f"{MATMUL_SIZE}x{MATMUL_SIZE}x{MATMUL_SIZE}"
        peak = 2 * MATMUL_SIZE**3 / products[square]
        entry = {
            "matmul_2048_gflops": peak / 1e9,
            "adam_ms": result["adam_seconds"] * 1e3,
            "batches": {},
        }
        for batch in BATCHES:
            shapes = step_products(batch)
            seconds = sum(products[f"{m}x{k}x{n}"] for _, m, k, n in shapes)
            flop = sum(2 * m * k * n for _, m, k, n in shapes)
            step = result["step_seconds"][str(batch)]
            update = step - result["step_without_update_seconds"][str(batch)]
            rates = sorted(
                (2 * m * k * n / products[f"{m}x{k}x{n}"] / 1e9, name)
                for name, m, k, n in shapes
            )
            entry["batches"][str(batch)] = {
                "step_ms": step * 1e3,
                "products_ms": seconds * 1e3,
                "products_gflops": flop / seconds / 1e9,
                "products_fraction_of_2048_peak": flop / seconds / peak,
                "update_in_step_ms": update * 1e3,
                "rest_ms": (step - seconds - update) * 1e3,
                "step_flop": flop,
                "per_product_gflops": {name: rate for rate, name in rates},
            }
        summary[side] = entry
    return summary


def table(summary):
    """The summary as a Markdown table, one row per side and batch."""
    lines = [
        "| side | batch | step ms | products ms (GFLOP/s, of 2048 peak) "
        "| update in step ms | rest ms | Adam alone ms | 2048 GFLOP/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for side, entry in summary.items():
        for batch, row in entry["batches"].items():
            lines.append(
                f"| {side} | {batch} | {row['step_ms']:.1f} | "
                f"{row['products_ms']:.1f} ({row['products_gflops']:.0f}, "
                f"{row['products_fraction_of_2048_peak']:.2f}) | "
                f"{row['update_in_step_ms']:.1f} | {row['rest_ms']:.1f} | "
                f"{entry['adam_ms']:.1f} | {entry['matmul_2048_gflops']:.0f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    """Runs each side in its own process; prints the table, writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--torch-python", default=sys.executable)
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", choices=SIDES)
    parser.add_argument("--worker-out")
    args = parser.parse_args(argv)
    if args.worker:
        if args.worker == "torch":
            result = torch_worker()
        else:
            result = tensorflow_worker(jit=args.worker == "xla")
        with open(args.worker_out, "w") as handle:  # for the parent only
            json.dump(result, handle)
        return 0

    sides = args.sides.split(",")
    unknown = sorted(set(sides) - set(SIDES))
    if unknown:
        parser.error(f"unknown sides {unknown}; expected some of {SIDES}")
    machine = common.machine_info()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            python = args.torch_python if side == "torch" else sys.executable
            out = os.path.join(tmp, f"{side}.json")
            subprocess.run(
                [python, "-m", MODULE, "--worker", side, "--worker-out", out],
                cwd=common.ROOT,
                check=True,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
            )
            with open(out) as handle:
                results[side] = json.load(handle)
            print(f"{side}: done", file=sys.stderr)
    summary = summarize(results)
    print(table(summary))
    report = {
        "machine": machine,
        "load_average_at_end": list(os.getloadavg()),
        "sides": results,
        "summary": summary,
        "note": (
            "products and the update alone: best of 5 timed repeats; "
            "steps: best of a fit's second and third epochs"
        ),
    }
    if args.out:
        common.write_result(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
