"""The likelihood p(x | z) = N(x; network(z), diag scale^2), for real-valued data."""

import keras
from keras import ops

from keras_vcd import mcmc
from keras_vcd.densities import gaussian_log_prob
from keras_vcd.layers.decoder import Decoder
from keras_vcd.validation import check_choice, check_number

LEARNED = "learned"  # one scale per feature: factor analysis with a linear network
LEARNED_SHARED = "learned_shared"  # one for all features: probabilistic PCA when linear


@keras.saving.register_keras_serializable(package="keras_vcd")
class GaussianDecoder(Decoder):
    """Independent Gaussian features whose means the network outputs.

    For continuous data log p(x) is a log density, which can be positive.

    Args:
        output_dim or output_shape: the shape of one example (see `Decoder`).
        hidden_units, activation, network: the network, see `Decoder`.
        scale: the standard deviation, fixed or learned:
            a positive float, shared by every feature (the reference's Gaussian
            matrix factorisation uses 0.1, sigma^2 = 0.01);
            `"learned"`: one per feature, so a linear decoder is factor analysis;
            `"learned_shared"`: one for all features, so a linear decoder is
            probabilistic PCA (Tipping & Bishop 1999).
            A learned scale is `softplus(w) + min_scale`, starts at about 1 and is
            trained with the decoder's parameter group.
        min_scale: the floor of a learned scale, so that `1 / scale` never overflows.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> decoder = kv.GaussianDecoder(output_dim=13, hidden_units=(64,), scale=0.1)
    >>> z = np.zeros((2, 4), "float32")
    >>> tuple(decoder.log_likelihood(np.zeros((2, 13), "float32"), z).shape)
    (2,)
    """

    def __init__(self, output_dim=None, hidden_units=None, activation="relu", scale=LEARNED,
                 min_scale=1e-4, output_shape=None, network=None, **kwargs):
        super().__init__(output_shape=output_shape, output_dim=output_dim,
                         hidden_units=hidden_units, activation=activation,
                         network=network, **kwargs)
        self.scale = (check_choice(scale, "scale", (LEARNED, LEARNED_SHARED))
                      if isinstance(scale, str) else
                      check_number(scale, "scale", 0, exclusive_minimum=True))
        self.min_scale = check_number(min_scale, "min_scale", 0, exclusive_minimum=True)

    @property
    def learned(self):
        """Whether the scale is a weight (`"learned"` or `"learned_shared"`)."""
        return isinstance(self.scale, str)

    def build(self, input_shape):
        super().build(input_shape)
        if self.learned:
            # softplus(0.5413) = 1: a unit scale to start from.
            self.raw_scale = self.add_weight(
                shape=self.event_shape if self.scale == LEARNED else (),
                initializer=keras.initializers.Constant(0.5413), name="raw_scale",
            )

    def scale_values(self):
        """The standard deviation: one per feature (`event_shape`) or a scalar."""
        if self.learned:
            return ops.softplus(self.raw_scale) + self.min_scale
        return ops.convert_to_tensor(self.scale, self.compute_dtype)

    def log_prob(self, x, outputs):
        # A trailing axis of one feature: the element-wise density of each coordinate.
        scale = self.scale_values()[..., None]
        return gaussian_log_prob(x[..., None], outputs[..., None], scale)

    def mean_from(self, outputs):
        return outputs

    def sample_from(self, outputs, seed):
        noise = mcmc.normal(ops.shape(outputs), seed, outputs.dtype)
        return outputs + self.scale_values() * noise

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "min_scale": self.min_scale}

