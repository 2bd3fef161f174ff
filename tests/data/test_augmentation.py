"""The image augmentation of "augment" pretraining, against scipy."""

import keras
import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from tests.layer_contract import check_layer_contract
from vade_tf.data import augmentation


@pytest.mark.parametrize(
    "angle, shift_x, shift_y", [(0.3, 1.5, -2.0), (-0.15, 0.0, 3.25)]
)
def test_one_resampling_turns_about_the_centre_then_shifts(
    rng, angle, shift_x, shift_y
):
    height, width = 12, 16
    image = rng.random((1, height, width, 1)).astype("float32")
    transform = augmentation.rotation_shift_transform(
        *(np.array([v], "float32") for v in (angle, shift_x, shift_y)),
        height,
        width,
    )
    moved = keras.ops.convert_to_numpy(
        keras.ops.image.affine_transform(
            image, transform, interpolation="bilinear", fill_mode="constant"
        )
    )[0, :, :, 0]
    # Independently, in scipy's (row, column) coordinates: the output at p
    # reads the input at R(-angle) (p - centre - shift) + centre.
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]])  # (row, col) form
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    shift = np.array([shift_y, shift_x])
    expected = scipy.ndimage.affine_transform(
        image[0, :, :, 0],
        matrix,
        offset=centre - matrix @ (centre + shift),
        order=1,
        mode="grid-constant",
        cval=0.0,
    )
    np.testing.assert_allclose(moved, expected, atol=1e-5)


def test_the_layer_keeps_the_contract_and_draws_in_a_data_pipeline(rng):
    x = rng.random((8, 36)).astype("float32")
    layer = augmentation.image_augmentation((6, 6), seed=1)
    # Inference leaves images alone; the config round trip holds.
    np.testing.assert_array_equal(check_layer_contract(layer, x, (8, 36)), x)

    # In a tf.data pipeline each batch gets new draws, the same for a seed.
    def draws(seed):
        layer = augmentation.image_augmentation((6, 6), seed=seed)
        data = tf.data.Dataset.from_tensors(x).repeat(2)
        return [b.numpy() for b in data.map(lambda b: layer(b, training=True))]

    first, second = draws(1)
    assert np.abs(first - second).max() > 1e-3
    np.testing.assert_array_equal(draws(1)[0], first)
    assert np.abs(draws(2)[0] - first).max() > 1e-3
