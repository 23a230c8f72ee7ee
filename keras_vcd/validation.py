"""Checks on arguments and user data, with errors that name the bad value and what was expected.

Arguments: `check_int`, `check_number`, `check_choice` and `check_instance` are the one set of
validators every constructor and function uses, so a bad value reads the same
everywhere (a bool is never an int here, although Python says it is one).

Data: what values are allowed belongs to the likelihood: every `Decoder` names its
support and checks it through `check_array` (shape, emptiness, finiteness) and
`check_support` here, so the same data are checked the same way on every path
(`fit`, `evaluate`, the estimators). `check_dataset` does the same for `tf.data`.
"""

import math
import numbers

import numpy as np
import tensorflow as tf


def check_int(value, name, minimum=1, maximum=None):
    """Returns `value` as an int if it is an int (numpy ints too, never a bool) in range.

    Args:
        value: the argument to check.
        name: the argument's name, for the message.
        minimum: the smallest allowed value (None: no lower bound).
        maximum: the largest allowed value (None: no upper bound).

    Example:

    >>> from keras_vcd.validation import check_int
    >>> check_int(3, "num_steps")
    3
    >>> check_int(True, "num_steps")
    Traceback (most recent call last):
    ValueError: num_steps must be an int >= 1, received True.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or (
            minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an int {_describe_range(minimum, maximum)}, "
                         f"received {value!r}.")
    return int(value)


def check_number(value, name, minimum=None, maximum=None, exclusive_minimum=False,
                 exclusive_maximum=False):
    """Returns `value` as a float if it is a finite real number (never a bool) in range.

    Example:

    >>> from keras_vcd.validation import check_number
    >>> check_number(0.9, "target_accept_rate", 0, 1, exclusive_minimum=True,
    ...              exclusive_maximum=True)
    0.9
    >>> check_number(0.0, "scale", 0, exclusive_minimum=True)
    Traceback (most recent call last):
    ValueError: scale must be a finite number > 0, received 0.0.
    """
    ok = (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
          and math.isfinite(value))
    if ok and minimum is not None:
        ok = value > minimum if exclusive_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if exclusive_maximum else value <= maximum
    if not ok:
        bounds = _describe_range(minimum, maximum, exclusive_minimum, exclusive_maximum)
        raise ValueError(f"{name} must be a finite number{' ' + bounds if bounds else ''}, "
                         f"received {value!r}.")
    return float(value)


def check_choice(value, name, choices):
    """Returns `value` if it is one of `choices`, else a ValueError listing them.

    Example:

    >>> from keras_vcd.validation import check_choice
    >>> check_choice("iwea", "method", ("iwae", "hmc_is"))
    Traceback (most recent call last):
    ValueError: Unknown method 'iwea'; expected one of ['iwae', 'hmc_is'].
    """
    if not any(value is choice or (type(value) is type(choice) and value == choice)
               for choice in choices):
        raise ValueError(f"Unknown {name} {value!r}; expected one of {list(choices)}.")
    return value


def check_instance(value, name, expected, expected_name, hint=""):
    """Returns `value` if it is an instance of `expected`, else a ValueError saying how to fix it.

    Args:
        value: the argument to check.
        name: the argument's name, for the message.
        expected: the class (or tuple of classes) it must be an instance of.
        expected_name: how the message names that class (its public path).
        hint: a sentence on how to make one, added to the message.

    Example:

    >>> import keras_vcd as kv
    >>> from keras_vcd.validation import check_instance
    >>> check_instance("mlp", "encoder", kv.GaussianEncoder, "keras_vcd.GaussianEncoder")
    Traceback (most recent call last):
    ValueError: encoder must be a keras_vcd.GaussianEncoder, received 'mlp'.
    """
    if not isinstance(value, expected):
        raise ValueError(f"{name} must be a {expected_name}, received {value!r}. {hint}".rstrip())
    return value


def _describe_range(minimum, maximum, exclusive_minimum=False, exclusive_maximum=False):
    low = None if minimum is None else f"{'>' if exclusive_minimum else '>='} {minimum}"
    high = None if maximum is None else f"{'<' if exclusive_maximum else '<='} {maximum}"
    if low and high:
        return f"in {'(' if exclusive_minimum else '['}{minimum}, {maximum}" \
               f"{')' if exclusive_maximum else ']'}"
    return low or high or ""


def _event_shape(expected):
    return (expected,) if isinstance(expected, (int, np.integer)) else tuple(expected)


def _describe_shape(event_shape):
    return ", ".join(["num_examples", *map(str, event_shape)])


def check_array(x, event_shape, name="x"):
    """Validates an `(N, *event_shape)` array of finite values; returns it as float32.

    Args:
        x: array-like.
        event_shape: the shape of one example, or an int D for `(N, D)`.
        name: how errors refer to `x`.

    Raises:
        ValueError: wrong rank or shape, empty, or holding a NaN or Inf.

    Example:

    >>> from keras_vcd import validation
    >>> validation.check_array([[0.0, 1.0]], 2).dtype.name
    'float32'
    """
    event_shape = _event_shape(event_shape)
    x = np.asarray(x)
    if x.ndim != 1 + len(event_shape):
        raise ValueError(
            f"{name} must have shape ({_describe_shape(event_shape)}); received shape "
            f"{x.shape}."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); expected at least one example.")
    if x.shape[1:] != event_shape:
        what = (f"{x.shape[1]} features per example but the model expects {event_shape[0]}"
                if len(event_shape) == 1 else
                f"examples of shape {x.shape[1:]} but the model expects {event_shape}")
        raise ValueError(f"{name} has {what} (received shape {x.shape}).")
    x = x.astype("float32", copy=False)
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"{name} holds a non-finite value {x[tuple(bad)]} at {tuple(bad.tolist())}; "
            "expected finite values."
        )
    return x


def check_support(x, in_support, support, hint="", name="x"):
    """Raises a `ValueError` naming the first value of `x` outside a likelihood's support.

    Args:
        x: a checked array (see `check_array`).
        in_support: boolean array of `x`'s shape, True where a value is allowed.
        support: the allowed values in words, e.g. "values in [0, 1]".
        hint: how to fix the data, appended to the message.
        name: how the message refers to `x`.
    """
    in_support = np.asarray(in_support)
    if in_support.all():
        return
    bad = np.argwhere(~in_support)[0]
    low, high = float(x.min()), float(x.max())
    raise ValueError(
        f"{name} holds {x[tuple(bad)]} at {tuple(bad.tolist())} (values in "
        f"[{low}, {high}]); expected {support}. {hint}".rstrip()
    )


def require_binary(x, name="x"):
    """Raises a `ValueError` unless every value of `x` is exactly 0 or 1 (Bernoulli's log p)."""
    x = np.asarray(x)
    check_support(
        x, (x == 0) | (x == 1), "binary values (exactly 0 or 1) for a log-likelihood",
        "Binarise first, e.g. x = (x > 0.5).astype('float32').", name,
    )


def check_indices(index, num_examples, batch_size, name="index"):
    """Validates example indices for local control variates."""
    index = np.asarray(index)
    if index.shape != (batch_size,):
        raise ValueError(
            f"{name} must have shape ({batch_size},), one index per example; "
            f"received shape {index.shape}."
        )
    if not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"{name} must hold integers; received dtype {index.dtype}.")
    if index.min() < 0 or index.max() >= num_examples:
        raise ValueError(
            f"{name} holds values in [{index.min()}, {index.max()}]; expected indices in "
            f"[0, {num_examples - 1}] (num_train_examples={num_examples})."
        )
    values, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"{name} holds index {values[counts > 1][0]} {counts[counts > 1][0]} times; each "
            "training example needs its own index (kv.datasets.with_indices(x) numbers them)."
        )
    return index.astype("int64")


