"""Named data sets: the embedded 8x8 digits, MNIST and Fashion-MNIST.

`load_dataset` returns `(x, y)`: x float32 of shape `(n_samples,
n_features)`, images flattened and scaled to [0, 1], and y int64 of shape
`(n_samples,)`. The IDX files are looked for in known folders and read with
NumPy alone. Your own files: `vade_tf.data.files` (`load_array` and `read_data`
are importable from here too); the batch order: `vade_tf.training.batches`.
"""

import gzip
import math
import os
import zlib

import numpy as np

# Your own files (`vade_tf.data.files`) and synthetic clusters
# (`vade_tf.data.synthetic`), importable from here too, as the guide shows them.
from vade_tf.data.files import (  # noqa: F401
    DataNotFoundError,
    load_array,
    read_data,
)
from vade_tf.data.synthetic import make_count_clusters  # noqa: F401

DATASETS = ("digits", "mnist", "fashion_mnist")
SPLITS = ("all", "train", "test")
# The named data sets large enough for augmented pretraining (the command
# line's default recipe for them is "augment"), with their image shapes.
IMAGE_SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28)}

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_DEBIAN_DIRS = {
    "mnist": "/usr/share/datasets/mnist",
    "fashion_mnist": "/usr/share/datasets/fashion-mnist",
}
_HOW_TO_GET = {
    "mnist": (
        "Put the four IDX .gz files (train-images-idx3-ubyte.gz, ...) in a "
        "folder and pass data_dir= (--data-dir) or set VADE_TF_DATA."
    ),
    "fashion_mnist": (
        "On Debian/Ubuntu: apt-get install dataset-fashion-mnist; or put the "
        "four IDX .gz files in a folder and pass data_dir= (--data-dir) or "
        "set VADE_TF_DATA."
    ),
}


def normalize_name(name):
    """A data set's name in the spelling of `DATASETS` ("MNIST" -> "mnist",
    "fashion-mnist" -> "fashion_mnist")."""
    return str(name).strip().lower().replace("-", "_")


def infer_image_shape(n_features):
    """`(side, side)` when `n_features` is a square (images), else `None`."""
    side = int(round(math.sqrt(n_features)))
    return (side, side) if side * side == n_features else None


def load_dataset(name, data_dir=None, split="all"):
    """Loads a named data set, flattened and scaled to [0, 1].

    MNIST and Fashion-MNIST are read from the standard IDX .gz files found
    in, in order: `data_dir`; `$VADE_TF_DATA` (the folder itself or its
    `<name>/` subfolder); `~/.keras/datasets/<name>/`; Debian's
    `/usr/share/datasets/...`; and last, when no `data_dir` is given,
    Keras's own download (which needs a network connection). With a
    `data_dir`, nothing is downloaded: when no folder holds the files, it is
    an error that names them all.
    `digits` is scikit-learn's embedded 8x8 digits (1,797 samples, 64
    features, values /16).

    Args:
        name: one of `"digits"`, `"mnist"`, `"fashion_mnist"`.
        data_dir: str or `None`, a folder holding the IDX files.
        split: `"all"` (train and test together, 70,000 images, as in the
            VaDE paper), `"train"` or `"test"`. Ignored for digits.

    Returns:
        Tuple `(x, y)`: float32 array `(n_samples, n_features)` in [0, 1]
        and int64 array `(n_samples,)`.
    """
    name = normalize_name(name)
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset {name!r}. Known datasets: {list(DATASETS)}; "
            "for your own data use vade_tf.data.files.load_array(path)."
        )
    if split not in SPLITS:
        raise ValueError(
            f"split must be one of {list(SPLITS)}. Received: split={split!r}"
        )
    if name == "digits":
        from sklearn import datasets

        digits = datasets.load_digits()
        return (digits.data / 16.0).astype("float32"), digits.target.astype(
            "int64"
        )
    splits = ("train", "test") if split == "all" else (split,)
    folder = find_idx_folder(name, data_dir)
    if folder is None and data_dir is not None:
        raise _not_found(
            name,
            data_dir,
            f"data_dir={os.fspath(data_dir)!r} was given, so nothing was "
            "downloaded.",
        )
    if folder is None:
        parts = [_keras_download(name, s) for s in splits]
    else:
        parts = [_read_idx_split(folder, s) for s in splits]
    x = np.concatenate([p[0] for p in parts], axis=0)
    y = np.concatenate([p[1] for p in parts], axis=0)
    x = x.reshape(len(x), -1).astype("float32") / 255.0
    return x, y.astype("int64")


def candidate_folders(name, data_dir=None):
    """The folders `load_dataset` searches for `name`'s IDX files, in order."""
    folders = []
    if data_dir is not None:
        data_dir = os.fspath(data_dir)
        folders += [data_dir, os.path.join(data_dir, name)]
    env = os.environ.get("VADE_TF_DATA")
    if env:
        folders += [env, os.path.join(env, name)]
    folders.append(
        os.path.join(os.path.expanduser("~"), ".keras", "datasets", name)
    )
    folders.append(_DEBIAN_DIRS[name])
    return folders


def find_idx_folder(name, data_dir=None):
    """The first candidate folder holding all four IDX files, or `None`."""
    needed = [f for pair in _IDX_FILES.values() for f in pair]
    for folder in candidate_folders(name, data_dir):
        if all(os.path.isfile(os.path.join(folder, f)) for f in needed):
            return folder
    return None


def read_idx(path):
    """Reads one IDX file (gzip or plain) into a numpy array.

    Args:
        path: str, for example `train-images-idx3-ubyte.gz`.

    Returns:
        uint8 numpy array, shape from the file's header.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(
            f"{path} is truncated or not an IDX .gz file ({error}). "
            "Download it again."
        ) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(
            f"{path} is not an unsigned-byte IDX file (bad magic number "
            f"{data[:4].hex()}; expected 0000080N)."
        )
    n_dims = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big")
        for i in range(n_dims)
    )
    offset = 4 + 4 * n_dims
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: header shape {shape} needs "
            f"{expected} bytes, the file has {len(data) - offset}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def _read_idx_split(folder, split):
    images, labels = _IDX_FILES[split]
    x = read_idx(os.path.join(folder, images))
    y = read_idx(os.path.join(folder, labels))
    if len(x) != len(y):
        raise ValueError(
            f"{folder}: {images} has {len(x)} images but {labels} has "
            f"{len(y)} labels."
        )
    return x, y


def _not_found(name, data_dir, reason):
    """The `DataNotFoundError` for `name`'s IDX files: the files needed,
    every folder searched, `reason`, and how to get the files."""
    needed = ", ".join(f for pair in _IDX_FILES.values() for f in pair)
    looked = "\n  ".join(candidate_folders(name, data_dir))
    return DataNotFoundError(
        f"Could not find the {name} IDX files ({needed}). Looked in:\n  "
        f"{looked}\n{reason} {_HOW_TO_GET[name]}"
    )


def _keras_download(name, split):
    import keras

    module = getattr(keras.datasets, name)
    try:
        train, test = module.load_data()
    except Exception as error:  # no network, or the mirror is down
        raise _not_found(
            name,
            None,
            f"Keras's download failed ({type(error).__name__}: {error}).",
        ) from None
    return train if split == "train" else test
