"""The likelihood p(x | z) = Poisson(rate = softplus(network(z)) + floor), for counts."""

import keras
import tensorflow as tf
from keras import ops

from keras_vcd.layers.decoder import Decoder
from keras_vcd.validation import check_number


@keras.saving.register_keras_serializable(package="keras_vcd")
class PoissonDecoder(Decoder):
    """Independent Poisson counts with rate `softplus(network(z)) + min_rate`.

    log p(x | z) = sum_d [x_d log rate_d - rate_d - log x_d!]; the floor keeps
    `log rate` finite (the reference uses 1e-4). It is added, as the reference's
    `softplus_threshold` does, not a `max`: below a hard floor the gradient is zero, so a
    feature whose rate fell under it could never recover.

    Args:
        output_dim or output_shape: the shape of one example (see `Decoder`).
        hidden_units, activation, network: the network, see `Decoder`.
        min_rate: the rate's floor.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> decoder = kv.PoissonDecoder(output_dim=784, hidden_units=())
    >>> z = np.zeros((2, 50), "float32")
    >>> tuple(decoder.log_likelihood(np.zeros((2, 784), "float32"), z).shape)
    (2,)
    """

    support = "non-negative integer counts"
    support_hint = "(raw counts such as pixel values 0..255, not rescaled)"

    def __init__(self, output_dim=None, hidden_units=None, activation="relu", min_rate=1e-4,
                 output_shape=None, network=None, **kwargs):
        super().__init__(output_shape=output_shape, output_dim=output_dim,
                         hidden_units=hidden_units, activation=activation,
                         network=network, **kwargs)
        self.min_rate = check_number(min_rate, "min_rate", 0, exclusive_minimum=True)

    def rate(self, outputs):
        return ops.softplus(outputs) + self.min_rate

    def log_prob(self, x, outputs):
        rate = self.rate(outputs)
        return x * ops.log(rate) - rate - tf.math.lgamma(x + 1.0)

    def mean_from(self, outputs):
        return self.rate(outputs)

    def sample_from(self, outputs, seed):
        rate = self.rate(outputs)
        return tf.random.stateless_poisson(tf.shape(rate), seed, rate, dtype=rate.dtype)

    def in_support(self, x):
        return (x >= 0) & (x == ops.round(x))

    def get_config(self):
        return {**super().get_config(), "min_rate": self.min_rate}
