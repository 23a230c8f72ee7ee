"""`SeedStream`: the model's stream of per-step seeds (the role of Keras's `SeedGenerator`).

Every random draw of a step (eps, the HMC momenta and accept tests) comes from one
shape-`[2]` seed that this stream hands out. Training seeds follow a counter that is
saved with the weights, so a resumed run draws exactly what the uninterrupted one
would have. Validation seeds come from a second stream that reads the training
position without moving it, so validating never changes later training steps.
"""

import tensorflow as tf

from keras_vcd import mcmc
from keras_vcd.distribute.replicas import replica_id

# The two streams derived from the model seed.
_TRAINING, _VALIDATION = 0, 1


class SeedStream:
    """Hands out a fresh seed per training step and per validation batch.

    Args:
        owner: the layer whose weights file holds the training counter (created here
            with `owner.add_weight`, named "rng_counter", so checkpoints written
            before this class existed still load).
        seed: the int seed every stream is derived from.

    Example:

    >>> import keras
    >>> from keras_vcd.models.seed_stream import SeedStream
    >>> stream = SeedStream(keras.layers.Layer(), seed=0)
    >>> first, second = stream.next_training_seed(), stream.next_training_seed()
    >>> bool((first.numpy() != second.numpy()).any()), int(stream.counter.numpy())
    (True, 2)
    """

    def __init__(self, owner, seed):
        self.seed = int(seed)
        self.counter = owner.add_weight(
            shape=(), initializer="zeros", dtype="int64", trainable=False,
            name="rng_counter", aggregation="only_first_replica",
        )
        # Counts validation batches within one evaluation. A plain variable, not one
        # of the owner's weights: it is not training state, and weights files stay
        # as they were before it existed.
        self._validation_batches = tf.Variable(
            tf.constant(0, tf.int64), trainable=False, name="validation_counter",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )

    def next_training_seed(self):
        """A seed per step and replica; moves the saved counter."""
        seed = mcmc.fold_in(mcmc.fold_in([self.seed, _TRAINING], self.counter), replica_id())
        self.counter.assign_add(1)
        return seed

    def next_validation_seed(self):
        """A seed per validation batch and replica, from the training position.

        The same evaluation at the same point of training (in a resumed run too)
        draws the same noise.
        """
        seed = mcmc.fold_in(mcmc.fold_in([self.seed, _VALIDATION], self.counter),
                            self._validation_batches)
        self._validation_batches.assign_add(1)
        return mcmc.fold_in(seed, replica_id())

    def restart_validation(self):
        """Starts the validation stream again: call before every evaluation."""
        self._validation_batches.assign(0)
