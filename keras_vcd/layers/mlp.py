"""A plain multilayer perceptron, the default body of the encoder's and decoder's networks."""

import numbers

import keras

from keras_vcd.validation import check_int


def check_hidden_units(hidden_units):
    """Returns `hidden_units` as a tuple of positive ints (an int is one layer), or raises."""
    if isinstance(hidden_units, numbers.Integral):  # a bool too: check_int refuses it
        hidden_units = (hidden_units,)
    try:
        units = tuple(hidden_units)
    except TypeError:
        raise ValueError(
            f"hidden_units must be a positive int or a sequence of them (() for a linear "
            f"network), received {hidden_units!r}."
        ) from None
    return tuple(check_int(u, f"hidden_units[{i}]") for i, u in enumerate(units))


def deserialize_networks(config, keys):
    """A copy of a layer config whose `keys` (serialised networks, or None) are layers again."""
    return {key: keras.saving.deserialize_keras_object(value)
            if key in keys and value is not None else value for key, value in config.items()}


def make_mlp(hidden_units, output_units, activation, output_activation=None, name=None):
    """A `keras.Sequential` of Dense layers: `hidden_units` hidden, then `output_units`."""
    layers = [keras.layers.Dense(u, activation=activation) for u in hidden_units]
    layers.append(keras.layers.Dense(output_units, activation=output_activation))
    return keras.Sequential(layers, name=name)
