"""`jit_compile="auto"`: XLA, but for a bfloat16 network on a CPU with AMX."""

import os
import platform

import keras
import numpy as np
import pytest
import tensorflow as tf

import vade_tf
from vade_tf.training import compilation

AMX = frozenset({"avx512f", "avx512_bf16", "amx_tile", "amx_bf16"})
BF16_WITHOUT_AMX = frozenset({"avx512f", "avx512_bf16"})
# With a GPU, "auto" is XLA whatever the CPU; the AMX cases assume none.
cpu_only = pytest.mark.skipif(
    bool(tf.config.list_logical_devices("GPU")), reason="a GPU is present"
)


@pytest.fixture
def cpu(monkeypatch):
    """Sets the CPU flags `compilation` sees: `cpu(flags)`."""

    def set_flags(flags):
        monkeypatch.setattr(compilation, "cpu_flags", lambda: flags)

    return set_flags


@pytest.mark.parametrize(
    "flags, dtype, expected",
    [
        (AMX, "float32", True),
        (AMX, "bfloat16", False),
        (AMX, "float16", True),
        (BF16_WITHOUT_AMX, "bfloat16", True),
        (frozenset(), "bfloat16", True),
    ],
)
@cpu_only
def test_auto_leaves_xla_only_for_bfloat16_on_amx(cpu, flags, dtype, expected):
    cpu(flags)
    assert compilation.resolve("auto", dtype) is expected


@pytest.mark.parametrize("jit_compile", [True, False])
def test_a_bool_is_kept_whatever_the_cpu(cpu, jit_compile):
    cpu(AMX)
    for dtype in ("float32", "bfloat16"):
        assert compilation.resolve(jit_compile, dtype) is jit_compile


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_anything_else_is_refused_with_what_was_received(bad):
    with pytest.raises(ValueError, match=r"True, False or \"auto\".*Received"):
        compilation.resolve(bad, "float32")


@pytest.mark.skipif(
    not os.path.exists("/proc/cpuinfo")
    or platform.machine() not in ("x86_64", "AMD64"),
    reason="reads the flags of an x86 Linux CPU",
)
def test_cpu_flags_reads_this_cpu():
    flags = compilation.cpu_flags()
    assert isinstance(flags, frozenset)
    assert "sse2" in flags  # every x86-64 CPU has it


@pytest.fixture
def bfloat16_policy():
    with vade_tf.model.vade.dtype_policy_scope("mixed_bfloat16"):
        yield


def _model():
    return vade_tf.VaDE(8, 2, latent_dim=2, hidden_dims=(8,), seed=0)


@cpu_only
def test_compile_resolves_auto_and_saves_it(cpu, bfloat16_policy, tmp_path):
    cpu(AMX)
    model = _model()
    model.compile()
    assert model.jit_compile is False
    assert model.get_compile_config()["jit_compile"] == "auto"
    x = np.random.default_rng(0).random((20, 8)).astype("float32")
    model.fit(x, epochs=1, batch_size=10, verbose=0)
    # Reloaded on a CPU without AMX, "auto" resolves there again.
    path = str(tmp_path / "m.keras")
    model.save(path)
    cpu(BF16_WITHOUT_AMX)
    assert keras.models.load_model(path).jit_compile is True


def test_compile_uses_xla_in_float32_on_amx(cpu):
    cpu(AMX)
    model = _model()
    model.compile()
    assert model.jit_compile is True
    model.compile(jit_compile=False)
    assert model.jit_compile is False


def test_numpy_bools_are_bools():
    assert compilation.resolve(np.bool_(False), "float32") is False
    assert compilation.resolve(np.bool_(True), "float32") is True
