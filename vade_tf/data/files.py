"""Your own data files: `.npz`, `.npy`, `.h5`, `.csv` and `.h5ad`.

`read_data` reads a file whole and says which column or array became the
labels and why; `iter_csv` reads a CSV in chunks, as `read_data` would.
NumPy and the standard library only, so the command line checks a file
before TensorFlow is imported.
"""

import dataclasses
import os
import warnings

import numpy as np

from vade_tf.data import images


class DataNotFoundError(FileNotFoundError, ValueError):
    """Data files not found; both a `ValueError` and a `FileNotFoundError`."""


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
        image_shape: `(height, width[, channels])` when the file's array
            held images (rank 3 or 4,
            `vade_tf.data.images.image_shape_of_samples`), else `None`.
    """

    x: object
    y: object
    feature_names: object = None
    labels_from: str = ""
    label_hint: object = None
    image_shape: object = None


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

    Samples with more than one dimension are flattened; an array of rank 3
    `(n, height, width)` or rank 4 `(n, height, width, channels)` is taken
    as images and its shape kept as `LoadedData.image_shape`. The values
    are not rescaled. Labels are integers as they are; labels that are names
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
    image_shape = images.image_shape_of_samples(x.shape)
    hint = images.channels_first_hint(x.shape)
    if hint:
        warnings.warn(f"{path}: {hint}", stacklevel=2)
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
        image_shape=image_shape,
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
