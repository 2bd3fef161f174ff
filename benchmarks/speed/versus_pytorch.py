"""vade_tf against a PyTorch VaDE on the same CPU, interleaved in rounds.

What it measures, with library defaults on both sides (vade_tf: `VaDE(784,
10)`, `compile()`, `fit`; PyTorch: `torch_vade.py`, eager, with
`torch.compile`, and eager with `torch.set_flush_denormal(True)`, 2 threads):

- `pretrain800`: autoencoder pretraining, batch 800 (vade_tf:
  `pretraining.pretrain_autoencoder(recipe="adam")`; both Adam(1e-3) on the
  summed binary cross-entropy);
- `vade100` and `vade800`: VaDE training at batch 100 and 800 (the ELBO,
  two Adam optimizers, the mixture's constraints);
- `infer`: q(c|x) for every row (`predict_proba`), each side at its own
  default batch size (vade_tf's `INFERENCE_BATCH_SIZE`; 1000 for the
  reference, its fastest of 1000, 2000 and 4096 on the CPUs measured), both
  in the JSON as `infer_batch_size`.

How:

- First a check: vade_tf writes its initial weights, a batch, the noise of
  the reparameterisation and its loss and gradients; the PyTorch model
  loads the weights and must give the same loss and gradients (to float32
  tolerance, save for ReLU units at their kink: `GRADIENT_TOLERANCE`)
  before anything is timed. A mismatch stops the run.
- Every side of every round runs in its own fresh process, one after the
  other (the order alternates between rounds). In each process every work
  runs a warm-up epoch (XLA or `torch.compile` compilation, caches) and then
  `--timed-epochs` epochs over all rows; its figure is the best timed
  epoch's samples/s (inference: the best of 3 passes). Each process also
  measures its library's float32 matmul (2048 x 2048).
- Ratios are vade_tf / PyTorch within a round, against the fastest PyTorch
  variant of that round; the summary gives each work's medians and every
  round's ratio.
- `--busy` keeps one of the cores busy with a spinning process for the whole
  run, to see how each side degrades on a shared machine.

The data are all 70,000 MNIST images when `--data-dir` has them, otherwise
synthetic rows of MNIST's shape (said in the JSON).

Usage (from the repository root; PyTorch from `pip install ".[bench]"`, or
another interpreter that has torch via `--torch-python`)::

    TF_CPP_MIN_LOG_LEVEL=2 python -m benchmarks.speed.versus_pytorch \\
        --data-dir ../shared/data/mnist --rounds 3 \\
        --out benchmarks/results/versus_pytorch_amd_epyc.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import common

MODULE = "benchmarks.speed.versus_pytorch"  # what each worker process runs
WORKS = ("pretrain800", "vade100", "vade800", "infer")
# `torch_flush`: eager with subnormal floats flushed to zero, as TensorFlow
# does by default on x86 (PyTorch keeps them; VaDE training on MNIST at batch
# 100 produces enough of them to halve PyTorch's speed on some CPUs).
SIDES = ("vade_tf", "torch_eager", "torch_compile", "torch_flush")
SEED = 0
CHECK_BATCH = 100
LOSS_TOLERANCE = 1e-4
# Gradients agree entry by entry to GRADIENT_TOLERANCE of their scale, save
# for at most this fraction of a tensor's entries. The exception is a ReLU
# unit whose pre-activation for one row of the batch is within rounding of
# zero: it is on in one library and off in the other, and that row's share
# of the unit's weights' gradient (one column of one layer) differs. Seen on
# synthetic rows: 10 of the 20,000 entries of the decoder's first kernel, 2.5%
# of its scale apart, with every other entry within 2e-5. A wrong formula
# moves most entries of a tensor, far past this fraction.
GRADIENT_TOLERANCE = 1e-3
GRADIENT_MAX_FRACTION_DISAGREEING = 1e-3
CHECK_NOISE_SEED = 7
MATMUL_SIZE = 2048


# =============================================================================
# Workers (each in its own process)
# =============================================================================


def _rate(rows, seconds):
    return rows / min(seconds)


def vade_tf_worker(x, works, timed_epochs):
    """Times each work with vade_tf's defaults; returns samples/s per work."""
    import keras
    import tensorflow as tf

    import vade_tf
    from benchmarks.speed import measure
    from vade_tf.training import pretraining

    results = {"matmul_gflops": measure.matmul_gflops(5, MATMUL_SIZE)}
    epochs = 1 + timed_epochs
    for work in works:
        model = vade_tf.VaDE(784, 10, seed=SEED)
        clock = measure.EpochClock()
        if work == "pretrain800":
            pretraining.pretrain_autoencoder(
                model,
                x,
                epochs=epochs,
                batch_size=800,
                recipe="adam",
                verbose=0,
                callbacks=[clock],
            )
            results[work] = _rate(len(x), clock.seconds()[1:])
        elif work in ("vade100", "vade800"):
            model.compile()
            model.fit(
                x,
                batch_size=int(work[4:]),
                epochs=epochs,
                verbose=0,
                callbacks=[clock],
            )
            results[work] = _rate(len(x), clock.seconds()[1:])
        elif work == "infer":
            seconds = []
            for _ in range(4):
                started = time.perf_counter()
                model.predict_proba(x)
                seconds.append(time.perf_counter() - started)
            results[work] = _rate(len(x), seconds[1:])
            results["infer_seconds"] = min(seconds[1:])
            results["infer_batch_size"] = (
                vade_tf.model.vade.INFERENCE_BATCH_SIZE
            )
        keras.backend.clear_session()
    results["versions"] = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "vade_tf": vade_tf.__version__,
    }
    return results


