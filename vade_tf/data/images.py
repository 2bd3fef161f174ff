"""Images among the user's arrays: the rule that says when samples are
images, and their shape.
"""

# The most channels an image array's last axis may hold (grey, RGB, RGBA).
MAX_CHANNELS = 4


def image_shape_of_samples(shape):
    """The image shape of an array whose samples are images, from its shape.

    The rule: an array of shape `(n, height, width)` holds grey images;
    `(n, height, width, channels)` with 1 to 4 channels holds images with
    their channels last (Keras's layout). A flat `(n, n_features)` array
    is a table: its rows are never guessed to be images. Other shapes
    (rank 5 and more, or rank 4 with more than 4 values on both its second
    and last axes) are not taken as images either: their samples are
    flattened into rows as before.

    Args:
        shape: tuple of ints, the array's shape.

    Returns:
        `(height, width)` or `(height, width, channels)`, or `None`.

    Raises:
        ValueError: for a channels-first image array `(n, channels, height,
            width)` (1 to 4 on the second axis, more on the last), with the
            transpose that makes it channels-last.
    """
    shape = tuple(int(v) for v in shape)
    if len(shape) == 3:
        return shape[1:]
    if len(shape) != 4:
        return None
    if shape[3] <= MAX_CHANNELS:
        return shape[1:]
    if shape[1] <= MAX_CHANNELS:
        raise ValueError(
            f"An array of shape {shape} looks like channels-first images "
            "(n, channels, height, width); images are read channels-last, "
            "(n, height, width, channels). Move the channels last, for "
            "example x.transpose(0, 2, 3, 1)."
        )
    return None


# Images with both sides at least this long are pretrained with augmentation
# when the pretraining recipe is "auto"; smaller ones as a table (rotations
# and shifts of the 8x8 digits lost accuracy: docs/results.md, "Which recipe
# by default").
AUGMENT_MIN_SIDE = 16


def augments(image_shape):
    """Whether "auto" pretraining augments images of this shape.

    Args:
        image_shape: `(height, width[, channels])` or `None`.

    Returns:
        True when `image_shape` is given and its height and width are both
        at least `AUGMENT_MIN_SIDE`.
    """
    return image_shape is not None and min(image_shape[:2]) >= AUGMENT_MIN_SIDE
