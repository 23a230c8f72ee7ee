"""Reductions over the global batch that also hold under a `tf.distribute` strategy.

Model state that every replica updates (the HMC step size, the control variates) must
stay identical on all replicas; these helpers give every replica the same inputs.
Outside a strategy, or with one replica, they are plain local operations. Under
`MirroredStrategy` and `MultiWorkerMirroredStrategy` they synchronise by `merge_call`,
which TensorFlow forbids inside a `tf.while_loop` or `tf.cond`, and XLA cannot compile
on CPUs: `VCDModel.train_step` calls them only outside each replica's compiled step.
"""

import tensorflow as tf


def _multi_replica_context():
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        return context
    return None


def all_replicas_true(flag):
    """Logical AND of a scalar boolean `flag` over all replicas."""
    context = _multi_replica_context()
    if context is None:
        return flag
    failures = context.all_reduce("sum", tf.cast(tf.logical_not(flag), tf.float32))
    return tf.equal(failures, 0.0)


def cross_replica_mean(values):
    """Mean of `values` over the global batch.

    Sums and counts are all-reduced separately, so replicas with unequal batches still
    get the mean over every example.
    """
    total = tf.reduce_sum(values)
    count = tf.cast(tf.size(values), values.dtype)
    context = _multi_replica_context()
    if context is not None:
        total, count = context.all_reduce("sum", [total, count])
    return total / count


def gather_global_batch(*tensors):
    """Concatenates each tensor over all replicas along axis 0."""
    context = _multi_replica_context()
    if context is None:
        return tensors
    return tuple(context.all_gather(t, axis=0) for t in tensors)


def replica_id():
    """This replica's index in its sync group (0 outside a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return tf.constant(0)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)


def zero_unless_all_finite(gradients, losses):
    """Drops a whole update (all gradients zero) if any gradient or loss is NaN or Inf.

    One bad batch (e.g. an overflow in exp) then costs one step instead of poisoning
    every weight. Under a strategy every replica drops the update if any replica
    must, as one device would on the whole global batch. A zero gradient leaves the
    weights where they are under `ReferenceRMSprop` (only its running average decays).

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd.distribute.replicas import zero_unless_all_finite
    >>> [g.numpy().tolist() for g in zero_unless_all_finite(
    ...     [tf.constant([1.0, 2.0])], [tf.constant(float("nan"))])]
    [[0.0, 0.0]]
    """
    finite = tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(t)) for t in list(gradients) + list(losses)]
    )
    finite = all_replicas_true(finite)
    return [tf.where(finite, g, tf.zeros_like(g)) for g in gradients]
