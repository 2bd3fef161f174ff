"""The contract every Keras layer of vade_tf keeps, checked the way Keras's
own `run_layer_test` checks its layers: it builds on its input, its output
has the shape `compute_output_shape` gives, its config survives
`get_config` / `from_config` and a Keras serialization round trip, and a
clone with the same weights computes the same output."""

import keras
import numpy as np


def check_layer_contract(layer, inputs, expected_shape, deterministic=True):
    """Checks `layer`'s build, shapes, config and serialization.

    Args:
        layer: a new `keras.layers.Layer` (built on its call if not yet).
        inputs: a numpy array, or a tuple of them, to call it on.
        expected_shape: the output's shape.
        deterministic: bool; False for a layer that draws (its clone's
            output is then not compared).

    Returns:
        The output for `inputs`, as numpy.
    """
    output = keras.ops.convert_to_numpy(layer(inputs))
    assert layer.built
    assert output.shape == tuple(expected_shape)
    if isinstance(inputs, tuple):
        input_shape = tuple(np.shape(part) for part in inputs)
    else:
        input_shape = np.shape(inputs)
    try:
        computed = layer.compute_output_shape(input_shape)
    except NotImplementedError:
        computed = None
    if computed is not None:
        assert tuple(computed) == tuple(expected_shape)

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(revived) is type(layer)
    assert revived.get_config() == config

    clone(inputs)  # built, then given the original's weights
    clone.set_weights(layer.get_weights())
    if deterministic:
        again = keras.ops.convert_to_numpy(clone(inputs))
        np.testing.assert_allclose(again, output, rtol=1e-6, atol=1e-6)
    return output
