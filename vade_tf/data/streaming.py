"""Data larger than memory: sharded `.npy` files streamed through `tf.data`.

A data set too large for memory is kept as one or more `.npy` files of
shape `(rows, features)` (`write_shards` splits an array, or a memory map of
one, into such files). `stream` reads them in chunks of rows with plain
file reads, never whole: chunks in a shuffled order, rows shuffled again in
a bounded buffer, then batched, so memory holds about
`shuffle_buffer + a few chunks` rows whatever the files' size. `sample`
reads a uniform random sample of rows, for what needs data in memory:
`VaDE.pretrain`, `VaDE.initialize_mixture` and
`vade_tf.training.callbacks.ClusteringMetrics`.

```python
paths = vade_tf.data.streaming.write_shards(big_array, "shards/")
model.pretrain(vade_tf.data.streaming.sample("shards/", 50_000, seed=0))
model.initialize_mixture(
    vade_tf.data.streaming.sample("shards/", 50_000, seed=1)
)
model.compile()
model.fit(vade_tf.data.streaming.stream("shards/", batch_size=100, seed=0),
          epochs=20)
```
"""

import glob
import os

import numpy as np
import tensorflow as tf

from vade_tf import fileio, validation

# Rows per read of `stream`.
CHUNK_ROWS = 1024
# Rows in `stream`'s shuffle buffer.
SHUFFLE_BUFFER = 10_000


def write_shards(x, folder, rows_per_shard=100_000, overwrite=False):
    """Writes `x` as `.npy` files of at most `rows_per_shard` rows.

    Each file is written atomically; `x` is read `rows_per_shard` rows at a
    time, so it may itself be a memory map larger than memory.

    Args:
        x: array-like of shape `(n_samples, n_features)` (sliceable).
        folder: str, created if needed.
        rows_per_shard: int >= 1.
        overwrite: bool; False refuses to replace an existing shard.
            (Shards of an earlier, longer write that this one does not
            replace stay in the folder: write to an empty folder.)

    Returns:
        list of str, the files written (`shard-00000.npy`, ...), in order.
    """
    rows_per_shard = validation.check_int(rows_per_shard, "rows_per_shard", 1)
    if np.ndim(x) != 2 or len(x) == 0:
        raise ValueError(
            "x must be a non-empty array of shape (n_samples, n_features). "
            f"Received shape {np.shape(x)}."
        )
    starts = range(0, len(x), rows_per_shard)
    paths = [
        os.path.join(folder, f"shard-{index:05d}.npy")
        for index in range(len(starts))
    ]
    existing = [path for path in paths if os.path.exists(path)]
    if existing and not overwrite:
        # Refused before any shard is written: no mix of old and new files.
        raise FileExistsError(
            f"{existing[0]} exists ({len(existing)} of the {len(paths)} "
            "shards to write do). Pass overwrite=True to replace them, or "
            "write to an empty folder."
        )
    os.makedirs(folder, exist_ok=True)
    for path, start in zip(paths, starts):
        block = np.asarray(x[start : start + rows_per_shard], dtype="float32")
        with fileio.atomic_output(path, overwrite, suffix=".npy") as temp:
            np.save(temp, block)
    return paths


def shard_paths(source):
    """The `.npy` files of a source, sorted.

    Args:
        source: a folder (its `*.npy` files), a glob pattern, one `.npy`
            path, or a list of paths.

    Returns:
        list of str.
    """
    if isinstance(source, (list, tuple)):
        paths = [os.fspath(path) for path in source]
    else:
        source = os.fspath(source)
        if os.path.isdir(source):
            paths = sorted(glob.glob(os.path.join(source, "*.npy")))
        else:
            paths = sorted(glob.glob(source))
    if not paths:
        raise FileNotFoundError(
            f"No .npy files found for {source!r}. Expected a folder of .npy "
            "shards, a glob pattern, a .npy file or a list of them "
            "(vade_tf.data.streaming.write_shards writes shards)."
        )
    return paths


