"""Data: what the models read.

- `datasets`: the named data sets (`load_dataset`: digits, MNIST,
  Fashion-MNIST) and their image shapes;
- `images`: when a user's samples are images (`image_shape_of_samples`, from
  an array's shape) and when images are pretrained with augmentation
  (`augments`);
- `files`: your own files (`.npz`, `.npy`, `.h5`, `.csv`, `.h5ad`), read once
  and checked (`read_data`);
- `streaming`: arrays too large for memory, read in chunks into `tf.data`;
- `synthetic`: simulated count data with known clusters;
- `augmentation`: random rotations and shifts of images, for pretraining.

This package imports nothing when imported, and `datasets`, `files`, `images`
and `synthetic` need NumPy alone, so the command line's parser reads them before
TensorFlow is loaded (`streaming` uses `tf.data`, `augmentation` Keras).
"""
