"""What every benchmark shares: the machine, a median, a timer, results.

Standard library only: any interpreter (`--torch-python`) can import it.
"""

import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # scripts run from here, -m
RESULTS = ROOT / "benchmarks" / "results"
CPU_FLAGS = "avx2 fma avx512f avx512_bf16 avx512_vnni amx_tile amx_bf16".split()


def _run(*command):
    """A command's stdout, run in `ROOT`; "" when it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    except OSError:
        return ""
    return done.stdout if done.returncode == 0 else ""


def cpu():
    """`(model name, set of flags)` from /proc/cpuinfo, else from lscpu."""
    path = Path("/proc/cpuinfo")
    text = path.read_text() if path.exists() else _run("lscpu")
    model, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key.lower() == "model name" and model == "unknown":
            model = value
        elif key.lower() == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def _version(distribution):
    """A package's version, without importing it; None when absent."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info():
    """Date, commit, CPU, instruction sets, cores, load and versions."""
    model, flags = cpu()
    now = datetime.datetime.now(datetime.timezone.utc)
    info = {
        "date": now.isoformat(timespec="seconds"),
        "commit": _run("git", "rev-parse", "--short", "HEAD").strip() or None,
        "cpu_model": model,
        "instruction_sets": [flag for flag in CPU_FLAGS if flag in flags],
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    for module in ("numpy", "tensorflow", "keras", "vade_tf", "torch"):
        info[module] = _version(module)
    if info["torch"] is None:
        del info["torch"]
    return info


def median(values):
    """The median of a non-empty sequence of numbers, as a float."""
    return float(statistics.median(values))


def seconds(function, *args, **kwargs):
    """`(function(*args, **kwargs), the wall seconds it took)`."""
    start = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - start


def command_line():
    """This process's command, as `python -m <module> <arguments>`."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = ["-m", spec.name] if spec else [sys.argv[0]]
    return shlex.join(["python", *program, *sys.argv[1:]])


def load_runs(path):
    """`(runs, commands)` of a resumable result file, this command added."""
    runs, commands = [], []
    if os.path.exists(path):
        with open(path) as handle:
            previous = json.load(handle)
        runs, commands = previous["runs"], previous.get("commands", [])
    return runs, commands + [command_line()]


def write_result(path, payload, command=None, overwrite=True):
    """Writes `payload` with the machine and command as JSON, atomically."""
    path = os.path.abspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists; --overwrite replaces it")
    record = {**payload, "recorded": machine_info()}
    record["command"] = command or command_line()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"  # same folder: os.replace is atomic
    try:
        with open(temporary, "w", encoding="utf8") as handle:
            json.dump(record, handle, indent=1, default=lambda v: v.tolist())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path
