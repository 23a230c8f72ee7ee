"""One forward pass of the objectives, as a pure function of the layers and a seed.

`forward` is what training, evaluation and the diagnostics compute their terms from
(`VCDModel.forward` calls it with the model's layers): it reads the layers' weights
and the refiner's step size and changes nothing.
"""

import contextlib

import tensorflow as tf

from keras_vcd import mcmc
from keras_vcd.models import objectives


def log_joint(decoder, x, z):
    """log p(x, z) per example: `decoder`'s likelihood plus the standard normal prior."""
    return objectives.log_joint(decoder.log_likelihood(x, z), z)


def forward(encoder, decoder, refiner, x, seed, training=False, tape=None):
    """Encoder, reparameterised z0 and, unless `refiner` is None, HMC from z0 to z_T.

    Args:
        encoder: a `GaussianEncoder`.
        decoder: a `Decoder`.
        refiner: an `HMCRefine`, or None for the ELBO (no HMC).
        x: `(batch, *event_shape)` data.
        seed: shape-`[2]` integer seed of this pass's noise (eps and HMC).
        training: adapt the HMC step size along the chain (and run layers in
            training mode). The adapted value is returned, not stored.
        tape: the `tf.GradientTape` recording this call, if any; the HMC chain is
            kept off it (z_T is a constant for every loss).

    Returns:
        `(terms, info)`: an `objectives.ForwardTerms` and the refiner's info dict (see
        `HMCRefine.refine`), with `None` for the HMC parts when `refiner` is None.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> from keras_vcd.models.forward import forward
    >>> model = kv.zoo.load("vcd_mnist", load_weights=False)
    >>> terms, info = forward(model.encoder, model.decoder, model.refiner,
    ...                       np.zeros((2, 784), "float32"), seed=[0, 1])
    >>> tuple(terms.z_t.shape), sorted(info)
    ((2, 10), ['accept_rate', 'step_size', 'target_log_prob'])
    """
    mean, std = encoder(x, training=training)
    eps = mcmc.normal(tf.shape(mean), mcmc.fold_in(seed, 0), mean.dtype)
    z0 = mean + std * eps
    log_joint_z0 = log_joint(decoder, x, z0)
    if refiner is None:
        return objectives.ForwardTerms(mean, std, eps, z0, log_joint_z0, None, None), None
    # z_T is a constant for everything that follows: keep the sampler off the
    # gradient tape (recording its while loop would also break XLA compilation).
    with tape.stop_recording() if tape is not None else contextlib.nullcontext():
        z_t, info = refiner.refine(
            z0, lambda z: log_joint(decoder, x, z), mcmc.fold_in(seed, 1), adapt=training,
        )
    terms = objectives.ForwardTerms(
        mean, std, eps, z0, log_joint_z0, z_t, log_joint(decoder, x, z_t)
    )
    return terms, info
