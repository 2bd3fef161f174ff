"""Training under `tf.distribute`: the strategies and what they change.

VaDE trains under `tf.distribute.MirroredStrategy` the TensorFlow way: build
and compile the model inside `strategy.scope()`, then `fit`. Its variables
(the networks, `theta_p`, `c_mean`, `c_var`) and both optimizers' slots are
then mirrored, `train_step` divides the loss by the number of replicas so
the summed gradients are those of the global batch's mean, and every
replica applies the same update. Several machines train the same way under
`tf.distribute.MultiWorkerMirroredStrategy`, one process per machine with
its `TF_CONFIG` (`tf_config`); Keras 3's `fit` needs two things of the
steps there, which VaDE's and its autoencoder's steps do (`reducible_logs`).
docs/distributed.md says how to run it and what was measured.

```python
strategy = vade_tf.training.distribute.make_strategy("mirrored")
with strategy.scope():
    model = vade_tf.workflow.build_model(x, n_clusters=10, seed=0)
    vade_tf.workflow.train(model, x, random_state=0)
```
"""

import json
import os
import socket

import tensorflow as tf

from vade_tf import choices

# The strategies `make_strategy` (and `vade-tf train --strategy`) know.
STRATEGIES = choices.STRATEGIES


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
    return _one_replica()


def multi_step_supported():
    """Whether one call can run several training steps under the strategy.

    Keras runs `steps_per_execution` > 1 steps in a `tf.while_loop` over
    the iterator's optionals; with more than one replica in sync that loop
    fails (an `InvalidArgumentError` at `while/cond/Placeholder`, seen with
    `MultiWorkerMirroredStrategy` on two workers). So there `VaDE.compile`
    defaults to one step per call.

    Returns:
        bool.
    """
    return _one_replica()


def _one_replica():
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
    - `"multiworker"`: `MultiWorkerMirroredStrategy` over the workers of the
      `TF_CONFIG` environment variable (`tf_config`), one process each;
      every worker runs the same program on the same data.

    Create it first thing: TensorFlow must not have run an operation yet
    (for the logical CPUs, and for the workers' collectives).

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
    if name == "multiworker":
        if cpu_replicas:
            raise ValueError(
                "cpu_replicas is for the mirrored strategy; a multi-worker "
                f"run has one replica per worker. Received: cpu_replicas="
                f"{cpu_replicas!r}"
            )
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise ValueError(
                "The multiworker strategy needs the TF_CONFIG environment "
                "variable of this worker (the cluster's addresses and this "
                "task's index; see vade_tf.training.distribute.tf_config and "
                "docs/distributed.md). Received: TF_CONFIG unset."
            )
        try:
            parsed = json.loads(config)
        except ValueError as error:
            raise ValueError(
                f"TF_CONFIG is not JSON ({error}). Received: {config!r}"
            ) from None
        if not (
            isinstance(parsed, dict)
            and isinstance(parsed.get("cluster"), dict)
            and isinstance(parsed.get("task"), dict)
        ):
            raise ValueError(
                "TF_CONFIG must be a JSON object with a 'cluster' (job name "
                "-> list of 'host:port') and this worker's 'task' ({'type': "
                f"'worker', 'index': i}}). Received: {config!r}"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        f"Unknown strategy. Expected one of {STRATEGIES}. Received: {name!r}"
    )


def tf_config(workers, index):
    """The `TF_CONFIG` of worker `index` in a cluster of `workers`.

    Every worker gets the same list of addresses and its own index; worker
    0 is the chief (it saves the model). Set it as the `TF_CONFIG`
    environment variable before the strategy is made.

    Args:
        workers: list of `"host:port"` strings, one per worker.
        index: int, this worker's position in `workers`.

    Returns:
        str, JSON.
    """
    workers = [str(address) for address in workers]
    if not workers:
        raise ValueError(
            "workers must list at least one 'host:port'. Received: "
            f"workers={workers!r}"
        )
    if not 0 <= int(index) < len(workers):
        raise ValueError(
            f"index must be in [0, {len(workers)}). Received: index={index!r}"
        )
    return json.dumps(
        {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": int(index)},
        }
    )


def local_addresses(count):
    """`count` addresses `127.0.0.1:port` on ports free right now.

    For a cluster of worker processes on this machine (tests, examples); a
    port could be taken again between this call and a worker's start.

    Args:
        count: int >= 1.

    Returns:
        list of str.
    """
    sockets = [socket.socket() for _ in range(int(count))]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{sock.getsockname()[1]}" for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def is_multi_worker(strategy=None):
    """Whether `strategy` spans several workers.

    Args:
        strategy: a `tf.distribute.Strategy`, or `None` for the current one
            (inside `strategy.scope()`; outside it, the default strategy).

    Returns:
        bool.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return sum(len(cluster.get(job, ())) for job in ("chief", "worker")) > 1


def is_chief(strategy=None):
    """Whether this process writes the run's files (the model, checkpoints).

    True outside a multi-worker run; in one, for the task of type "chief",
    or worker 0 when the cluster has no chief. Outside `strategy.scope()`,
    pass the strategy (`model.distribute_strategy`): the current one there
    is the default strategy, whose process is always its own chief.

    Args:
        strategy: a `tf.distribute.Strategy`, or `None` for the current one.

    Returns:
        bool.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return (
        not has_chief
        and resolver.task_type == "worker"
        and (resolver.task_id == 0)
    )


def reducible_logs(logs):
    """A training step's logs in the shape Keras can reduce across workers.

    Under `MultiWorkerMirroredStrategy` Keras 3's `fit` averages each log
    over the workers with `strategy.reduce("MEAN", value, axis=0)`, which
    fails on the scalars every step returns (keras-team/keras#20585). A
    log with a leading axis of 1 reduces to the same mean. Elsewhere the
    logs are returned unchanged.

    Args:
        logs: dict of tensors (scalars, or metrics of any shape).

    Returns:
        dict, the same keys.
    """
    if not is_multi_worker():
        return logs
    return {name: tf.expand_dims(value, 0) for name, value in logs.items()}


def broadcast_from_chief(variables, strategy=None):
    """Gives every worker the chief's values of `variables`.

    What each worker computes outside the training step (a loaded or
    pretrained autoencoder, the mixture's start from scikit-learn) is the
    same on workers that run the same program on the same data, but CPUs
    of different kinds can round differently; from then on the workers
    would apply the same summed gradients to different weights. Called on
    the model's variables before training, this makes the start the
    chief's, bit for bit (each replica gathers every replica's values and
    keeps replica 0's, the chief's). Outside a multi-worker run it does
    nothing.

    Args:
        variables: list of variables created under the strategy; those of
            a non-float dtype (step counts, seeds) are left alone.
        strategy: the strategy they were created under, or `None` for the
            current one (`workflow.train` passes `model.distribute_strategy`).
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return
    variables = [v for v in variables if tf.as_dtype(v.dtype).is_floating]

    def the_chiefs():
        context = tf.distribute.get_replica_context()
        return [
            context.all_gather(tf.expand_dims(tf.identity(v), 0), axis=0)[0]
            for v in variables
        ]

    with strategy.scope():
        values = strategy.run(tf.function(the_chiefs))
    for variable, value in zip(variables, values):
        variable.assign(strategy.experimental_local_results(value)[0])
