"""Checks on user data, with errors that name the bad value and what was expected.

Values must lie in [0, 1]. Binary data is the model's meaning; fractional values are
accepted for training and read as Bernoulli cross-entropy targets (a common
relaxation, e.g. grey-scale pixels), but then log p(x) is not a probability, so the
log-likelihood estimators reject them (see `require_binary`).
"""

import numpy as np
import tensorflow as tf


def check_array(x, expected_dim, name="x"):
    """Validates a `(N, D)` array of values in [0, 1] and returns it as float32.

    Raises:
        ValueError: not 2-D, empty, `D != expected_dim`, non-finite or outside [0, 1].
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must have shape (num_examples, {expected_dim}); received shape {x.shape}."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); expected at least one example.")
    if x.shape[1] != expected_dim:
        raise ValueError(
            f"{name} has {x.shape[1]} features per example but the model expects "
            f"{expected_dim} (received shape {x.shape})."
        )
    x = x.astype("float32", copy=False)
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"{name} holds a non-finite value {x[tuple(bad)]} at {tuple(bad.tolist())}; "
            "expected values in [0, 1]."
        )
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} holds values in [{low}, {high}]; expected values in [0, 1] "
            "(scale images by 1/255 and binarise them, e.g. x = (x > 0.5))."
        )
    return x


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
    return index.astype("int64")


def require_binary(x, name="x"):
    """Raises a `ValueError` unless every value of `x` is exactly 0 or 1."""
    x = np.asarray(x)
    fractional = (x != 0) & (x != 1)
    if fractional.any():
        bad = np.argwhere(fractional)[0]
        raise ValueError(
            f"{name} must be binary for a log-likelihood; found {x[tuple(bad)]} at "
            f"{tuple(bad.tolist())}. Binarise first, e.g. x = (x > 0.5).astype('float32')."
        )


def check_dataset(dataset, expected_dim, name="dataset"):
    """Checks a `tf.data.Dataset` statically and adds run-time value checks.

    The feature dimension and an empty dataset are caught now (`ValueError`); values
    outside [0, 1] or non-finite are caught per batch while iterating
    (`tf.errors.InvalidArgumentError`, since they are only seen then).
    """
    spec = dataset.element_spec
    x_spec = spec["x"] if isinstance(spec, dict) else spec
    if isinstance(x_spec, tuple):
        x_spec = x_spec[0]
    if x_spec.shape.rank is not None and x_spec.shape[-1] not in (None, expected_dim):
        raise ValueError(
            f"{name} yields {x_spec.shape[-1]} features per example but the model expects "
            f"{expected_dim} (element spec {spec})."
        )
    if dataset.cardinality() == 0:
        raise ValueError(f"{name} is empty; expected at least one batch.")

    def assert_values(element):
        x = element["x"] if isinstance(element, dict) else element
        x = x[0] if isinstance(x, tuple) else x
        checks = [
            tf.debugging.assert_greater_equal(
                x, tf.cast(0, x.dtype), message=f"{name}: values below 0; expected [0, 1]"
            ),
            tf.debugging.assert_less_equal(
                x, tf.cast(1, x.dtype), message=f"{name}: values above 1; expected [0, 1]"
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.nest.map_structure(tf.identity, element)

    return dataset.map(assert_values)
