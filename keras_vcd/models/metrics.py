"""`LastValue`: a metric that reports the latest value, such as the adapted step size."""

import keras
import tensorflow as tf


class LastValue(keras.metrics.Metric):
    """Reports the value of the latest `update_state`, not a mean over the epoch.

    A state of the model (the HMC step size) is a metric too, so that Keras lists it
    in `metrics_names` beside the averaged ones and `evaluate` returns one named
    float per metric.

    Example:

    >>> from keras_vcd.models.metrics import LastValue
    >>> metric = LastValue(name="hmc_step_size")
    >>> metric.update_state(0.3); metric.update_state(0.2)
    >>> round(float(metric.result()), 3)
    0.2
    """

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        # Every replica of a tf.distribute strategy records the same value (the step
        # size is synchronised); a metric's default aggregation, "sum", would report
        # it times the number of replicas.
        self.value = self.add_variable(shape=(), initializer="zeros", name="value",
                                       aggregation="only_first_replica")

    def update_state(self, value):
        self.value.assign(keras.ops.cast(value, self.value.dtype))

    def result(self):
        # A read, not the variable: under a tf.distribute strategy, convert_to_tensor
        # hands back the (mirrored) variable itself, which fit's history then held
        # instead of a number (float() of it fails).
        return tf.identity(self.value)
