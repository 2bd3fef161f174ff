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
    (rank 5 and more, or rank 4 with more than 4 values on the last axis)
    are not taken as images: their samples are flattened into rows, a
    table (`channels_first_hint` says when such an array looks like
    channels-first images).

    Args:
        shape: tuple of ints, the array's shape.

    Returns:
        `(height, width)` or `(height, width, channels)`, or `None`.
    """
    shape = tuple(int(v) for v in shape)
    if len(shape) == 3 or (len(shape) == 4 and shape[3] <= MAX_CHANNELS):
        return shape[1:]
    return None


def channels_first_hint(shape):
    """A message when an array looks like channels-first images.

    Args:
        shape: tuple of ints, the array's shape.

    Returns:
        str for a rank-4 array with 1 to 4 values on its second axis and
        more on its last, `(n, channels, height, width)`, which is read as a
        table; else `None`.
    """
    shape = tuple(int(v) for v in shape)
    if len(shape) != 4 or shape[3] <= MAX_CHANNELS or shape[1] > MAX_CHANNELS:
        return None
    return (
        f"an array of shape {shape} looks like channels-first images (n, "
        "channels, height, width); images are read channels-last, so it is "
        "trained as a table. To train it as images, move the channels "
        "last: x.transpose(0, 2, 3, 1)."
    )


def check_image_shape(image_shape, name="image_shape"):
    """Checks an image shape given by the user.

    Args:
        image_shape: sequence of 2 or 3 positive ints, `(height, width[,
            channels])`.
        name: str, how the message names it.

    Returns:
        tuple of ints.
    """
    try:
        shape = tuple(int(v) for v in image_shape)
        valid = len(shape) in (2, 3) and min(shape) >= 1
        valid = valid and all(float(v) == int(v) for v in image_shape)
    except (TypeError, ValueError):
        valid = False
    if not valid or isinstance(image_shape, str):
        raise ValueError(
            f"{name} must be (height, width) or (height, width, channels) of "
            f"positive ints. Received: {image_shape!r}"
        )
    return shape


def same_images(first, second):
    """Whether two image shapes describe the same images: `(H, W)` and
    `(H, W, 1)` are the same grey images."""
    first, second = tuple(first), tuple(second)
    return first[:2] == second[:2] and (first[2:] or (1,)) == (
        second[2:] or (1,)
    )


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
