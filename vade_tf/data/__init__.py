"""Data: what the models read, checked with NumPy alone.

- `datasets`: the named data sets (`load_dataset`: digits, MNIST,
  Fashion-MNIST, synthetic sets) and the image-shape rule;
- `files`: your own files (`.npz`, `.npy`, `.h5`, `.csv`, `.h5ad`), read once
  and checked (`read_data`);
- `streaming`: arrays too large for memory, read in chunks into `tf.data`;
- `synthetic`: simulated data with known clusters (blobs, counts).

This package imports nothing when imported, so the command line's parser can
read `datasets` and `files` before TensorFlow is loaded.
"""
