"""Cluster assignments as a file: one row per input row, in input order.

The output of clustering is the cluster of each row. `write_assignments`
writes q(c|x) as the cluster (its argmax), its probability and, when asked,
every cluster's probability, to `.csv`, `.npz` or `.npy` by the extension;
`predict_file` does it for a data file of any size: rows are read in chunks
(`iter_chunks`: CSV rows by the `csv` reader, `.npy` through a memory map,
`.h5` datasets by slices), clustered and written as they come, so memory
holds one chunk, not the file. `vade-tf train` writes the training rows'
`clusters.csv` in its run folder; `vade-tf predict` runs `predict_file`.

Columns (CSV) or arrays (`.npz`): `cluster` (int), `probability` (the
largest q(c|x)), and with `proba=True` `p_0 ... p_{K-1}` (CSV) or `proba`
of shape `(n_samples, K)` (`.npz`). A `.npy` file holds the clusters only.
"""

import csv
import os

import numpy as np

from vade_tf import fileio
from vade_tf.data import datasets, files

# The extensions `write_assignments` and `predict_file` write.
OUTPUT_FORMATS = (".csv", ".npz", ".npy")
# Rows read, clustered and written at a time.
CHUNK_ROWS = 8192


def check_output_path(path, proba=False, overwrite=False):
    """Checks an assignments path before any work: format and overwrite.

    Args:
        path: str, ending in one of `OUTPUT_FORMATS`.
        proba: bool, every cluster's probability asked for.
        overwrite: bool, an existing file may be replaced.

    Returns:
        str, the extension (lower case).
    """
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension not in OUTPUT_FORMATS:
        raise ValueError(
            "The assignments file must end in .csv, .npz or .npy. "
            f"Received: {path!r}"
        )
    if extension == ".npy" and proba:
        raise ValueError(
            f"{path}: a .npy file holds one array (the clusters); write the "
            "probabilities of every cluster to .csv or .npz."
        )
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path} exists. Pass --overwrite (overwrite=True) to replace "
            "it, or choose another path."
        )
    return extension


def _csv_rows(probabilities, proba):
    clusters = np.argmax(probabilities, axis=1)
    best = probabilities[np.arange(len(probabilities)), clusters]
    for row, (cluster, probability) in enumerate(zip(clusters, best)):
        cells = [int(cluster), f"{probability:.6g}"]
        if proba:
            cells += [f"{p:.6g}" for p in probabilities[row]]
        yield cells


def _header(n_clusters, proba):
    header = ["cluster", "probability"]
    if proba:
        header += [f"p_{c}" for c in range(n_clusters)]
    return header


def write_assignments(path, probabilities, proba=False, overwrite=False):
    """Writes the clusters of q(c|x), atomically.

    Args:
        path: str ending in `.csv`, `.npz` or `.npy`.
        probabilities: array of shape `(n_samples, n_clusters)`, q(c|x).
        proba: bool, also write every cluster's probability.
        overwrite: bool, replace an existing file.

    Returns:
        `path`.
    """
    return _write(path, [np.asarray(probabilities)], proba, overwrite)


def _write(path, chunks, proba, overwrite):
    """Writes an iterable of q(c|x) chunks; CSV rows go out as they come."""
    extension = check_output_path(path, proba, overwrite)
    with fileio.atomic_output(path, overwrite=overwrite) as tmp:
        if extension == ".csv":
            with open(tmp, "w", newline="", encoding="utf8") as handle:
                writer = csv.writer(handle)
                wrote_header = False
                for probabilities in chunks:
                    if not wrote_header:
                        writer.writerow(_header(probabilities.shape[1], proba))
                        wrote_header = True
                    writer.writerows(_csv_rows(probabilities, proba))
            return path
        parts = list(chunks)
        probabilities = np.concatenate(parts, axis=0)
        clusters = np.argmax(probabilities, axis=1).astype("int64")
        with open(tmp, "wb") as handle:
            if extension == ".npy":
                np.save(handle, clusters)
            else:
                arrays = {
                    "cluster": clusters,
                    "probability": probabilities[
                        np.arange(len(clusters)), clusters
                    ],
                }
                if proba:
                    arrays["proba"] = probabilities
                np.savez(handle, **arrays)
    return path


