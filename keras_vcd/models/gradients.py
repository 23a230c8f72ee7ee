"""One replica's share of a training step: the forward pass, the losses, the gradients.

`replica_gradients` reads the model's state and changes none, and holds no
cross-replica reduction, so under a multi-replica strategy it runs XLA-compiled on
each replica (`replica_step`); `VCDModel.train_step` applies what it returns.
"""

import tensorflow as tf


def replica_gradients(model, x, index, seed):
    """The forward pass, the losses and every parameter group's gradients.

    Args:
        model: a `VCDModel`.
        x: `(batch, *event_shape)` data, in the model's compute dtype.
        index: each example's index in the training set (local control variates), or
            None.
        seed: shape-`[2]` integer seed of the step's noise.

    Returns:
        `(terms, losses, info, gradients)`: the `objectives.ForwardTerms`, the
        `objectives.Losses`, the refiner's info dict (None without HMC) and the
        gradients of all groups' variables, in `model.parameter_groups()` order.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> from keras_vcd.models.gradients import replica_gradients
    >>> model = kv.zoo.load("vcd_mnist", load_weights=False)
    >>> model.build()
    >>> _, _, _, grads = replica_gradients(model, np.zeros((2, 784), "float32"), None, [0, 1])
    >>> len(grads) == sum(len(v) for _, v in model.parameter_groups().values())
    True
    """
    batch_size = tf.shape(x)[0]
    with tf.GradientTape(persistent=True) as tape:
        terms, info = model.forward(x, seed, training=True, tape=tape)
        losses = model.objective_losses(terms, index, batch_size)
    groups = model.parameter_groups()
    decoder_variables = groups["decoder"][1]
    encoder_variables = groups["encoder_mean"][1] + groups["encoder_std"][1]
    if losses.shared:
        gradients = tape.gradient(losses.encoder, decoder_variables + encoder_variables)
    else:
        gradients = (tape.gradient(losses.decoder, decoder_variables)
                     + tape.gradient(losses.encoder, encoder_variables))
    del tape
    return terms, losses, info, gradients


def replica_step(model, jit_compile):
    """`replica_gradients` of `model` as a function of `(x, index, seed)`.

    Args:
        model: a `VCDModel`.
        jit_compile: compile it with XLA on its own (a strategy with several
            replicas, where Keras must not compile the whole step).
    """
    def step(x, index, seed):
        return replica_gradients(model, x, index, seed)

    return tf.function(step, jit_compile=True) if jit_compile else step
