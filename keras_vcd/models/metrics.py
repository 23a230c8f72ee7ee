"""The metrics a `VCDModel` reports (DESIGN.md's names), and `LastValue`."""

import keras
import tensorflow as tf

from keras_vcd.models import objectives


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


# What every objective reports, and what those that run HMC add (DESIGN.md's names).
_MEANS = ("loss", "elbo")
_HMC_MEANS = ("log_lik_qt", "stoch_vcd", "hmc_accept_rate")


def training_metrics(objective):
    """The metrics a model trained by `objective` reports, as fresh Keras metrics.

    Example:

    >>> from keras_vcd.models.metrics import training_metrics
    >>> [m.name for m in training_metrics("elbo")]
    ['loss', 'elbo']
    """
    metrics = [keras.metrics.Mean(name=name) for name in _MEANS]
    if objective != "elbo":
        metrics += [keras.metrics.Mean(name=name) for name in _HMC_MEANS]
        metrics.append(LastValue(name="hmc_step_size"))
    return metrics


def step_values(terms, losses, info, batch_size):
    """One step's value of each averaged metric of `training_metrics`, by name.

    Args:
        terms: the step's `objectives.ForwardTerms`.
        losses: its `objectives.Losses`.
        info: the refiner's info dict, or None where no HMC ran.
        batch_size: the number of examples in the step (this replica's).
    """
    values = {
        "loss": losses.total / tf.cast(batch_size, losses.total.dtype),
        "elbo": tf.reduce_mean(objectives.elbo_per_example(terms)),
    }
    if info is not None:
        values.update(
            log_lik_qt=tf.reduce_mean(terms.log_joint_zt),
            stoch_vcd=tf.reduce_mean(objectives.stochastic_vcd(terms)),
            hmc_accept_rate=info["accept_rate"],
        )
    return values


def report(trackers, values, step_size=None):
    """Updates `trackers` with one step's values; returns the logs a step hands Keras.

    Args:
        trackers: the metrics of `training_metrics`.
        values: the step's `step_values` (or their `global_values`).
        step_size: the refiner's step size after the step; None where no HMC ran.

    Returns:
        {name: the tracker's result so far}.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd.models import metrics, objectives
    >>> zeros = tf.zeros([2, 1])
    >>> terms = objectives.ForwardTerms(zeros, tf.ones([2, 1]), zeros, zeros,
    ...                                 tf.constant([-1.0, -3.0]), None, None)
    >>> values = metrics.step_values(terms, objectives.elbo_losses(terms), None, 2)
    >>> logs = metrics.report(metrics.training_metrics("elbo"), values)
    >>> {name: round(float(value), 3) for name, value in logs.items()}
    {'loss': 2.0, 'elbo': -0.581}
    """
    if step_size is not None:
        values = dict(values, hmc_step_size=step_size)
    for tracker in trackers:
        tracker.update_state(values[tracker.name])
    return {tracker.name: tracker.result() for tracker in trackers}


def examples_weighted(values, batch_size):
    """`values` (means over this replica's batch) times its size, and the size.

    Summed over replicas (`replicas.sum_over_replicas`), `global_values` of the
    result are the means over the global batch, the same on every replica.
    """
    count = tf.cast(batch_size, tf.float32)
    return {"sums": {name: tf.cast(value, tf.float32) * count
                     for name, value in values.items()}, "examples": count}


def global_values(weighted_totals):
    """The means over the global batch from summed `examples_weighted` values."""
    return {name: total / weighted_totals["examples"]
            for name, total in weighted_totals["sums"].items()}
