"""What `VCDModel` changes so that Keras runs it under a `tf.distribute` strategy.

Each function works around one limitation of Keras or TensorFlow, named in its
docstring; outside a multi-replica strategy each is a no-op.
"""

import warnings

import tensorflow as tf


def reducible_logs(logs):
    """Logs that Keras can reduce over the workers of a multi-worker strategy.

    Keras 3 reduces the logs of a MultiWorkerMirroredStrategy step with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars
    (tensorflow/tensorflow#72388); as shape-`[1]` tensors they reduce to the scalar
    mean over the replicas.
    """
    strategy = tf.distribute.get_strategy()
    extended = strategy.extended
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and getattr(extended, "_in_multi_worker_mode", lambda: False)()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def distributed_execution(strategy, steps_per_execution, jit_compile):
    """The execution settings that work under `strategy` (see `VCDModel.compile`).

    Returns:
        `(keras_settings, replica_jit)`: the `steps_per_execution` and `jit_compile`
        to give Keras, and whether each replica's share of a step is compiled by XLA
        on its own. With several replicas Keras must not compile the whole step (XLA
        cannot compile cross-device reductions on CPUs), so the replica's step is
        compiled instead; and Keras's multi-step loop fails under `MirroredStrategy`
        (keras-team/keras#19246), so one step runs per execution, with a warning.
    """
    if strategy.num_replicas_in_sync == 1:
        return {"steps_per_execution": steps_per_execution, "jit_compile": jit_compile}, False
    if steps_per_execution != 1:
        warnings.warn(
            f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replicas: "
            f"training runs with steps_per_execution=1 (asked for {steps_per_execution}), "
            f"as Keras's multi-step loop fails under tf.distribute strategies; see "
            f"VCDModel.compile.",
            stacklevel=3,
        )
    return {"steps_per_execution": 1, "jit_compile": False}, bool(jit_compile)
