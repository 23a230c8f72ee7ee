"""`Decoder`: the base layer of every likelihood p(x | z)."""

import math

import keras
from keras import ops

from keras_vcd import validation
from keras_vcd.layers.mlp import check_hidden_units, deserialize_networks, make_mlp

DEFAULT_HIDDEN_UNITS = (200, 200)


def check_event_shape(output_shape, output_dim):
    """The event shape from exactly one of `output_shape` (a tuple) or `output_dim` (an int)."""
    if (output_shape is None) == (output_dim is None):
        raise ValueError(
            "A decoder needs the size of one example: give exactly one of output_dim (an "
            "int D for flat data, e.g. 784) and output_shape (e.g. (28, 28, 1)); received "
            f"output_shape={output_shape!r}, output_dim={output_dim!r}."
        )
    if output_dim is not None:
        return (validation.check_int(output_dim, "output_dim"),)
    try:
        shape = tuple(output_shape)
    except TypeError:
        shape = ()
    if not shape:
        raise ValueError(
            f"output_shape must be a non-empty tuple of positive ints, received {output_shape!r}."
        )
    return tuple(validation.check_int(d, f"output_shape[{i}]") for i, d in enumerate(shape))


class Decoder(keras.layers.Layer):
    """The base layer of every likelihood p(x | z): a network and a distribution.

    The network maps `(batch, latent_dim)` codes to the distribution's parameters, of
    shape `(batch, *event_shape)`; the subclass says what they mean. By default the
    network is an MLP (`hidden_units`, then a linear layer; `hidden_units=()` is a
    linear decoder); `network=` takes any Keras layer instead (e.g. transposed
    convolutions for images). The layer's call returns the parameters.

    A subclass implements four things, all on tensors of shape `(..., *event_shape)`:
    `log_prob(x, outputs)` (element-wise log densities), `mean_from(outputs)`,
    `sample_from(outputs, seed)` and `in_support(x)` (a boolean mask), and sets
    `support`, the allowed values in words. Everything else (`log_likelihood` summed
    over the event dims with leading sample axes, `mean`, `sample`, `check_data`) is
    here.

    Args:
        output_shape: the shape of one example, e.g. `(784,)` or `(28, 28, 1)`.
        output_dim: an int D, the same as `output_shape=(D,)`. Give one of the two:
            there is no default size (as `keras.layers.Dense` has no default `units`).
        hidden_units: hidden layer sizes of the default MLP; an int is one layer.
            `(200, 200)` when neither this nor `network` is given.
        activation: activation of the MLP's hidden layers.
        network: any Keras layer mapping z to `(batch, *event_shape)` parameters,
            instead of the MLP.

    Example, a likelihood written by a user (exponential data, rate = softplus):

    >>> import keras, numpy as np, tensorflow as tf, keras_vcd as kv
    >>> @keras.saving.register_keras_serializable(package="docs")
    ... class ExponentialDecoder(kv.layers.Decoder):
    ...     support = "values >= 0"
    ...     def log_prob(self, x, outputs):
    ...         rate = tf.nn.softplus(outputs) + 1e-4
    ...         return tf.math.log(rate) - rate * x
    ...     def mean_from(self, outputs):
    ...         return 1.0 / (tf.nn.softplus(outputs) + 1e-4)
    ...     def sample_from(self, outputs, seed):
    ...         u = kv.mcmc.uniform(tf.shape(outputs), seed, outputs.dtype)
    ...         return -tf.math.log1p(-u) * self.mean_from(outputs)
    ...     def in_support(self, x):
    ...         return x >= 0
    >>> decoder = ExponentialDecoder(output_dim=3, hidden_units=(8,))
    >>> z = np.zeros((2, 4), "float32")
    >>> tuple(decoder.log_likelihood(np.ones((2, 3), "float32"), z).shape)
    (2,)
    """

    #: The values the likelihood allows, in words, for error messages.
    support = "any real values"
    #: How to fix data outside the support, appended to error messages.
    support_hint = ""

    def __init__(self, output_shape=None, output_dim=None, hidden_units=None,
                 activation="relu", network=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(output_shape, output_dim)
        if network is not None and hidden_units is not None:
            raise ValueError(
                f"Give hidden_units (the default MLP) or network (your own layer), not "
                f"both; received hidden_units={hidden_units!r} and network={network!r}."
            )
        if network is not None and not isinstance(network, keras.layers.Layer):
            raise ValueError(
                f"network must be a Keras layer mapping z to (batch, *event_shape) "
                f"parameters, received {network!r}."
            )
        self.activation = activation
        self.hidden_units = None if network is not None else check_hidden_units(
            DEFAULT_HIDDEN_UNITS if hidden_units is None else hidden_units
        )
        self.network = network if network is not None else make_mlp(
            self.hidden_units, math.prod(self.event_shape), activation, name="network"
        )

    @property
    def output_dim(self):
        """The number of values in one example, `prod(event_shape)`."""
        return math.prod(self.event_shape)

    def build(self, input_shape):
        if not self.network.built:
            self.network.build(input_shape)

    def call(self, z):
        outputs = self.network(z)
        if self.hidden_units is not None:  # the MLP's outputs are flat
            return ops.reshape(outputs, (-1, *self.event_shape))
        shape = tuple(outputs.shape[1:])
        if None not in shape and shape != self.event_shape:  # unknown dims: checked at run time
            raise ValueError(
                f"The decoder's network returned shape {tuple(outputs.shape)}, but the "
                f"event shape is {self.event_shape}: its outputs must have shape "
                f"(batch, *{self.event_shape})."
            )
        return outputs

    def compute_output_spec(self, z):
        return keras.KerasTensor((z.shape[0], *self.event_shape), dtype=self.compute_dtype)

    def outputs_at(self, z):
        """The network's outputs at `z`, which may carry leading sample axes.

        `z` of shape `(samples, batch, latent)` gives `(samples, batch, *event_shape)`
        without a copy of the data per sample, which keeps importance sampling with
        thousands of samples per example fast.
        """
        if len(z.shape) == 2:
            return self(z)
        leading = ops.shape(z)[:-1]
        outputs = self(ops.reshape(z, (-1, z.shape[-1])))
        return ops.reshape(outputs, (*leading, *self.event_shape))

    def log_likelihood(self, x, z):
        """log p(x | z), summed over the event dims: shape `z.shape[:-1]`.

        `x` of shape `(batch, *event_shape)` broadcasts against leading sample axes
        of `z`.
        """
        event_axes = tuple(range(-len(self.event_shape), 0))
        return ops.sum(self.log_prob(x, self.outputs_at(z)), axis=event_axes)

    def mean(self, z):
        """E[x | z], shape `(batch, *event_shape)`."""
        return self.mean_from(self.outputs_at(z))

    def sample(self, z, seed):
        """A draw x ~ p(x | z) for a shape-`[2]` integer `seed`."""
        return self.sample_from(self.outputs_at(z), seed)

    def check_data(self, x, name="x", exact=False):
        """Returns `x` as float32 if it is `(N, *event_shape)` data in the support.

        `exact=True` asks for the support of the density itself, as log p(x) needs;
        a likelihood that accepts relaxed data for training (Bernoulli targets in
        [0, 1]) then refuses them.

        Raises:
            ValueError: naming the bad value (or shape) and the support accepted.
        """
        x = validation.check_array(x, self.event_shape, name=name)
        validation.check_support(x, self.in_support(x), self.support, self.support_hint, name)
        return x

    def check_dataset(self, dataset, name="dataset"):
        """`check_data` for a `tf.data.Dataset`: shapes now, values while iterating."""
        return validation.check_dataset(
            dataset, self.event_shape, self.in_support, self.support, name=name
        )

    def log_prob(self, x, outputs):
        """Element-wise log p(x | outputs); implemented by each likelihood."""
        raise NotImplementedError(f"{type(self).__name__} must implement log_prob.")

    def mean_from(self, outputs):
        """E[x | outputs]; implemented by each likelihood."""
        raise NotImplementedError(f"{type(self).__name__} must implement mean_from.")

    def sample_from(self, outputs, seed):
        """A draw from p(x | outputs); implemented by each likelihood."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample_from.")

    def in_support(self, x):
        """True where a value is allowed (on arrays and tensors); all reals by default."""
        return ops.ones_like(x, dtype="bool")

    def get_config(self):
        flat = len(self.event_shape) == 1
        return {
            **super().get_config(),
            "output_shape": None if flat else list(self.event_shape),
            "output_dim": self.event_shape[0] if flat else None,
            "hidden_units": None if self.hidden_units is None else list(self.hidden_units),
            "activation": self.activation,
            "network": None if self.hidden_units is not None
            else keras.saving.serialize_keras_object(self.network),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_networks(config, ("network",)))