def torch_worker(x, works, timed_epochs, compile, flush_denormal=False):
    """Times each work with `torch_vade`; returns samples/s per work.

    Args:
        x: float32 array `(rows, 784)`.
        works: names in `WORKS`.
        timed_epochs: int, epochs timed after the warm-up one.
        compile: bool, `torch.compile` the losses.
        flush_denormal: bool, `torch.set_flush_denormal(True)` first (x86
            with SSE3 only).

    Returns:
        dict of samples/s per work, the matmul GFLOP/s and versions.
    """
    import torch

    if flush_denormal and not torch.set_flush_denormal(True):
        raise SystemExit(
            "PyTorch cannot flush denormals on this CPU (it needs x86 with "
            "SSE3): leave torch_flush out, e.g. "
            "--sides vade_tf,torch_eager,torch_compile"
        )

    from benchmarks.speed import torch_vade

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    a = torch.rand(MATMUL_SIZE, MATMUL_SIZE)
    b = torch.rand(MATMUL_SIZE, MATMUL_SIZE)
    a @ b
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        a @ b
        rates.append(2 * MATMUL_SIZE**3 / (time.perf_counter() - started) / 1e9)
    results = {"matmul_gflops": statistics.median(rates)}
    data = torch_vade.as_tensor(x)
    for work in works:
        model = torch_vade.TorchVaDE(784, 10)
        trainer = torch_vade.Trainer(model, compile=compile, seed=SEED)
        if work == "pretrain800":
            seconds = [
                trainer.pretrain_epoch(data, 800)
                for _ in range(1 + timed_epochs)
            ]
        elif work in ("vade100", "vade800"):
            seconds = [
                trainer.train_epoch(data, int(work[4:]))
                for _ in range(1 + timed_epochs)
            ]
        else:
            seconds = [trainer.inference_seconds(data) for _ in range(4)]
            results["infer_seconds"] = min(seconds[1:])
            results["infer_batch_size"] = torch_vade.INFERENCE_BATCH_SIZE
        results[work] = _rate(len(x), seconds[1:])
    results["versions"] = {"torch": torch.__version__}
    return results


# =============================================================================
# The check: same weights, batch and noise give the same loss and gradients
# =============================================================================


