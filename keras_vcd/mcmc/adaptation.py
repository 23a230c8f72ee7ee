"""The step-size adaptation rule of the VCD reference implementation."""

import tensorflow as tf


def adapt_step_size(step_size, mean_accept_rate, target_accept_rate=0.9,
                    adaptation_rate=0.01):
    """Moves one shared step size towards a target mean acceptance rate.

    `step_size <- step_size + rate * step_size * (mean_accept - target) / target`. The
    update is multiplicative and the relative error is at least -1, so the step size
    stays positive whenever `adaptation_rate < 1`.

    Args:
        step_size: scalar tensor, the current step size.
        mean_accept_rate: scalar tensor, the acceptance averaged over the batch.
        target_accept_rate: the acceptance the rule aims for.
        adaptation_rate: relative change per call.

    Returns:
        The new step size, a scalar tensor of the same dtype.
    """
    mean_accept_rate = tf.cast(mean_accept_rate, step_size.dtype)
    relative_error = (mean_accept_rate - target_accept_rate) / target_accept_rate
    return step_size + adaptation_rate * step_size * relative_error
