"""Reductions over the global batch that also hold under a `tf.distribute` strategy.

Model state that every replica updates (the weights, the HMC step size, the control
variates) must stay identical on all replicas; these helpers give every replica the
same inputs. Outside a strategy, or with one replica, they are plain local operations.
Each collective costs a round trip between workers, so a training step packs all it
needs into one `sum_over_replicas` (and, for local control variates, one
`gather_indexed_values`). Under `MirroredStrategy` and `MultiWorkerMirroredStrategy`
they synchronise by `merge_call`, which TensorFlow forbids inside a `tf.while_loop` or
`tf.cond`, and XLA cannot compile on CPUs: `VCDModel.train_step` calls them only
outside each replica's compiled step.
"""

import tensorflow as tf


def _multi_replica_context():
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        return context
    return None


def is_multi_replica():
    """Whether the code runs in one of several replicas of a `tf.distribute` strategy."""
    return _multi_replica_context() is not None


def sum_over_replicas(structure):
    """Sums every tensor of a nested `structure` over the replicas, in one all-reduce.

    The tensors are flattened into one vector per dtype, so a whole training step's
    synchronisation (gradients, step size, control-variate and metric sums) costs one
    collective instead of one per tensor: over a network each collective costs a
    round trip whatever its size. Each tensor must have the same shape on every
    replica. Outside a strategy, or with one replica, returns `structure` unchanged.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd.distribute.replicas import sum_over_replicas
    >>> totals = sum_over_replicas({"sum": tf.constant(3.0), "count": tf.constant(2.0)})
    >>> float(totals["sum"] / totals["count"])
    1.5
    """
    context = _multi_replica_context()
    if context is None:
        return structure
    tensors = [tf.convert_to_tensor(t) for t in tf.nest.flatten(structure)]
    summed = [None] * len(tensors)
    for dtype in {t.dtype for t in tensors}:
        positions = [i for i, t in enumerate(tensors) if t.dtype == dtype]
        packed = tf.concat([tf.reshape(tensors[i], [-1]) for i in positions], axis=0)
        parts = tf.split(context.all_reduce("sum", packed),
                         [tensors[i].shape.num_elements() for i in positions])
        for i, part in zip(positions, parts):
            summed[i] = tf.reshape(part, tensors[i].shape)
    return tf.nest.pack_sequence_as(structure, summed)


def num_not_finite(tensors):
    """How many entries of `tensors` are NaN or infinite (a float32 scalar)."""
    return tf.add_n([tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(t)), tf.float32))
                     for t in tensors])


def batch_sum_and_count(values):
    """`{"sum", "count"}` of `values`: what a mean over the global batch sums."""
    return {"sum": tf.reduce_sum(values), "count": tf.cast(tf.size(values), values.dtype)}


def gather_indexed_values(index, values):
    """`(index, values)` of every replica's examples, concatenated, in one all-gather.

    The int32 indices travel beside the float32 values as two 16-bit halves, each
    exact in float32, so one collective carries both.
    """
    context = _multi_replica_context()
    if context is None:
        return index, values
    index = tf.cast(index, tf.int32)
    halves = [tf.cast(index // 65536, values.dtype), tf.cast(index % 65536, values.dtype)]
    rows = context.all_gather(tf.stack([values] + halves, axis=1), axis=0)
    high, low = tf.cast(rows[:, 1], tf.int32), tf.cast(rows[:, 2], tf.int32)
    return high * 65536 + low, rows[:, 0]


def replica_id():
    """This replica's index in its sync group (0 outside a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return tf.constant(0)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)


def zero_unless_all_finite(gradients, num_not_finite_values):
    """Drops a whole update (all gradients zero) if any gradient or loss is NaN or Inf.

    One bad batch (e.g. an overflow in exp) then costs one step instead of poisoning
    every weight. `num_not_finite_values` counts the non-finite gradient and loss
    entries over the global batch (`num_not_finite`, summed over replicas), so under a
    strategy every replica drops the update if any replica must, as one device would.
    A zero gradient leaves the weights where they are under `ReferenceRMSprop` (only
    its running average decays).

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd.distribute.replicas import num_not_finite, zero_unless_all_finite
    >>> gradients = [tf.constant([1.0, 2.0])]
    >>> count = num_not_finite(gradients + [tf.constant(float("nan"))])
    >>> [g.numpy().tolist() for g in zero_unless_all_finite(gradients, count)]
    [[0.0, 0.0]]
    """
    finite = tf.equal(num_not_finite_values, 0.0)
    return [tf.where(finite, g, tf.zeros_like(g)) for g in gradients]
