"""The variational family q(z | x) = N(mean(x), diag std(x)^2)."""

import keras

from keras_vcd.layers.mlp import check_hidden_units, make_mlp


@keras.saving.register_keras_serializable(package="keras_vcd")
class GaussianEncoder(keras.layers.Layer):
    """Maps data to the mean and standard deviation of a diagonal Gaussian.

    Two separate MLPs, as in the VCD paper: `mean_network` with a linear output and
    `std_network` with a softplus output plus `min_std`, so that `1 / std` never
    overflows. They are separate sublayers so that each can have its own optimizer.

    Args:
        latent_dim: dimension of z (positive int).
        hidden_units: sizes of the hidden layers of each MLP.
        activation: activation of the hidden layers.
        min_std: added to the softplus output; a floor for the standard deviation.

    Call arguments:
        inputs: `(batch, input_dim)` tensor.

    Returns:
        `(mean, std)`, each of shape `(batch, latent_dim)`.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> encoder = kv.GaussianEncoder(latent_dim=10, hidden_units=(200, 200))
    >>> mean, std = encoder(np.zeros((3, 784), "float32"))
    >>> tuple(mean.shape), bool((std > 0).numpy().all())
    ((3, 10), True)
    """

    def __init__(self, latent_dim=10, hidden_units=(200, 200), activation="relu",
                 min_std=1e-4, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, received {latent_dim!r}.")
        if not min_std > 0:
            raise ValueError(f"min_std must be > 0, received {min_std!r}.")
        self.latent_dim = latent_dim
        self.hidden_units = check_hidden_units(hidden_units)
        self.activation = activation
        self.min_std = float(min_std)
        self.mean_network = make_mlp(self.hidden_units, latent_dim, activation, name="mean_network")
        self.std_network = make_mlp(
            self.hidden_units, latent_dim, activation, output_activation="softplus",
            name="std_network",
        )

    def build(self, input_shape):
        self.mean_network.build(input_shape)
        self.std_network.build(input_shape)

    def call(self, inputs):
        return self.mean_network(inputs), self.std_network(inputs) + self.min_std

    def compute_output_spec(self, inputs):
        shape = (inputs.shape[0], self.latent_dim)
        spec = keras.KerasTensor(shape, dtype=self.compute_dtype)
        return spec, spec

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "hidden_units": list(self.hidden_units), "activation": self.activation,
                "min_std": self.min_std}

