"""The diagonal Gaussian log density, written once for the prior, q(z | x) and proposals."""

import math

import tensorflow as tf

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def gaussian_log_prob(z, mean=0.0, std=1.0, normalized=True):
    """log N(z; mean, diag std^2), summed over the last axis.

    Args:
        z: `(..., D)` points.
        mean, std: broadcastable to `z`; the defaults give the standard normal.
        normalized: include the constant `-D/2 log(2 pi)`. Without it the value is
            still exact up to that constant, which is all a score-function surrogate
            needs (the VCD encoder loss weighs log q by a stop-gradient factor).

    Returns:
        `(...)` log densities.

    Example:

    >>> import numpy as np
    >>> from keras_vcd.densities import gaussian_log_prob
    >>> round(float(gaussian_log_prob(np.zeros((1, 2), "float32"))[0]), 4)
    -1.8379
    """
    z = tf.convert_to_tensor(z)
    standardized = (z - mean) / std
    log_prob = -tf.reduce_sum(tf.math.log(std) + 0.5 * tf.square(standardized), axis=-1)
    if normalized:
        log_prob -= z.shape[-1] * _HALF_LOG_TWO_PI
    return log_prob
