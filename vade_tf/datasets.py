"""Data sets: the embedded digits, MNIST and Fashion-MNIST, and user files.

Every loader returns `(x, y)`: x float32 of shape `(n_samples, n_features)`
and y int64 of shape `(n_samples,)` (or `None` when a file has no labels).
Images are flattened and scaled to [0, 1].
"""

import dataclasses
import gzip
import math
import os
import random
import warnings
import zlib

import numpy as np

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


class DataNotFoundError(FileNotFoundError, ValueError):
    """Data files not found; both a `ValueError` and a `FileNotFoundError`."""


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
            "for your own data use vade_tf.datasets.load_array(path)."
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


@dataclasses.dataclass
class LoadedData:
    """A user's data file as `read_data` found it.

    Attributes:
        x: float32 array of shape `(n_samples, n_features)`.
        y: int64 array of shape `(n_samples,)`, or `None`.
        feature_names: list of str (a CSV header's names, the label column
            left out), or `None`.
        labels_from: str saying which column or array became `y` and why,
            or why none did.
        label_hint: str or `None`: a column that looks like labels but was
            kept as a feature (few distinct whole numbers or names), with
            how to use it as labels.
    """

    x: object
    y: object
    feature_names: object = None
    labels_from: str = ""
    label_hint: object = None


def load_array(path, label_column=None):
    """Loads a user's own data file as `(x, y)`; see `read_data`.

    Args:
        path: str.
        label_column: see `read_data`.

    Returns:
        Tuple `(x, y)`: float32 array `(n_samples, n_features)` and int64
        array `(n_samples,)` or `None`.
    """
    data = read_data(path, label_column)
    return data.x, data.y


