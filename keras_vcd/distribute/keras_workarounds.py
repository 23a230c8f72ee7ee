"""What `VCDModel` changes so that Keras runs it fast and right under `tf.distribute`.

Each function works around one limitation of Keras or TensorFlow, named in its
docstring; outside a multi-replica strategy none of them is used.
"""

import tensorflow as tf


def reducible_logs(logs):
    """Logs that Keras's own loop can reduce over the workers (evaluation).

    Keras 3 reduces the logs of a MultiWorkerMirroredStrategy step with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars
    (tensorflow/tensorflow#72388); as shape-`[1]` tensors they reduce to the scalar
    mean over the replicas. (Training runs `multi_replica_train_function` instead.)
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
        compiled instead; the steps of one execution then run in
        `multi_replica_train_function`'s loop, not Keras's.
    """
    if strategy.num_replicas_in_sync == 1:
        return {"steps_per_execution": steps_per_execution, "jit_compile": jit_compile}, False
    return {"steps_per_execution": steps_per_execution, "jit_compile": False}, bool(jit_compile)


def multi_replica_train_function(model):
    """`model.train_function` under a strategy with several replicas.

    Keras 3's multi-step loop runs each step in a `tf.cond` inside a `tf.while_loop`,
    where tf.distribute cannot synchronise replicas, so it fails for any model
    (keras-team/keras#19246); and it reduces every log over the workers separately,
    one collective per log and step. This function runs `model.steps_per_execution`
    steps unrolled in one `tf.function`, each on the next batch, and reduces the last
    step's logs once, stacked into one tensor. The caller must make the steps per
    execution divide the epoch (`UnlabelledModel.fit` does): a call that runs out of
    batches ends the epoch (Keras catches the `OutOfRangeError`) without reporting
    the steps it ran.
    """
    strategy = model.distribute_strategy
    steps = model.steps_per_execution

    def run_steps(iterator):
        for _ in range(steps):
            logs = strategy.run(model.train_step, args=(next(iterator),))
        return mean_over_replicas(strategy, logs)

    return tf.function(run_steps, reduce_retracing=True)


def mean_over_replicas(strategy, logs):
    """The mean over replicas of each scalar of `logs`, in one collective."""
    names = sorted(logs)
    stacked = strategy.run(
        lambda values: tf.stack([tf.cast(values[name], tf.float32) for name in names]),
        args=(logs,))
    means = strategy.reduce("MEAN", stacked, axis=None)
    return {name: means[i] for i, name in enumerate(names)}


def let_caller_sum_gradients(optimizers):
    """Makes `optimizers` apply gradients as given, already summed over replicas.

    Keras 3's TensorFlow optimizer all-reduces the gradients it is given, once per
    optimizer and step (`TFOptimizer._all_reduce_sum_gradients`); `VCDModel`, compiled
    under a strategy with several replicas, sums its three groups' gradients itself,
    packed with the step's other sums into one all-reduce, and gives each optimizer
    its summed share. Done once, at compile time (the replicas' threads then share
    nothing that changes). Where Keras has no such method, nothing is changed and
    the optimizers keep reducing.

    Returns:
        Whether the caller must now sum the gradients.
    """
    if not all(callable(getattr(type(optimizer), "_all_reduce_sum_gradients", None))
               for optimizer in optimizers):
        return False
    for optimizer in optimizers:
        optimizer._all_reduce_sum_gradients = _as_given
    return True


def _as_given(grads_and_vars):
    return list(grads_and_vars)
