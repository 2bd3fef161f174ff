"""The `vade-tf` console script's entry point.

The arguments are parsed first without importing TensorFlow: `vade_tf.cli`
and the modules its parser reads (`choices`, `training.recipes`,
`data.datasets`) import only numpy, so they are loaded under a bare `vade_tf`
package object that skips `vade_tf/__init__.py`. `--help`, `--version` and usage
errors therefore answer at once; a command that runs imports the package as
usual.

TensorFlow prints its C++ and CUDA start-up lines (`cudart_stub`, `cuInit`,
`absl::InitializeLog`) while it is imported, before any code of
`vade_tf.cli` could run, because `import vade_tf` imports Keras and
TensorFlow (it has to: that import is what registers the package's classes
for `keras.models.load_model`). This module lives outside the package so it
can quiet them first: unless `--tf-logs` is given or `TF_CPP_MIN_LOG_LEVEL`
is already set, it sets `TF_CPP_MIN_LOG_LEVEL=3` and sends standard error to
`/dev/null` while the package is imported (an import error restores it and
is raised as usual), then runs `vade_tf.cli.main`.
"""

import importlib
import importlib.util
import os
import sys
import time

TF_LOGS_FLAG = "--tf-logs"
# When the command started (history.csv's `elapsed` counts from here).
STARTED = time.time()


def _import_quietly():
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import vade_tf.cli  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def without_tensorflow(module):
    """Imports one of vade_tf's TensorFlow-free modules without TensorFlow.

    `import vade_tf` imports Keras and TensorFlow (seconds, and their
    start-up log lines). The modules that need only numpy (`choices`,
    `training.recipes`, `data.datasets`, `validation`,
    `training.k_selection`, `cli`) are loaded
    here under a bare `vade_tf` package object that skips
    `vade_tf/__init__.py`, then dropped from `sys.modules`, so a later
    `import vade_tf` is the real one. The examples read their data with it
    before they start TensorFlow.

    Args:
        module: str, a module name under `vade_tf`, e.g. `"datasets"`.

    Returns:
        The module object (still usable after it is dropped).
    """
    spec = importlib.util.find_spec("vade_tf")
    sys.modules["vade_tf"] = importlib.util.module_from_spec(spec)
    try:
        return importlib.import_module(f"vade_tf.{module}")
    finally:
        for name in list(sys.modules):
            if name == "vade_tf" or name.startswith("vade_tf."):
                del sys.modules[name]


INTERRUPT_NOTICE = (
    "\nvade-tf: Ctrl-C received; stopping when the running step returns "
    "(the first steps of a run compile with XLA, which can take several "
    "seconds)\n"
)


def say_when_interrupted():
    """Prints `INTERRUPT_NOTICE` the moment Ctrl-C arrives.

    Python raises `KeyboardInterrupt` only when the main thread returns to
    the interpreter, which a long call into TensorFlow (XLA compiling the
    first steps) delays by seconds. The signal's C handler writes to a
    wakeup file descriptor at once (`signal.set_wakeup_fd`); a thread
    reading it prints the notice while the main thread is still busy.
    """
    import signal
    import threading

    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:  # not the main thread: leave the default alone
        os.close(read)
        os.close(write)
        return

    def watch():
        while True:
            received = os.read(read, 64)
            if not received:
                return
            if signal.SIGINT in received:
                os.write(2, INTERRUPT_NOTICE.encode())
                return

    threading.Thread(target=watch, daemon=True).start()


def _parse_without_tensorflow(argv):
    """Parses and checks `argv` with `vade_tf.cli`, TensorFlow not imported.

    argparse exits here for `--help`, `--version` and usage errors, and
    `cli.precheck` stops bad input (a bad `--n-clusters`, a `--data` file
    that cannot be read or holds NaN) with one line and exit status 2. The
    modules loaded under the bare package are dropped again, so the real
    import that follows starts clean.

    Returns:
        The `--data` file as `cli.precheck` read it, or `None`.
    """
    cli = without_tensorflow("cli")
    args = cli.parse_args(argv)
    try:
        return cli.precheck(args)
    except (ValueError, OSError, ImportError) as error:
        print(f"vade-tf {args.command}: error: {error}", file=sys.stderr)
        raise SystemExit(cli.EXIT_ERROR) from None


def main():
    """Runs `vade-tf`; returns its exit status."""
    argv = sys.argv[1:]
    tf_logs = TF_LOGS_FLAG in argv
    argv = [arg for arg in argv if arg != TF_LOGS_FLAG]
    preloaded = _parse_without_tensorflow(argv)
    say_when_interrupted()
    if not tf_logs and "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        _import_quietly()
    from vade_tf import cli

    return cli.main(argv, preloaded=preloaded, started=STARTED)


if __name__ == "__main__":
    sys.exit(main())
