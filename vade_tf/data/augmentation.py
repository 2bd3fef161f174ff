"""Image augmentation for pretraining: random rotations and shifts.

The autoencoder of the "augment" pretraining recipe
(`vade_tf.training.pretraining.recipe_settings`) reconstructs copies of the
images made by `image_augmentation`, inside the input pipeline's graph.
"""

import math

import keras
from keras import ops


def rotation_shift_transform(angle, shift_x, shift_y, height, width):
    """The projective transforms of a rotation about the image's centre
    followed by a shift, as `keras.ops.image.affine_transform` takes them.

    Each output pixel `(x, y)` (column, row) reads the input at
    `R(-angle) (x - shift_x - cx, y - shift_y - cy) + (cx, cy)`, with
    `(cx, cy)` the centre of the image: the input turned by `angle` about its
    centre, then moved by `(shift_x, shift_y)` pixels.

    Args:
        angle: tensor `(batch,)`, radians.
        shift_x, shift_y: tensors `(batch,)`, pixels.
        height, width: ints, the image's size.

    Returns:
        Tensor `(batch, 8)`: `[a0, a1, a2, b0, b1, b2, 0, 0]` per image.
    """
    cos, sin = ops.cos(angle), ops.sin(angle)
    centre_x, centre_y = (width - 1) / 2.0, (height - 1) / 2.0
    moved_x, moved_y = centre_x + shift_x, centre_y + shift_y
    zeros = ops.zeros_like(angle)
    return ops.stack(
        [
            cos,
            sin,
            centre_x - cos * moved_x - sin * moved_y,
            -sin,
            cos,
            centre_y + sin * moved_x - cos * moved_y,
            zeros,
            zeros,
        ],
        axis=1,
    )


@keras.saving.register_keras_serializable(package="vade_tf")
class RandomRotationShift(keras.layers.Layer):
    """Turns and shifts flattened images at random, in one resampling.

    Each image is rotated about its centre by an angle drawn uniformly from
    `[-rotation, rotation]` degrees and shifted by a fraction of its height
    and width drawn uniformly from `[-shift, shift]`, with one bilinear
    resampling (`keras.ops.image.affine_transform`); pixels moved in from
    outside the image are 0. The same as Keras's `RandomRotation` followed
    by `RandomTranslation`, at about half the cost: the pipeline resamples
    each image once instead of twice. Active only with `training=True`.

    Args:
        image_shape: `(height, width, channels)`.
        rotation: float in [0, 180), the largest rotation in degrees.
        shift: float in [0, 1), the largest shift as a fraction of the side.
        seed: int or `None`.

    Input and output shape: `(batch, height * width * channels)`.
    """

    def __init__(self, image_shape, rotation=10.0, shift=0.1, seed=None,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.rotation = float(rotation)
        self.shift = float(shift)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        height, width, _ = self.image_shape
        images = ops.reshape(inputs, (-1, *self.image_shape))
        batch = (ops.shape(images)[0],)
        limit = math.radians(self.rotation)

        def uniform(bound):
            return keras.random.uniform(
                batch, -bound, bound, seed=self.seed_generator
            )

        transform = rotation_shift_transform(
            uniform(limit),
            uniform(self.shift * width),
            uniform(self.shift * height),
            height,
            width,
        )
        moved = ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode="constant"
        )
        return ops.reshape(moved, ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "rotation": self.rotation,
            "shift": self.shift,
            "seed": self.seed,
        }


def image_augmentation(image_shape, rotation=10.0, shift=0.1, seed=None):
    """Random rotations and shifts of flattened images, as a Keras layer.

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
        A `RandomRotationShift` from `(batch, prod(image_shape))` to the
        same shape.
    """
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) == 2:
        image_shape = image_shape + (1,)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(
            "image_shape must be (height, width) or (height, width, "
            f"channels) of positive ints. Received: image_shape={image_shape}"
        )
    if not 0.0 <= rotation < 180.0 or not 0.0 <= shift < 1.0:
        raise ValueError(
            "rotation must be in [0, 180) degrees and shift in [0, 1). "
            f"Received: rotation={rotation}, shift={shift}"
        )
    return RandomRotationShift(
        image_shape, rotation, shift, seed=seed, name="image_augmentation"
    )


__all__ = [
    "RandomRotationShift",
    "image_augmentation",
    "rotation_shift_transform",
]
