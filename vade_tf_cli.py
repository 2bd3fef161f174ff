"""The `vade-tf` console script's entry point.

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

import os
import sys

TF_LOGS_FLAG = "--tf-logs"


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


def main():
    """Runs `vade-tf`; returns its exit status."""
    argv = sys.argv[1:]
    if TF_LOGS_FLAG in argv:
        argv = [arg for arg in argv if arg != TF_LOGS_FLAG]
    elif "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        _import_quietly()
    from vade_tf import cli

    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
