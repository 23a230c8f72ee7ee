"""Control variates c for the score-function term of the VCD encoder gradient.

c is subtracted from f(z_T) in the score-function term. It is computed from earlier
iterations only (the value read before this iteration's update), so it is
independent of this iteration's noise and the gradient stays unbiased.
"""

import keras
import tensorflow as tf

from keras_vcd.distribute.replicas import batch_sum_and_count, gather_indexed_values, sum_over_replicas

CONTROL_VARIATES = ("global", "local", None)


@keras.saving.register_keras_serializable(package="keras_vcd")
class GlobalControlVariate(keras.layers.Layer):
    """One scalar: `c <- decay * c + (1 - decay) * mean_batch f`.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd.models.control_variates import GlobalControlVariate
    >>> cv = GlobalControlVariate()
    >>> cv.build(None)
    >>> cv.update(tf.constant([10.0, 20.0]), index=None)
    >>> float(cv.lookup(None, batch_size=2)[0])
    1.5
    """

    def __init__(self, decay=0.9, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), received {decay!r}.")
        self.decay = float(decay)

    def build(self, input_shape=None):
        self.value = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="value",
            aggregation="only_first_replica",
        )

    def lookup(self, index, batch_size):
        """The control variate of each example of the batch, shape `(batch_size,)`."""
        return tf.fill([batch_size], tf.convert_to_tensor(self.value))

    def update(self, f, index, totals=None):
        """Moves c towards the global batch mean of `f`, the per-example f(z_T).

        `totals`: `batch_sum_and_count(f)` already summed over the replicas (a
        training step sums it with everything else in one all-reduce); computed here
        if None.
        """
        if totals is None:
            totals = sum_over_replicas(batch_sum_and_count(f))
        mean_f = totals["sum"] / totals["count"]
        self.value.assign(self.decay * self.value + (1.0 - self.decay) * mean_f)

    def get_config(self):
        config = super().get_config()
        config.update(decay=self.decay)
        return config


@keras.saving.register_keras_serializable(package="keras_vcd")
class LocalControlVariate(keras.layers.Layer):
    """One value per training example: `c_i <- decay * c_i + (1 - decay) * f_i`.

    For the first `warmup_steps` updates every entry follows the global rule (all
    entries move to the batch mean), so examples not yet visited start from a sensible
    value. Memory is O(num_examples).

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd.models.control_variates import LocalControlVariate
    >>> cv = LocalControlVariate(num_examples=4, warmup_steps=0)
    >>> cv.build(None)
    >>> cv.update(tf.constant([10.0]), index=tf.constant([2]))
    >>> cv.values.numpy().tolist()
    [0.0, 0.0, 1.0, 0.0]
    """

    def __init__(self, num_examples, warmup_steps=3000, decay=0.9, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_examples, int) or num_examples < 1:
            raise ValueError(
                "control_variate='local' needs num_train_examples, a positive int (the "
                f"size of the training set); received {num_examples!r}."
            )
        if not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, received {warmup_steps!r}.")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), received {decay!r}.")
        self.num_examples = num_examples
        self.warmup_steps = warmup_steps
        self.decay = float(decay)

    def build(self, input_shape=None):
        self.values = self.add_weight(
            shape=(self.num_examples,), initializer="zeros", trainable=False,
            name="values", aggregation="only_first_replica",
        )
        self.updates = self.add_weight(
            shape=(), initializer="zeros", dtype="int64", trainable=False,
            name="updates", aggregation="only_first_replica",
        )

    def lookup(self, index, batch_size):
        """c of each example; the mean over all examples where `index` is None."""
        if index is None:
            return tf.fill([batch_size], tf.reduce_mean(self.values))
        return tf.gather(self.values, index)

    def update(self, f, index, totals=None):
        """Updates the entries of `index` (and, in the warm-up, all) from `f`.

        `totals`: as for `GlobalControlVariate.update`.
        """
        values = tf.convert_to_tensor(self.values)
        index = tf.cast(index, tf.int32)
        # Both rules' cross-replica reductions run outside tf.cond: tf.distribute
        # cannot synchronise replicas inside a conditional branch.
        if totals is None:
            totals = sum_over_replicas(batch_sum_and_count(f))
        mean_f = totals["sum"] / totals["count"]
        index_all, f_all = gather_indexed_values(index, f)

        def global_rule():
            return self.decay * values + (1.0 - self.decay) * mean_f

        def local_rule():
            blended = self.decay * tf.gather(values, index_all) + (1.0 - self.decay) * f_all
            return tf.tensor_scatter_nd_update(values, index_all[:, tf.newaxis], blended)

        self.values.assign(tf.cond(self.updates < self.warmup_steps, global_rule, local_rule))
        self.updates.assign_add(1)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_examples=self.num_examples, warmup_steps=self.warmup_steps, decay=self.decay
        )
        return config


def make_control_variate(kind, num_train_examples=None, warmup_steps=3000, decay=0.9):
    """Builds the control-variate layer for `kind` ("global", "local" or None)."""
    if kind not in CONTROL_VARIATES:
        raise ValueError(
            f"Unknown control_variate {kind!r}; expected one of {list(CONTROL_VARIATES)}."
        )
    if kind == "global":
        return GlobalControlVariate(decay=decay, name="control_variate")
    if kind == "local":
        return LocalControlVariate(
            num_train_examples, warmup_steps=warmup_steps, decay=decay, name="control_variate"
        )
    return None