def check_dataset_indices(dataset, num_examples, name="dataset"):
    """Adds run-time checks of each batch's "index": in range, no index twice.

    Under XLA an index out of range would be clamped or dropped silently, so the
    check runs in the input pipeline, before the compiled step sees the batch.
    """
    def assert_indices(element):
        index = tf.cast(element["index"], tf.int64)
        checks = [
            tf.debugging.assert_non_negative(index, message=f"{name}['index']: an index < 0"),
            tf.debugging.assert_less(
                index, tf.constant(num_examples, tf.int64),
                message=f"{name}['index']: an index >= num_train_examples={num_examples}"),
            tf.debugging.assert_equal(
                tf.size(tf.unique(tf.reshape(index, [-1]))[0]), tf.size(index),
                message=f"{name}['index']: the same index twice in one batch; each "
                        "training example needs its own index"),
        ]
        with tf.control_dependencies(checks):
            return tf.nest.map_structure(tf.identity, element)

    return dataset.map(assert_indices)


def check_dataset(dataset, event_shape, in_support_fn, support, name="dataset"):
    """Checks a `tf.data.Dataset` statically and adds run-time value checks.

    The example shape and an empty dataset are caught now (`ValueError`); non-finite
    values and values outside the support are caught per batch while iterating
    (`tf.errors.InvalidArgumentError`, since they are only seen then).

    Args:
        dataset: batches of `x`, `(x,)` or `{"x": x, ...}`.
        event_shape: the shape of one example.
        in_support_fn: maps a batch tensor to a boolean tensor of its shape.
        support: the allowed values in words, for the message.
        name: how messages refer to the dataset.
    """
    event_shape = _event_shape(event_shape)
    spec = dataset.element_spec
    x_spec = spec["x"] if isinstance(spec, dict) else spec
    if isinstance(x_spec, tuple):
        x_spec = x_spec[0]
    if x_spec.shape.rank == len(event_shape):
        raise ValueError(
            f"{name} yields single examples of shape {tuple(x_spec.shape)}; fit and "
            "evaluate take batches: batch it first, e.g. dataset.batch(100)."
        )
    if x_spec.shape.rank is not None:
        received = tuple(x_spec.shape[1:])
        if len(received) != len(event_shape) or any(
                r is not None and r != e for r, e in zip(received, event_shape)):
            what = (f"{received[-1]} features per example but the model expects "
                    f"{event_shape[0]}" if len(received) == len(event_shape) == 1 else
                    f"examples of shape {received} but the model expects {event_shape}")
            raise ValueError(f"{name} yields {what} (element spec {spec}).")
    if dataset.cardinality() == 0:
        raise ValueError(f"{name} is empty; expected at least one batch.")

    def assert_values(*components):
        # tf.data passes the parts of a tuple element, e.g. (x, y), as separate arguments.
        element = components[0] if len(components) == 1 else components
        x = element["x"] if isinstance(element, dict) else element
        x = x[0] if isinstance(x, tuple) else x
        finite = tf.debugging.assert_all_finite(
            tf.cast(x, tf.float32), message=f"{name}: a non-finite value (NaN or Inf)"
        )
        with tf.control_dependencies([finite]):
            allowed = tf.debugging.Assert(
                tf.reduce_all(in_support_fn(x)),
                [f"{name}: a value outside the support; expected {support}"],
            )
        with tf.control_dependencies([allowed]):
            return tf.nest.map_structure(tf.identity, element)

    return dataset.map(assert_values)
