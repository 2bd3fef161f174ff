"""Training under `tf.distribute`: the strategies and what they change.

VaDE trains under `tf.distribute.MirroredStrategy` the TensorFlow way: build
and compile the model inside `strategy.scope()`, then `fit`. Its variables
(the networks, `theta_p`, `c_mean`, `c_var`) and both optimizers' slots are
then mirrored, `train_step` divides the loss by the number of replicas so
the summed gradients are those of the global batch's mean, and every
replica applies the same update. docs/distributed.md says what was
measured, and why several machines (`MultiWorkerMirroredStrategy`) do not
work yet.

```python
strategy = vade_tf.distribution.make_strategy("mirrored")
with strategy.scope():
    model = vade_tf.workflow.build_model(x, n_clusters=10, seed=0)
    vade_tf.workflow.train(model, x, random_state=0)
```
"""

import tensorflow as tf

from vade_tf import options

# The strategies `make_strategy` (and `vade-tf train --strategy`) know.
STRATEGIES = options.STRATEGIES


def xla_supported():
    """Whether XLA can compile the training step under the current strategy.

    Keras compiles the whole multi-replica step as one XLA program, which
    XLA refuses when the replicas' variables live on different devices
    ("Trying to access resource ... located in device CPU:1 from device
    CPU:0"). So with more than one replica in sync `VaDE.compile` and
    pretraining run without XLA.

    Returns:
        bool.
    """
    return tf.distribute.get_strategy().num_replicas_in_sync == 1


def split_cpu(replicas):
    """Splits the CPU into `replicas` logical devices (before TF starts).

    On a machine without accelerators `MirroredStrategy` has one device, the
    CPU; splitting it lets several replicas run on one machine (for tests,
    or to compare with a single replica). It must run before TensorFlow
    initialises its devices, that is before the first operation.

    Args:
        replicas: int >= 1.

    Returns:
        list of str, the logical CPU devices.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * int(replicas)
    )
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def make_strategy(name, cpu_replicas=None):
    """A `tf.distribute` strategy by name.

    - `"none"`: the default strategy (one device).
    - `"mirrored"`: `MirroredStrategy` over the machine's GPUs, or over
      `cpu_replicas` logical CPUs (`split_cpu`) when given, else the CPU.

    Create it first thing: TensorFlow must not have run an operation yet
    (for the logical CPUs). `MultiWorkerMirroredStrategy` is not offered:
    Keras 3's `fit` fails under it (keras-team/keras#20585;
    docs/distributed.md).

    Args:
        name: one of `STRATEGIES`.
        cpu_replicas: int >= 1 or `None`.

    Returns:
        A `tf.distribute.Strategy`.
    """
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = None
        if cpu_replicas:
            devices = split_cpu(cpu_replicas)
        return tf.distribute.MirroredStrategy(devices)
    raise ValueError(
        f"Unknown strategy. Expected one of {STRATEGIES}. Received: {name!r}"
    )
