"""A plain multilayer perceptron, the body of the encoder's and decoder's networks."""

import keras


def check_hidden_units(hidden_units):
    """Returns `hidden_units` as a tuple of positive ints, or raises a `ValueError`."""
    units = tuple(hidden_units)
    if not all(isinstance(u, int) and u > 0 for u in units):
        raise ValueError(
            f"hidden_units must be a sequence of positive ints, received {hidden_units!r}."
        )
    return units


def make_mlp(hidden_units, output_units, activation, output_activation=None, name=None):
    """A `keras.Sequential` of Dense layers: `hidden_units` hidden, then `output_units`."""
    layers = [keras.layers.Dense(u, activation=activation) for u in hidden_units]
    layers.append(keras.layers.Dense(output_units, activation=output_activation))
    return keras.Sequential(layers, name=name)