def read_data(path, label_column=None):
    """Loads a user's own data from `.npz`, `.npy`, `.h5`/`.hdf5`, `.csv`
    or `.h5ad`.

    - `.npz`: arrays `x` (or `X`, `data`) and optionally `y` (or `labels`,
      or the array named by `label_column`); a file with one array is
      taken as x.
    - `.npy`: one array, x (no labels).
    - `.h5` / `.hdf5`: datasets `x` and optionally `y`, as for `.npz`.
    - `.csv`: numbers with an optional header row, separated by commas,
      semicolons or tabs (a UTF-8 byte-order mark is allowed); the column
      named by `label_column` (an int index or a header name; by default a
      header column called `y`, `label` or `class`) becomes y.
    - `.h5ad` (AnnData, single-cell data; needs the `anndata` package, the
      extra `vade-tf[singlecell]`): `X` (sparse allowed, made dense) is x;
      the `obs` column named by `label_column`, if given, becomes y.

    Samples with more than one dimension are flattened. The values are not
    rescaled. Labels are integers as they are; labels that are names
    (strings) are numbered in sorted order; missing (NaN) or fractional
    labels are an error.

    Args:
        path: str.
        label_column: int, str or `None`: the label column of a `.csv`, the
            label array of a `.npz` / `.h5`, or the `obs` column of an
            `.h5ad`.

    Returns:
        A `LoadedData`: x, y, the feature names and which column became
        the labels.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataNotFoundError(
            f"No data file at {os.path.abspath(path)}. Expected a .npz, "
            ".npy, .h5, .csv or .h5ad file."
        )
    extension = os.path.splitext(path)[1].lower()
    if extension == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = dict(archive)
        except ValueError as error:  # object arrays need pickle
            raise ValueError(
                f"{path}: cannot read its arrays without pickle ({error}). "
                "Save numbers (and labels as numbers or strings), not "
                "Python objects."
            ) from None
        x, y, labels_from = _pick_arrays(arrays, path, label_column)
    elif extension == ".npy":
        if label_column is not None:
            raise ValueError(
                f"{path}: a .npy file holds x only, so it has no labels "
                f"{label_column!r}. Use a .npz file with arrays x and y."
            )
        try:
            x, y = np.load(path, allow_pickle=False), None
        except ValueError:
            raise ValueError(
                f"{path} is not a NumPy array file of numbers (.npy written "
                "by numpy.save): NumPy could read no numeric array from it. "
                "Save the data with numpy.save, or as .csv or .npz."
            ) from None
    elif extension in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as handle:
            arrays = {
                key: np.asarray(handle[key])
                for key in handle
                if isinstance(handle[key], h5py.Dataset)
            }
        x, y, labels_from = _pick_arrays(arrays, path, label_column)
    elif extension == ".csv":
        x, y, feature_names, labels_from, label_hint = _read_csv(
            path, label_column
        )
    elif extension == ".h5ad":
        x, y = _read_h5ad(path, label_column)
        labels_from = (
            "no labels (name an obs column with label_column / --label-key)"
            if y is None
            else f"the obs column {label_column!r} (label_column)"
        )
    else:
        raise ValueError(
            f"Unsupported data file {path!r}: expected a .npz, .npy, .h5, "
            ".hdf5, .csv or .h5ad file."
        )
    if extension == ".npy":
        labels_from = "no labels (a .npy file holds x only)"
    if extension != ".csv":
        feature_names, label_hint = None, None
    x = np.asarray(x)
    if x.ndim > 2:
        x = x.reshape(len(x), -1)
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(x):
            raise ValueError(
                f"{path}: x has {len(x)} samples but y has {len(y)} labels."
            )
        y = _integer_labels(y, path)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(
            f"{path}: x must be a numeric array. Received dtype {x.dtype} "
            f"(for example {x.flat[0]!r})."
        )
    return LoadedData(
        x=x.astype("float32"),
        y=y,
        feature_names=feature_names,
        labels_from=labels_from,
        label_hint=label_hint,
    )


def _integer_labels(y, path):
    """Labels as int64: integers kept, names (strings) numbered in sorted
    order; missing or fractional values are an error naming the file."""
    if y.dtype.kind in "USO":
        names = np.char.strip(y.astype(str))
        missing = np.isin(np.char.lower(names), MISSING_LABELS)
        if missing.any():
            raise ValueError(
                f"{path}: {int(missing.sum())} labels are missing (first "
                f"at sample {int(np.argmax(missing))}). Fill or drop those "
                "samples first."
            )
        return np.unique(names, return_inverse=True)[1].astype("int64")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            bad = ~np.isfinite(y)
            raise ValueError(
                f"{path}: {int(bad.sum())} labels are NaN or inf (first at "
                f"sample {int(np.argmax(bad))}). Fill or drop those samples "
                "first."
            )
        if not np.all(y == np.round(y)):
            first = int(np.argmax(y != np.round(y)))
            raise ValueError(
                f"{path}: labels must be whole numbers or names. Received "
                f"{y[first]!r} at sample {first}."
            )
    return y.astype("int64")


def _pick_arrays(arrays, path, label_column=None):
    if label_column is not None:
        if label_column not in arrays:
            raise ValueError(
                f"{path} has no array {label_column!r} for the labels; its "
                f"arrays are {sorted(arrays)}."
            )
        rest = {k: v for k, v in arrays.items() if k != label_column}
        x, _, _ = _pick_arrays(rest, path)
        return (
            x,
            arrays[label_column],
            f"the array {label_column!r} (label_column)",
        )
    x_key = next((k for k in ("x", "X", "data") if k in arrays), None)
    if x_key is None:
        if len(arrays) != 1:
            raise ValueError(
                f"{path} holds arrays {sorted(arrays)}; expected one named "
                "'x' (and optionally 'y')."
            )
        x_key = next(iter(arrays))
    y_key = next((k for k in LABEL_ARRAYS if k in arrays), None)
    if y_key:
        return arrays[x_key], arrays[y_key], f"the array {y_key!r}"
    return (
        arrays[x_key],
        None,
        f"no labels (no array named {', '.join(LABEL_ARRAYS)})",
    )


def _read_h5ad(path, label_column):
    try:
        import anndata
    except ImportError:
        raise ImportError(
            f"Reading {path} needs the anndata package: pip install "
            "'vade-tf[singlecell]' (or pip install anndata)."
        ) from None
    from scipy import sparse

    data = anndata.read_h5ad(path)
    x = data.X
    if x is None:
        raise ValueError(f"{path} has no X matrix.")
    x = x.toarray() if sparse.issparse(x) else np.asarray(x)
    if label_column is None:
        return x, None
    if label_column not in data.obs.columns:
        raise ValueError(
            f"{path} has no obs column {label_column!r}; its obs columns "
            f"are {list(data.obs.columns)}."
        )
    labels = data.obs[label_column].to_numpy()
    missing = [value != value or value is None for value in labels]
    if any(missing):
        raise ValueError(
            f"{path}: obs column {label_column!r} has {sum(missing)} missing "
            "labels. Fill or drop those cells first."
        )
    _, y = np.unique(labels.astype(str), return_inverse=True)
    return x, y


# The arrays of a .npz / .h5 file and the CSV header names taken as labels
# when no label column is named.
LABEL_ARRAYS = ("y", "Y", "labels")
LABEL_COLUMNS = ("y", "label", "class")
# A CSV column kept as a feature is pointed out as possible labels when it
# holds at most this many distinct whole numbers or names.
LABEL_HINT_MAX_VALUES = 20
# Label cells that mean "no label" (compared in lower case).
MISSING_LABELS = ("", "nan", "na", "n/a", "null", "none")


def _csv_layout(path, label_column):
    """How a CSV file is laid out: its separator, header and label column.

    Returns:
        Tuple `(delimiter, header or None, label column index or None,
        feature column indices, width, whether label_column was given)`.
    """
    import csv

    # utf-8-sig: spreadsheet programs start a "CSV UTF-8" file with a
    # byte-order mark, which would otherwise stick to the first header name.
    with open(path, newline="", encoding="utf-8-sig") as handle:
        head = [line for line in (handle.readline() for _ in range(5)) if line]
    lines = [line for line in head if line.strip()]
    if not lines:
        raise ValueError(f"{path} is empty: expected rows of numbers.")
    try:
        # The separator from whole lines, however long a row is.
        delimiter = csv.Sniffer().sniff("".join(lines), ",;\t").delimiter
    except csv.Error:
        delimiter = ","
    first = next(csv.reader([lines[0]], delimiter=delimiter))
    first = [cell.strip() for cell in first]
    try:
        [float(value) for value in first]
        header = None
    except ValueError:
        header = [value.strip('"') for value in first]
    width = len(first)
    given = label_column is not None
    if label_column is None and header is not None:
        label_column = next((n for n in LABEL_COLUMNS if n in header), None)
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            raise ValueError(
                f"{path} has no column named {label_column!r}; its header "
                f"is {header}."
            )
        label_column = header.index(label_column)
    if label_column is not None and not -width <= label_column < width:
        raise ValueError(
            f"{path} has {width} columns; label_column={label_column} is "
            "not one of them."
        )
    if label_column is not None:
        label_column %= width
        if width == 1:
            raise ValueError(
                f"{path} has only the label column: no features to cluster."
            )
    features = [c for c in range(width) if c != label_column]
    return delimiter, header, label_column, features, width, given


def _read_csv(path, label_column):
    delimiter, header, label_column, features, width, given = _csv_layout(
        path, label_column
    )
    skip = 0 if header is None else 1
    try:
        with warnings.catch_warnings():
            # A header without rows: reported below, not as numpy's warning.
            warnings.filterwarnings("ignore", "loadtxt: input contained no")
            x = np.loadtxt(
                path,
                delimiter=delimiter,
                skiprows=skip,
                usecols=features,
                ndmin=2,
                encoding="utf-8-sig",
            )
            y = None
            if label_column is not None:
                y = np.loadtxt(
                    path,
                    delimiter=delimiter,
                    skiprows=skip,
                    usecols=[label_column],
                    dtype=str,
                    ndmin=1,
                    encoding="utf-8-sig",
                )
    except ValueError as error:
        _explain_csv(path, delimiter, skip, header, features, width)
        raise ValueError(f"{path}: {error}") from None
    if len(x) == 0:
        raise ValueError(
            f"{path} has a header ({', '.join(header or [])}) but no data rows."
        )
    bad = ~np.isfinite(x)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        name = header[features[column]] if header else None
        raise ValueError(
            f"{path}: {int(bad.sum())} values are missing, NaN or inf; the "
            f"first on line {_file_line(path, row, skip)}, column "
            f"{features[column] + 1}"
            + (f" ({name!r})" if name else "")
            + f": {x[row, column]}. Remove or impute them first."
        )
    if y is not None:
        y = np.char.strip(y.astype(str))
        try:
            y = y.astype("float64")  # numeric labels; names stay strings
        except ValueError:
            pass
    names = [f"column {c + 1}" for c in features]
    if header is not None:
        names = [header[c] for c in features]
    if label_column is None:
        labels_from = (
            "no labels (no column named "
            f"{', '.join(LABEL_COLUMNS)}; --label-key names one)"
        )
    else:
        name = header[label_column] if header else f"column {label_column + 1}"
        labels_from = f"the column {name!r}" + (
            " (label_column / --label-key)"
            if given
            else f" (a header named {' or '.join(LABEL_COLUMNS)})"
        )
    hint = None
    if label_column is None:
        hint = _label_hint(x, names)
    return x, y, (names if header is not None else None), labels_from, hint


def _label_hint(x, names):
    """A note on the last column that looks like labels (few distinct whole
    numbers), or `None`."""
    for column in range(x.shape[1] - 1, -1, -1):
        values = x[:, column]
        if not np.all(np.isfinite(values)) or not np.all(
            values == np.round(values)
        ):
            continue
        distinct = len(np.unique(values))
        if 2 <= distinct <= min(LABEL_HINT_MAX_VALUES, len(values) // 5):
            return (
                f"the column {names[column]!r} holds only {distinct} "
                "distinct whole numbers and is used as a feature; if it "
                f"holds labels, pass --label-key {names[column]!r} "
                "(label_column)"
            )
    return None


def iter_csv(path, label_column=None, chunk_rows=8192):
    """The feature rows of a CSV file in chunks, as `read_data` reads it.

    Args:
        path: str, a `.csv` file.
        label_column: see `read_data`; that column is left out.
        chunk_rows: int, rows per chunk.

    Yields:
        float32 arrays of shape `(rows, n_features)`.
    """
    import csv

    delimiter, header, _, features, width, _ = _csv_layout(path, label_column)
    skip = 0 if header is None else 1
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter=delimiter)):
            if number < skip or not any(cell.strip() for cell in row):
                continue
            try:
                if len(row) != width:
                    raise ValueError
                rows.append([float(row[column]) for column in features])
            except ValueError:
                _explain_csv(path, delimiter, skip, header, features, width)
                raise
            if len(rows) == chunk_rows:
                yield np.asarray(rows, dtype="float32")
                rows = []
    if rows:
        yield np.asarray(rows, dtype="float32")


def _file_line(path, row, skip):
    """The line of `path` (counted from 1) that holds data row `row`
    (counted from 0), blank lines included."""
    seen = -1
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if number <= skip or not line.strip():
                continue
            seen += 1
            if seen == row:
                return number
    return row + skip + 1


def _explain_csv(path, delimiter, skip, header, features, width):
    """Raises a `ValueError` naming the first row of `path` that cannot be
    read as numbers (a ragged row or a non-numeric cell); returns if none
    is found."""
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle, delimiter=delimiter)
        for number, row in enumerate(rows):
            if number < skip or not any(cell.strip() for cell in row):
                continue
            line = number + 1  # the file's line, counted from 1
            if len(row) != width:
                raise ValueError(
                    f"{path}: line {line} has {len(row)} values, expected "
                    f"{width} (every row as wide as the first)."
                )
            for column in features:
                try:
                    float(row[column])
                except ValueError:
                    name = f" ({header[column]!r})" if header else ""
                    raise ValueError(
                        f"{path}: the value {row[column].strip()!r} on line "
                        f"{line}, column {column + 1}{name} is not a number "
                        "(a missing value?). Every column but the labels "
                        "must be numeric: remove or impute it first."
                    ) from None


def batch_order_seed(seed):
    """The seed of `epoch_batches` for a model seeded with `seed`.

    `seed` itself when given; otherwise a fresh one from Python's global
    generator, as Keras draws its own default seeds (so
    `keras.utils.set_random_seed` makes an unseeded run repeatable).

    Args:
        seed: int or `None`.

    Returns:
        int.
    """
    return random.randrange(2**31 - 1) if seed is None else int(seed)


def epoch_batches(x, batch_size, seed, initial_epoch=0, epochs=1):
    """The training batches of epochs `initial_epoch` to `epochs - 1`.

    Epoch e visits every row of `x` once, in the order of a stateless
    shuffle seeded by `(seed, e)`: the order depends on the epoch's number
    only, so a resumed run sees the batches the uninterrupted run would
    have (Keras's own shuffling draws from a generator whose state a new
    process does not have). The last batch of an epoch may be short.

    Args:
        x: float32 array of shape `(n_samples, input_dim)`.
        batch_size: int >= 1.
        seed: int.
        initial_epoch: int >= 0.
        epochs: int > `initial_epoch`.

    Returns:
        A `tf.data.Dataset` of `(batch, input_dim)` float32 tensors,
        `ceil(n_samples / batch_size)` per epoch.
    """
    import tensorflow as tf

    indices = tf.data.Dataset.range(initial_epoch, epochs).flat_map(
        lambda epoch: _epoch_indices(len(x), batch_size, seed, epoch)
    )
    return _gathered(x, indices)


def shuffled_epochs(x, batch_size, seed, initial_epoch=0):
    """One epoch of `epoch_batches` per pass, and the callback that picks it.

    Each pass over the dataset is one epoch, `ceil(n_samples / batch_size)`
    batches in the order `epoch_batches` gives that epoch. The epoch is read
    when a pass starts, from a variable the returned callback sets in
    `on_epoch_begin`, so Keras's own epoch number decides the order (a run
    resumed by `initial_epoch` or `keras.callbacks.BackupAndRestore` sees
    the batches of the uninterrupted run). Because a pass ends with its
    epoch, `steps_per_execution` never carries a step over into the next
    epoch. Pass both to `fit`: `fit(dataset, callbacks=[callback, ...])`.

    Args:
        x: float32 array of shape `(n_samples, input_dim)`.
        batch_size: int >= 1.
        seed: int.
        initial_epoch: int >= 0, the epoch of a pass made before the
            callback has set one.

    Returns:
        Tuple `(dataset, callback)`: a `tf.data.Dataset` of
        `(batch, input_dim)` float32 tensors with a known number of batches,
        and a `vade_tf.callbacks.DatasetEpoch`.
    """
    import tensorflow as tf

    from vade_tf.callbacks import DatasetEpoch

    epoch = tf.Variable(
        initial_epoch, dtype=tf.int64, trainable=False, name="dataset_epoch"
    )
    # One pass: the batches of the epoch the variable holds when it starts.
    indices = tf.data.Dataset.range(1).flat_map(
        lambda _: _epoch_indices(len(x), batch_size, seed, epoch.read_value())
    )
    dataset = _gathered(x, indices).apply(
        tf.data.experimental.assert_cardinality(math.ceil(len(x) / batch_size))
    )
    return dataset, DatasetEpoch(epoch)


def epoch_permutation(n, seed, epoch):
    """The order of epoch `epoch`'s rows: a stateless shuffle of `range(n)`.

    Args:
        n: int, the number of rows.
        seed: int.
        epoch: int or int64 scalar tensor.

    Returns:
        int64 tensor of shape `(n,)`, a permutation of `range(n)`.
    """
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        tf.range(n, dtype=tf.int64),
        seed=tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]),
    )


def _epoch_indices(n, batch_size, seed, epoch):
    """The batches of row indices of epoch `epoch`, a `tf.data.Dataset`."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(
        epoch_permutation(n, seed, epoch)
    ).batch(batch_size)


