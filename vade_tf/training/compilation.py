"""Whether a training step compiles with XLA: `jit_compile="auto"`.

XLA is the faster way to run VaDE's float32 training step on a CPU
(docs/performance.md). It is not under a bfloat16 compute dtype on a CPU with
AMX: XLA's CPU back end does not run bfloat16 matrix products on AMX's tiles,
while TensorFlow's own kernels (oneDNN) do. On a 2-core Intel Xeon with AMX,
`mixed_bfloat16` trained and pretrained at batch 800 at 1.77-1.86x float32's
speed without XLA and 0.93-0.96x with it (level with each other at batch
100; docs/performance.md, "Mixed precision"). So "auto"
means XLA, except for a bfloat16 network on a CPU that reports `amx_bf16`.
"""

import functools

import numpy as np
import tensorflow as tf

from vade_tf.training import distribute

# The default of every `jit_compile` argument in the package.
JIT_COMPILE = "auto"


@functools.lru_cache(maxsize=1)
def cpu_flags():
    """The CPU's feature flags from `/proc/cpuinfo` (Linux), else empty.

    Returns:
        frozenset of str, such as `{"avx2", "amx_bf16", ...}`.
    """
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def xla_pays(compute_dtype):
    """Whether XLA is expected to speed up a step computing in `compute_dtype`.

    Args:
        compute_dtype: str, the network's compute dtype (the dtype policy's).

    Returns:
        bool: False only for bfloat16 on a CPU with AMX (and no GPU).
    """
    if compute_dtype != "bfloat16" or tf.config.list_logical_devices("GPU"):
        return True
    return "amx_bf16" not in cpu_flags()


def resolve(jit_compile, compute_dtype):
    """The `jit_compile` to give Keras's `compile`.

    Args:
        jit_compile: True, False or "auto" (see `xla_pays`).
        compute_dtype: str, the network's compute dtype.

    Returns:
        bool. Always False where XLA cannot compile the step
        (`distribute.xla_supported`).
    """
    if isinstance(jit_compile, str) and jit_compile == "auto":
        jit_compile = xla_pays(compute_dtype)
    elif isinstance(jit_compile, (bool, np.bool_)):
        jit_compile = bool(jit_compile)
    else:
        raise ValueError(
            'jit_compile must be True, False or "auto". '
            f"Received: jit_compile={jit_compile!r}."
        )
    return jit_compile and distribute.xla_supported()