def shard_layout(path):
    """`(rows, features, dtype, data_offset)` of a 2-D `.npy` file."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        offset = handle.tell()
    if len(shape) != 2 or fortran or dtype.hasobject:
        raise ValueError(
            f"{path} must hold a C-ordered numeric array of shape (rows, "
            f"features). Received shape {shape}, dtype {dtype}"
            f"{', Fortran order' if fortran else ''}."
        )
    return shape[0], shape[1], dtype, offset


def read_rows(path, start, stop, layout=None):
    """Rows `start:stop` of a `.npy` file as float32, by one file read.

    Plain reads, not a memory map: the pages read are the operating
    system's cache, not the process's memory. `layout` is the file's
    `shard_layout`, read from its header when not given.
    """
    rows, features, dtype, offset = layout or shard_layout(path)
    stop = min(int(stop), rows)
    count = max(stop - int(start), 0) * features
    with open(path, "rb") as handle:
        handle.seek(offset + int(start) * features * dtype.itemsize)
        block = np.fromfile(handle, dtype=dtype, count=count)
    return block.reshape(-1, features).astype("float32", copy=False)


def _layouts(source):
    paths = shard_paths(source)
    layouts = [shard_layout(path) for path in paths]
    widths = {layout[1] for layout in layouts}
    if len(widths) != 1:
        raise ValueError(
            f"Every shard must have the same number of features. Received "
            f"{sorted(widths)} across {len(paths)} files."
        )
    return paths, layouts


def stream(
    source,
    batch_size,
    shuffle_buffer=SHUFFLE_BUFFER,
    seed=None,
    chunk_rows=CHUNK_ROWS,
    shard=None,
):
    """A `tf.data.Dataset` of float32 batches read from `.npy` shards.

    Each pass (epoch) reads every row once: the `(file, chunk)` pairs in a
    new random order, each chunk by one file read, its rows through a
    shuffle buffer of `shuffle_buffer` rows, then in batches. Memory holds
    about `shuffle_buffer + 4 * chunk_rows` rows.

    Args:
        source: see `shard_paths`.
        batch_size: int >= 1.
        shuffle_buffer: int >= 0 rows; 0 keeps the file order (no shuffle).
        seed: int or `None`, for the two shuffles.
        chunk_rows: int >= 1, rows per read.
        shard: `None`, or `(count, index)` to keep every `count`-th chunk
            from `index` on: one worker's part of the data (each worker
            then reads only its own chunks). The parts may differ by a
            chunk, so their batch counts may differ by one or two.

    Returns:
        A `tf.data.Dataset` of tensors `(batch, n_features)`, float32.
    """
    batch_size = validation.check_int(batch_size, "batch_size", 1)
    chunk_rows = validation.check_int(chunk_rows, "chunk_rows", 1)
    shuffle_buffer = validation.check_int(shuffle_buffer, "shuffle_buffer", 0)
    paths, layouts = _layouts(source)
    features = layouts[0][1]
    chunk_paths, chunk_starts, chunk_sizes = [], [], []
    for path, (rows, *_) in zip(paths, layouts):
        for start in range(0, rows, chunk_rows):
            chunk_paths.append(path)
            chunk_starts.append(start)
            chunk_sizes.append(min(chunk_rows, rows - start))
    if shard is not None:
        count, index = (int(value) for value in shard)
        if not 0 <= index < count:
            raise ValueError(
                "shard must be (count, index) with 0 <= index < count. "
                f"Received: shard={shard!r}"
            )
        chunk_paths = chunk_paths[index::count]
        chunk_starts = chunk_starts[index::count]
        chunk_sizes = chunk_sizes[index::count]
    if not chunk_paths:
        raise ValueError(
            f"shard={shard!r} leaves no data: there are fewer chunks of "
            f"{chunk_rows} rows than workers."
        )
    chunks = tf.data.Dataset.from_tensor_slices(
        (chunk_paths, np.asarray(chunk_starts, "int64"))
    )
    if shuffle_buffer:
        chunks = chunks.shuffle(
            len(chunk_paths), seed=seed, reshuffle_each_iteration=True
        )

    # Each file's header is read once here, not once per chunk.
    layout_of = dict(zip(paths, layouts))

    def read(path, start):
        path = path.decode()
        return read_rows(path, start, start + chunk_rows, layout_of[path])

    def read_chunk(path, start):
        block = tf.numpy_function(read, [path, start], tf.float32)
        return tf.ensure_shape(block, (None, features))

    rows = chunks.map(read_chunk, num_parallel_calls=2).unbatch()
    if shuffle_buffer:
        rows = rows.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    # The number of batches is known: Keras then shows progress and ends
    # each epoch without an "input ran out of data" warning.
    batches = -(-sum(chunk_sizes) // batch_size)
    dataset = (
        rows.batch(batch_size)
        .apply(tf.data.experimental.assert_cardinality(batches))
        .prefetch(2)
    )
    # The chunks are split by `shard`, not by tf.distribute's auto-sharding
    # (which cannot see the files behind numpy_function).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF
    )
    # The parallelism and the prefetch are fixed above; tf.data's autotuning
    # on top of them left both cores idle a third to half of each epoch on
    # a 2-core machine (docs/performance.md, "The training input").
    options.autotune.enabled = False
    return dataset.with_options(options)


def count_rows(source):
    """The total number of rows of the shards, int."""
    return sum(layout[0] for layout in _layouts(source)[1])


def sample(source, n_rows, seed=None):
    """A uniform random sample of rows, without replacement, in memory.

    Args:
        source: see `shard_paths`.
        n_rows: int >= 1; all rows when there are fewer.
        seed: int or `None`.

    Returns:
        float32 array of shape `(min(n_rows, total), n_features)`, in the
        files' order.
    """
    n_rows = validation.check_int(n_rows, "n_rows", 1)
    paths, layouts = _layouts(source)
    sizes = np.array([layout[0] for layout in layouts])
    total = int(sizes.sum())
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(total, size=min(n_rows, total), replace=False))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    blocks = []
    for index, path in enumerate(paths):
        inside = chosen[
            (chosen >= bounds[index]) & (chosen < bounds[index + 1])
        ]
        if len(inside) == 0:
            continue
        _, features, dtype, offset = layouts[index]
        memory = np.memmap(
            path,
            dtype=dtype,
            mode="r",
            offset=offset,
            shape=(sizes[index], features),
        )
        blocks.append(np.asarray(memory[inside - bounds[index]], "float32"))
        del memory
    return np.concatenate(blocks)