def _gathered(x, indices):
    """The rows of `x` at each batch of `indices`, gathered when asked for.

    The gather (a copy of one batch's rows) runs in the thread that asks
    for the batch: no prefetch, and tf.data's autotuning off, so that it
    injects none. With an autotuned prefetch, whole epochs ran at half to
    two thirds of the speed on a 2-core machine, the cores idle meanwhile
    (docs/performance.md, "The training input").
    """
    import tensorflow as tf

    rows = tf.data.Dataset.from_tensors(x).repeat()
    dataset = tf.data.Dataset.zip(rows, indices).map(
        lambda data, index: tf.gather(data, index)
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    return dataset.with_options(options)


def make_count_clusters(
    n_samples=3000,
    n_features=500,
    n_clusters=5,
    de_fraction=0.1,
    de_scale=0.6,
    library_mean=1000.0,
    library_spread=0.5,
    dropout=True,
    random_state=None,
    return_parameters=False,
):
    """Counts from a known mixture of zero-inflated negative binomials.

    A simulated single-cell RNA-seq experiment, in the spirit of Splatter
    (Zappia et al., Genome Biology 2017):

    - each feature (gene) g has a base log expression `b_g ~ N(0, 1)` and
      a size (inverse dispersion) `r_g ~ LogNormal(log 2, 0.5)`;
    - each cluster changes a random `de_fraction` of the genes by a log
      fold change `~ N(0, de_scale)`, and the cluster's expression profile
      is the softmax of the changed log expressions;
    - each sample's library size is `LogNormal(log library_mean,
      library_spread)`, its cluster uniform, and its mean count per gene
      the library size times the profile;
    - counts are NB(mean, r_g), and with `dropout` each is zeroed with
      probability `sigmoid(-1 - log mean)` (more dropout for low means).

    With the defaults about half the counts are 0 and the clusters are
    hard but not hopeless; `benchmarks/count_clusters.py` measures how
    well the true parameters, k-means and VaDE separate them
    (docs/results.md, "Count data").

    Args:
        n_samples: int, the number of samples.
        n_features: int, the number of genes.
        n_clusters: int >= 2.
        de_fraction: float in (0, 1], the share of genes each cluster
            changes.
        de_scale: float > 0, the spread of the log fold changes.
        library_mean: float > 0, the typical library size.
        library_spread: float >= 0, the std of the log library size.
        dropout: bool, zero-inflate the counts.
        random_state: int or `None`.
        return_parameters: bool, also return the true parameters.

    Returns:
        Tuple `(x, y)`: float32 counts `(n_samples, n_features)` and int64
        cluster labels `(n_samples,)`; with `return_parameters`, a third
        item, a dict with `profile` `(n_clusters, n_features)`, `size`
        `(n_features,)` and `library` `(n_samples,)`.
    """
    rng = np.random.default_rng(random_state)
    base = rng.normal(size=n_features)
    size = np.exp(rng.normal(np.log(2.0), 0.5, size=n_features))
    log_profile = np.tile(base, (n_clusters, 1))
    for cluster in range(n_clusters):
        changed = rng.random(n_features) < de_fraction
        log_profile[cluster, changed] += rng.normal(
            0.0, de_scale, size=int(changed.sum())
        )
    profile = np.exp(log_profile - log_profile.max(axis=1, keepdims=True))
    profile /= profile.sum(axis=1, keepdims=True)
    y = rng.integers(n_clusters, size=n_samples)
    library = np.exp(
        rng.normal(np.log(library_mean), library_spread, size=n_samples)
    )
    mean = library[:, None] * profile[y]
    # NB(mean, r) as a gamma-Poisson mixture.
    x = rng.poisson(rng.gamma(size, mean / size)).astype("float64")
    if dropout:
        keep = rng.random(x.shape) >= 1.0 / (1.0 + np.exp(1.0 + np.log(mean)))
        x *= keep
    if return_parameters:
        parameters = {"profile": profile, "size": size, "library": library}
        return x.astype("float32"), y.astype("int64"), parameters
    return x.astype("float32"), y.astype("int64")
