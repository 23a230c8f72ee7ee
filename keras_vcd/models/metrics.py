"""The metrics a `VCDModel` reports (DESIGN.md's names), and `LastValue`."""

import keras
import tensorflow as tf

from keras_vcd.distribute import keras_workarounds
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


def step_values(terms, losses, info, step_size, batch_size):
    """One step's value of each metric of `training_metrics`, by name.

    Args:
        terms: the step's `objectives.ForwardTerms`.
        losses: its `objectives.Losses`.
        info: the refiner's info dict, or None where no HMC ran.
        step_size: the refiner's step size after the step.
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
            hmc_step_size=step_size,
        )
    return values


def report(trackers, terms, losses, info, step_size, batch_size):
    """Updates `trackers` with one step's values; returns the logs a step hands Keras.

    Args:
        trackers: the metrics of `training_metrics`.
        terms, losses, info, step_size, batch_size: as `step_values`' arguments.

    Returns:
        {name: the tracker's result so far}, in a form Keras reduces under every
        strategy (`keras_workarounds.reducible_logs`).

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd.models import metrics, objectives
    >>> zeros = tf.zeros([2, 1])
    >>> terms = objectives.ForwardTerms(zeros, tf.ones([2, 1]), zeros, zeros,
    ...                                 tf.constant([-1.0, -3.0]), None, None)
    >>> logs = metrics.report(metrics.training_metrics("elbo"), terms,
    ...                       objectives.elbo_losses(terms), None, None, batch_size=2)
    >>> {name: round(float(value), 3) for name, value in logs.items()}
    {'loss': 2.0, 'elbo': -0.581}
    """
    values = step_values(terms, losses, info, step_size, batch_size)
    for tracker in trackers:
        tracker.update_state(values[tracker.name])
    logs = {tracker.name: tracker.result() for tracker in trackers}
    return keras_workarounds.reducible_logs(logs)
