"""A plain multilayer perceptron, the default body of the encoder's and decoder's networks."""

import keras
import numpy as np


def check_positive_int(value, name):
    """Returns `value` as an int if it is a positive int (numpy ints too), else raises."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, received {value!r}.")
    return int(value)


def check_hidden_units(hidden_units):
    """Returns `hidden_units` as a tuple of positive ints (an int is one layer), or raises."""
    if isinstance(hidden_units, (int, np.integer)) and not isinstance(hidden_units, bool):
        hidden_units = (hidden_units,)
    try:
        units = tuple(hidden_units)
    except TypeError:
        units = None
    if units is None or not all(
            isinstance(u, (int, np.integer)) and not isinstance(u, bool) and u > 0 for u in units):
        raise ValueError(
            f"hidden_units must be a positive int or a sequence of them (() for a linear "
            f"network), received {hidden_units!r}."
        )
    return tuple(int(u) for u in units)


def deserialize_networks(config, keys):
    """A copy of a layer config whose `keys` (serialised networks, or None) are layers again."""
    return {key: keras.saving.deserialize_keras_object(value)
            if key in keys and value is not None else value for key, value in config.items()}


def make_mlp(hidden_units, output_units, activation, output_activation=None, name=None):
    """A `keras.Sequential` of Dense layers: `hidden_units` hidden, then `output_units`."""
    layers = [keras.layers.Dense(u, activation=activation) for u in hidden_units]
    layers.append(keras.layers.Dense(output_units, activation=output_activation))
    return keras.Sequential(layers, name=name)
