"""The variational family q(z | x) = N(mean(x), diag std(x)^2)."""

import math

import keras
from keras import ops

from keras_vcd.layers.mlp import check_hidden_units, deserialize_networks, make_mlp
from keras_vcd.validation import check_int, check_number

DEFAULT_HIDDEN_UNITS = (200, 200)


@keras.saving.register_keras_serializable(package="keras_vcd")
class GaussianEncoder(keras.layers.Layer):
    """Maps data to the mean and standard deviation of a diagonal Gaussian.

    Two separate networks, as in the VCD paper: `mean_network` with a linear output
    and `std_network` whose output goes through softplus plus `min_std`, so that
    `1 / std` never overflows. They are separate sublayers so that each has its own
    optimizer. By default both are MLPs (`hidden_units`; data of any shape is
    flattened first); `mean_network=` and `std_network=` take any Keras layers
    instead (e.g. convolutional nets for images), each mapping `(batch, *shape)`
    data to `(batch, latent_dim)`.

    Args:
        latent_dim: dimension of z (positive int), required.
        hidden_units: hidden layer sizes of each default MLP; an int is one layer.
            `(200, 200)` when no networks are given.
        activation: activation of the MLPs' hidden layers.
        min_std: added to the softplus output; a floor for the standard deviation.
        mean_network, std_network: your own networks (give both, or neither).
        input_scale: the data are multiplied by it before the networks see them
            (e.g. 1/255 for raw pixel counts).

    Call arguments:
        inputs: `(batch, *shape)` tensor.

    Returns:
        `(mean, std)`, each of shape `(batch, latent_dim)`.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> encoder = kv.GaussianEncoder(latent_dim=10, hidden_units=(200, 200))
    >>> mean, std = encoder(np.zeros((3, 784), "float32"))
    >>> tuple(mean.shape), bool((std > 0).numpy().all())
    ((3, 10), True)
    """

    def __init__(self, latent_dim, hidden_units=None, activation="relu", min_std=1e-4,
                 mean_network=None, std_network=None, input_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = check_int(latent_dim, "latent_dim")
        self.min_std = check_number(min_std, "min_std", 0, exclusive_minimum=True)
        self.input_scale = check_number(input_scale, "input_scale", 0, exclusive_minimum=True)
        if (mean_network is None) != (std_network is None):
            raise ValueError(
                "Give both mean_network and std_network (your own networks), or neither "
                f"(the default MLPs); received mean_network={mean_network!r}, "
                f"std_network={std_network!r}."
            )
        custom = mean_network is not None
        if custom and hidden_units is not None:
            raise ValueError(
                f"Give hidden_units (the default MLPs) or mean_network/std_network, not "
                f"both; received hidden_units={hidden_units!r}."
            )
        for name, network in (("mean_network", mean_network), ("std_network", std_network)):
            if custom and not isinstance(network, keras.layers.Layer):
                raise ValueError(f"{name} must be a Keras layer, received {network!r}.")
        self.hidden_units = None if custom else check_hidden_units(
            DEFAULT_HIDDEN_UNITS if hidden_units is None else hidden_units
        )
        self.activation = activation
        if custom:
            self.mean_network, self.std_network = mean_network, std_network
        else:
            self.mean_network = make_mlp(self.hidden_units, self.latent_dim, activation,
                                         name="mean_network")
            self.std_network = make_mlp(self.hidden_units, self.latent_dim, activation,
                                        name="std_network")

    def build(self, input_shape):
        if self.hidden_units is not None:  # the MLPs see flattened examples
            input_shape = (input_shape[0], math.prod(input_shape[1:]))
        for network in (self.mean_network, self.std_network):
            if not network.built:
                network.build(input_shape)

    def call(self, inputs):
        x = inputs if self.input_scale == 1.0 else inputs * self.input_scale
        if self.hidden_units is not None and len(x.shape) > 2:
            x = ops.reshape(x, (-1, math.prod(x.shape[1:])))
        mean, raw_std = self.mean_network(x), self.std_network(x)
        for name, value in (("mean_network", mean), ("std_network", raw_std)):
            shape = tuple(value.shape[1:])
            if None not in shape and shape != (self.latent_dim,):
                raise ValueError(
                    f"{name} returned shape {tuple(value.shape)}; expected (batch, "
                    f"{self.latent_dim}), one value per latent dimension."
                )
        return mean, ops.softplus(raw_std) + self.min_std

    def compute_output_spec(self, inputs):
        shape = (inputs.shape[0], self.latent_dim)
        spec = keras.KerasTensor(shape, dtype=self.compute_dtype)
        return spec, spec

    def get_config(self):
        custom = self.hidden_units is None
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "hidden_units": None if custom else list(self.hidden_units),
            "activation": self.activation,
            "min_std": self.min_std,
            "mean_network": keras.saving.serialize_keras_object(self.mean_network)
            if custom else None,
            "std_network": keras.saving.serialize_keras_object(self.std_network)
            if custom else None,
            "input_scale": self.input_scale,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_networks(config, ("mean_network", "std_network")))