def write_check(x, path):
    """vade_tf's weights, a batch, its noise, loss and gradients to `path`."""
    import keras
    import tensorflow as tf

    import vade_tf
    from vade_tf.model import layers

    model = vade_tf.VaDE(784, 10, seed=SEED)
    model.initialize_mixture(x[:2000], random_state=SEED)
    batch = x[:CHECK_BATCH]
    eps = keras.random.normal((CHECK_BATCH, 10), seed=CHECK_NOISE_SEED)
    variables = model.network_variables + model.mixture_variables
    with tf.GradientTape() as tape:
        reconstruction, kl = model.elbo_terms(batch, seed=CHECK_NOISE_SEED)
        loss = tf.reduce_mean(reconstruction + kl)
    gradients = tape.gradient(loss, variables)
    z_mean, z_log_var = model.encoder_outputs(batch)
    same_noise = layers.reparameterize(z_mean, z_log_var, CHECK_NOISE_SEED)
    expected = z_mean + tf.exp(0.5 * z_log_var) * eps
    if not np.allclose(same_noise, expected, atol=1e-6):
        raise RuntimeError("keras.random.normal(seed) is not reproducible")
    arrays = {
        "x": batch,
        "eps": np.asarray(eps),
        "loss": np.float32(loss),
        "reconstruction": np.float32(tf.reduce_mean(reconstruction)),
        "kl": np.float32(tf.reduce_mean(kl)),
    }
    # In the order of `TorchVaDE.load_arrays`.
    names = ["encoder1", "encoder2", "encoder3", "z_mean", "z_log_var"]
    dense = [model.encoder.get_layer(name) for name in names]
    dense += [model.decoder.get_layer(f"decoder{i}") for i in (1, 2, 3, 4)]
    by_id = {id(v): g for v, g in zip(variables, gradients)}
    for index, layer in enumerate(dense):
        arrays[f"kernel{index}"] = np.asarray(layer.kernel)
        arrays[f"bias{index}"] = np.asarray(layer.bias)
        arrays[f"grad_kernel{index}"] = np.asarray(by_id[id(layer.kernel)])
        arrays[f"grad_bias{index}"] = np.asarray(by_id[id(layer.bias)])
    for name in ("theta_p", "c_mean", "c_var"):
        variable = getattr(model, name)
        arrays[name] = np.asarray(variable)
        arrays[f"grad_{name}"] = np.asarray(by_id[id(variable)])
    np.savez(path, **arrays)


def run_check(path):
    """The PyTorch model on the saved weights: the largest differences."""
    import torch

    from benchmarks.speed import torch_vade

    arrays = dict(np.load(path))
    model = torch_vade.TorchVaDE(784, 10)
    model.load_arrays(arrays)
    loss, reconstruction, kl = model.loss(
        torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["eps"])
    )
    loss.backward()
    loss, reconstruction, kl = (t.detach() for t in (loss, reconstruction, kl))
    pairs = []
    for index, layer in enumerate(model.linear_layers()):
        pairs.append((layer.weight.grad.T, arrays[f"grad_kernel{index}"]))
        pairs.append((layer.bias.grad, arrays[f"grad_bias{index}"]))
    for name in ("theta_p", "c_mean", "c_var"):
        pairs.append((getattr(model, name).grad, arrays[f"grad_{name}"]))
    pairs = [(mine.numpy(), theirs) for mine, theirs in pairs]
    worst = max(_relative(mine, theirs) for mine, theirs in pairs)
    disagreeing = max(_disagreeing(mine, theirs) for mine, theirs in pairs)
    return {
        "loss_vade_tf": float(arrays["loss"]),
        "loss_torch": float(loss),
        "reconstruction_vade_tf": float(arrays["reconstruction"]),
        "reconstruction_torch": float(reconstruction),
        "kl_vade_tf": float(arrays["kl"]),
        "kl_torch": float(kl),
        "loss_relative_difference": abs(float(loss) - float(arrays["loss"]))
        / abs(float(arrays["loss"])),
        "gradient_max_relative_difference": worst,
        "gradient_max_fraction_disagreeing": disagreeing,
    }


def _relative(mine, theirs):
    """Largest difference relative to the gradient's own scale."""
    return float(np.max(np.abs(mine - theirs))) / _scale(theirs)


def _disagreeing(mine, theirs, tolerance=GRADIENT_TOLERANCE):
    """Fraction of entries further apart than `tolerance` x the scale."""
    return float(np.mean(np.abs(mine - theirs) > tolerance * _scale(theirs)))


def _scale(gradient):
    """The gradient's largest magnitude (at least 1e-12)."""
    return max(float(np.max(np.abs(gradient))), 1e-12)


# =============================================================================
# The run
# =============================================================================


def load_rows(data_dir, rows):
    """`(x, source)`: MNIST's first `rows` images, or synthetic ones."""
    try:
        import vade_tf

        x, _ = vade_tf.data.datasets.load_dataset("mnist", data_dir=data_dir)
        source = "MNIST (all splits)"
    except (OSError, ValueError):
        x = np.random.default_rng(SEED).uniform(size=(rows, 784))
        source = "synthetic uniform [0, 1], MNIST's shape"
    return np.ascontiguousarray(x[:rows], dtype=np.float32), source