def read_clusters(path):
    """The clusters of an assignments file, or of a run folder's
    `clusters.csv`.

    Args:
        path: a file `write_assignments` wrote (`.csv` with a `cluster`
            column, `.npz` with a `cluster` array, or `.npy`), or a
            `vade-tf train` run folder.

    Returns:
        int64 array of shape `(n_samples,)`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "clusters.csv")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{os.path.dirname(path)} has no clusters.csv: expected the "
                "folder of a finished `vade-tf train` run, or an "
                "assignments file (.csv, .npz, .npy)."
            )
    extension = os.path.splitext(path)[1].lower()
    if extension not in OUTPUT_FORMATS:
        raise ValueError(
            "An assignments file ends in .csv, .npz or .npy. Received: "
            f"{path!r}"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No assignments file at {path}.")
    if extension == ".csv":
        return _read_cluster_column(path)
    if extension == ".npy":
        clusters = np.load(path, allow_pickle=False)
    else:
        with np.load(path, allow_pickle=False) as archive:
            if "cluster" not in archive.files:
                raise ValueError(
                    f"{path} has no 'cluster' array. Received the arrays "
                    f"{sorted(archive.files)}."
                )
            clusters = archive["cluster"]
    if clusters.ndim != 1 or not np.issubdtype(clusters.dtype, np.integer):
        raise ValueError(
            f"{path}: the clusters must be a 1-D array of ints. Received "
            f"shape {clusters.shape}, dtype {clusters.dtype}."
        )
    return clusters.astype("int64")


def _read_cluster_column(path):
    """The `cluster` column of an assignments CSV, checked row by row."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        header = next(rows, [])
        if "cluster" not in header:
            raise ValueError(
                f"{path} has no 'cluster' column. Received the columns "
                f"{header}."
            )
        column = header.index("cluster")
        clusters = []
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            try:
                clusters.append(int(row[column]))
            except (IndexError, ValueError):
                cell = row[column] if column < len(row) else "nothing"
                raise ValueError(
                    f"{path}, line {line}: the cluster must be an int. "
                    f"Received {cell!r}."
                ) from None
    return np.array(clusters, "int64")


def iter_chunks(path, label_column=None, chunk_rows=CHUNK_ROWS):
    """The feature rows of a data file in chunks, in file order.

    The file is read as `vade_tf.data.files.read_data` reads it (the same
    label column is left out), but in chunks: `.csv` files row by row,
    `.npy` files through a memory map, `.h5` datasets by slices; `.npz` and
    `.h5ad` files are read whole.

    Args:
        path: str, a data file.
        label_column: see `vade_tf.data.files.read_data`.
        chunk_rows: int, rows per chunk.

    Yields:
        float32 arrays of shape `(rows, n_features)`.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if not os.path.exists(path):
        raise datasets.DataNotFoundError(
            f"No data file at {os.path.abspath(path)}."
        )
    if extension == ".csv":
        yield from files.iter_csv(path, label_column, chunk_rows)
    elif extension == ".npy" and label_column is None:
        try:
            rows = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError:
            rows = files.read_data(path).x  # its error names the file
        rows = rows.reshape(len(rows), -1)
        for start in range(0, len(rows), chunk_rows):
            yield np.asarray(rows[start : start + chunk_rows], "float32")
    else:
        data = files.read_data(path, label_column)
        for start in range(0, len(data.x), chunk_rows):
            yield data.x[start : start + chunk_rows]


def predict_file(
    model,
    data,
    out,
    label_column=None,
    proba=False,
    overwrite=False,
    chunk_rows=CHUNK_ROWS,
):
    """Clusters every row of a data file and writes the assignments.

    Nothing is written unless every row is clustered: a bad row (a
    non-number, NaN, the wrong feature count) stops it with an error naming
    the rows, and the output file is not created.

    Args:
        model: a `vade_tf.VaDE`.
        data: str, a data file (see `iter_chunks`), or an array of shape
            `(n_samples, input_dim)`.
        out: str, the output file (`.csv`, `.npz` or `.npy`).
        label_column: see `vade_tf.data.files.read_data`.
        proba: bool, also write every cluster's probability.
        overwrite: bool, replace an existing `out`.
        chunk_rows: int, rows per chunk.

    Returns:
        int, the number of rows written.
    """
    check_output_path(out, proba, overwrite)
    if isinstance(data, (str, os.PathLike)):
        chunks = iter_chunks(data, label_column, chunk_rows)
        name = os.fspath(data)
    else:
        array = np.asarray(data)
        chunks = (
            array[start : start + chunk_rows]
            for start in range(0, len(array), chunk_rows)
        )
        name = "the data"
    count = [0]

    def clustered():
        for chunk in chunks:
            if chunk.ndim != 2 or chunk.shape[1] != model.input_dim:
                raise ValueError(
                    f"{name} has {chunk.shape[-1]} features per row; the "
                    f"model takes {model.input_dim} (the data it was "
                    "trained on). Pass data with the same columns."
                )
            try:
                probabilities = model.predict_proba(chunk)
            except ValueError as error:
                raise ValueError(
                    f"{name}, rows {count[0] + 1} to {count[0] + len(chunk)}"
                    f" (counted from 1): {error}"
                ) from None
            count[0] += len(chunk)
            yield probabilities
        if not count[0]:
            raise ValueError(f"{name} has no rows to cluster.")

    _write(out, clustered(), proba, overwrite)
    return count[0]
