"""Stateless random numbers that are identical with and without XLA.

TensorFlow's own kernels and XLA draw the same Philox bits for a seed, but turn them
into floats differently (and treat negative seed words differently), so
`tf.random.stateless_normal` under `jit_compile=True` gives other numbers than in a
plain `tf.function`. HMC's accept/reject decisions would then differ between the two.
Here only the raw bits come from TensorFlow; the conversion to floats is ours, and so
it is the same in both.
"""

import tensorflow as tf

_TWO_POW_MINUS_32 = 2.0**-32


def fold_in(seed, data):
    """Derives a new shape-`[2]` int64 seed, with no negative words, from `seed` and `data`."""
    folded = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), data)
    return tf.bitwise.bitwise_and(tf.cast(folded, tf.int64), 0x7FFFFFFF)


def uniform(shape, seed, dtype=tf.float32):
    """Uniform numbers in the open interval (0, 1), from 64 random bits each."""
    bits = tf.random.stateless_uniform(
        tf.concat([[2], shape], axis=0), seed=fold_in(seed, 0), dtype=tf.uint32,
        minval=None, maxval=None, alg="philox",
    )
    high, low = tf.unstack(tf.cast(bits, tf.float64))
    # (high + (low + 0.5) / 2^32) / 2^32 lies strictly inside (0, 1).
    value = (high + (low + 0.5) * _TWO_POW_MINUS_32) * _TWO_POW_MINUS_32
    return tf.cast(value, dtype)


def normal(shape, seed, dtype=tf.float32):
    """Standard normal numbers by the inverse CDF of `uniform` (float64 inside)."""
    return tf.cast(tf.math.ndtri(uniform(shape, seed, tf.float64)), dtype)
