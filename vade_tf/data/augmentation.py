"""Image augmentation for pretraining: random rotations and shifts.

The autoencoder of the "augment" pretraining recipe
(`vade_tf.training.pretraining.recipe_settings`) reconstructs copies of the
images made by `image_augmentation`, inside the input pipeline's graph.
"""

import keras
import numpy as np

from vade_tf.data import images


def image_augmentation(image_shape, rotation=10.0, shift=0.1, seed=None):
    """Random rotations and shifts of flattened images, as a Keras model.

    Active only in training (call it with `training=True`). Pixels moved in
    from outside the image are 0 and the interpolation is bilinear, so
    images in [0, 1] stay in [0, 1] (Bernoulli targets stay valid).

    Args:
        image_shape: `(height, width)` or `(height, width, channels)` whose
            product is the number of features.
        rotation: float, the largest rotation in degrees (either way).
        shift: float, the largest shift as a fraction of height and width.
        seed: int or `None`.

    Returns:
        A `keras.Sequential` from `(batch, prod(image_shape))` to the same
        shape.
    """
    image_shape = images.check_image_shape(image_shape)
    if len(image_shape) == 2:
        image_shape = image_shape + (1,)
    if not 0.0 <= rotation < 180.0 or not 0.0 <= shift < 1.0:
        raise ValueError(
            "rotation must be in [0, 180) degrees and shift in [0, 1). "
            f"Received: rotation={rotation}, shift={shift}"
        )
    n_features = int(np.prod(image_shape))
    seeds = (None, None) if seed is None else (seed, seed + 1)
    return keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Reshape(image_shape),
            keras.layers.RandomRotation(
                rotation / 360.0, fill_mode="constant", seed=seeds[0]
            ),
            keras.layers.RandomTranslation(
                shift, shift, fill_mode="constant", seed=seeds[1]
            ),
            keras.layers.Reshape((n_features,)),
        ],
        name="image_augmentation",
    )


__all__ = ["image_augmentation"]