def spawn(python, side, data, works, timed_epochs, out):
    """Runs one side (or the check) in a fresh `python -m` process."""
    command = [
        python,
        "-m",
        MODULE,
        "--worker",
        side,
        "--data",
        data,
        "--works",
        ",".join(works),
        "--timed-epochs",
        str(timed_epochs),
        "--worker-out",
        out,
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run(command, check=True, env=env, cwd=common.ROOT)
    with open(out) as handle:
        return json.load(handle)


def summarize(rounds, sides, works):
    """Medians per side and work, and per-round vade_tf / PyTorch ratios."""
    summary = {}
    torch_sides = [side for side in sides if side != "vade_tf"]
    for work in works:
        row = {
            side: statistics.median(r[side][work] for r in rounds)
            for side in sides
        }
        ratios = [
            r["vade_tf"][work] / max(r[side][work] for side in torch_sides)
            for r in rounds
        ]
        row["ratios"] = ratios
        row["median_ratio"] = statistics.median(ratios)
        summary[work] = row
    summary["matmul_gflops"] = {
        side: statistics.median(r[side]["matmul_gflops"] for r in rounds)
        for side in sides
    }
    return summary


def busy_core():
    """A process that spins one core until killed."""
    return subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        stdout=subprocess.DEVNULL,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--rows", type=int, default=70000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timed-epochs", type=int, default=1)
    parser.add_argument("--works", default=",".join(WORKS))
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--torch-python", default=sys.executable)
    parser.add_argument("--busy", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", choices=SIDES + ("check",))
    parser.add_argument("--data")
    parser.add_argument("--worker-out")
    args = parser.parse_args(argv)
    works = args.works.split(",")

    if args.worker:
        if args.worker == "check":
            result = run_check(args.data)
        else:
            x = np.load(args.data, mmap_mode="r")
            x = np.ascontiguousarray(x, dtype=np.float32)
            if args.worker == "vade_tf":
                result = vade_tf_worker(x, works, args.timed_epochs)
            else:
                result = torch_worker(
                    x,
                    works,
                    args.timed_epochs,
                    compile=args.worker == "torch_compile",
                    flush_denormal=args.worker == "torch_flush",
                )
        with open(args.worker_out, "w") as handle:  # for the parent only
            json.dump(result, handle)
        return 0

    sides = args.sides.split(",")
    if sides[0] != "vade_tf" or len(sides) < 2:
        parser.error("--sides must start with vade_tf and name a torch side")
    machine = common.machine_info()
    x, source = load_rows(args.data_dir, args.rows)
    busy = busy_core() if args.busy else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "x.npy")
            np.save(data, x)
            check_path = os.path.join(tmp, "check.npz")
            write_check(x, check_path)
            check = spawn(
                args.torch_python,
                "check",
                check_path,
                works,
                0,
                os.path.join(tmp, "check.json"),
            )
            print(json.dumps({"check": check}, indent=1), file=sys.stderr)
            if (
                check["loss_relative_difference"] > LOSS_TOLERANCE
                or check["gradient_max_fraction_disagreeing"]
                > GRADIENT_MAX_FRACTION_DISAGREEING
            ):
                raise SystemExit("vade_tf and the PyTorch reference disagree")
            rounds = []
            for index in range(args.rounds):
                order = sides if index % 2 == 0 else sides[::-1]
                results = {}
                for side in order:
                    python = args.torch_python
                    if side == "vade_tf":
                        python = sys.executable
                    results[side] = spawn(
                        python,
                        side,
                        data,
                        works,
                        args.timed_epochs,
                        os.path.join(tmp, f"{index}_{side}.json"),
                    )
                    print(
                        f"round {index} {side}:", results[side], file=sys.stderr
                    )
                rounds.append(results)
    finally:
        if busy is not None:
            busy.kill()
    report = {
        "machine": machine,
        "data": {"source": source, "rows": len(x)},
        "settings": {
            "rounds": args.rounds,
            "timed_epochs": args.timed_epochs,
            "busy_core": args.busy,
            "torch_threads": 2,
        },
        "check": check,
        "rounds": rounds,
        "summary": summarize(rounds, sides, works),
        "load_average_at_end": list(os.getloadavg()),
    }
    print(json.dumps(report["summary"], indent=1))
    if args.out:
        common.write_result(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
