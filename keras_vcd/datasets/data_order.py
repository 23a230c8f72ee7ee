"""The order a run visits its training data: a function of the seed and the epoch alone."""

import tensorflow as tf

from keras_vcd import mcmc

# Folded into the model's seed, so the data order is a stream of its own.
_DATA_ORDER_STREAM = 3


def epoch_order(num_examples, seed, epoch):
    """The permutation of `range(num_examples)` that epoch `epoch` visits.

    Example:

    >>> from keras_vcd.datasets.data_order import epoch_order
    >>> sorted(epoch_order(5, seed=0, epoch=3).numpy().tolist())
    [0, 1, 2, 3, 4]
    """
    keys = tf.random.stateless_uniform(
        [num_examples], seed=mcmc.fold_in([seed, _DATA_ORDER_STREAM], epoch))
    return tf.argsort(keys)


def steps_per_execution_within(steps_per_epoch, planned):
    """The most steps per execution, at most `planned`, that divide an epoch.

    Keras runs whole executions over `shuffled_batches`' endless stream: one that
    crossed an epoch's end would take the next epoch's batches (and an end-of-epoch
    checkpoint would hold a state from within the next epoch).

    Args:
        steps_per_epoch: the steps of one epoch, `ceil(N / batch_size)`.
        planned: the steps per execution the model was compiled with.

    Example:

    >>> from keras_vcd.datasets.data_order import steps_per_execution_within
    >>> [steps_per_execution_within(steps, planned=50) for steps in (500, 3, 540)]
    [50, 3, 45]
    """
    return max(d for d in range(1, planned + 1) if steps_per_epoch % d == 0)


def shuffled_batches(data, batch_size, seed, first_epoch=0, shuffle=True):
    """An endless `tf.data.Dataset` of batches, epoch after epoch from `first_epoch`.

    Keras shuffles arrays with a random stream that restarts with the process, so a
    resumed run would see other batches than an uninterrupted one; here epoch e's
    order depends only on `(seed, e)`. Fit with `steps_per_epoch` equal to
    `ceil(N / batch_size)` (Keras then keeps one iterator across epochs) and
    `steps_per_execution_within` of it.

    Args:
        data: an array of shape (N, ...) or a dict of such arrays (e.g.
            `datasets.with_indices(x)`), shuffled together.
        batch_size: examples per batch; an epoch's last batch may be smaller.
        seed: int, the run's seed.
        first_epoch: the epoch the first batch belongs to (a resumed run's
            initial epoch).
        shuffle: False visits the examples in order, every epoch.

    Example:

    >>> import numpy as np
    >>> from keras_vcd.datasets.data_order import shuffled_batches
    >>> batches = shuffled_batches(np.arange(4), batch_size=2, seed=0)
    >>> sorted(np.concatenate([b.numpy() for b in batches.take(2)]).tolist())
    [0, 1, 2, 3]
    """
    tensors = tf.nest.map_structure(tf.convert_to_tensor, data)
    num_examples = int(tf.nest.flatten(tensors)[0].shape[0])

    def epoch_batches(epoch):
        order = (epoch_order(num_examples, seed, epoch) if shuffle
                 else tf.range(num_examples))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def gather(indices):
        return tf.nest.map_structure(lambda tensor: tf.gather(tensor, indices), tensors)

    options = tf.data.Options()
    options.autotune.enabled = False
    return (tf.data.Dataset.counter(first_epoch).flat_map(epoch_batches)
            .map(gather).prefetch(2).with_options(options))
