"""Atomic file output: a file appears whole or not at all."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_output(path, overwrite=False, suffix=""):
    """Yields a temporary path beside `path`, renamed onto it on success.

    Args:
        path: str or path-like, the final file.
        overwrite: bool; when False an existing `path` raises
            `FileExistsError` before anything is written.
        suffix: str, the temporary file's suffix (some writers check it,
            for example Keras wants `.keras`).

    Yields:
        str, the temporary path to write to.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path} exists. Pass overwrite=True (--overwrite on the command "
            "line) to replace it, or choose another path."
        )
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=".tmp-" + os.path.basename(path) + "-",
        suffix=suffix,
        dir=directory,
    )
    os.close(handle)
    os.remove(temporary)  # writers such as h5py create the file themselves
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
