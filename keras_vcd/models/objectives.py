"""Surrogate losses of the three objectives, summed over the batch (docs/algorithm.md).

Each objective returns an encoder loss (differentiated with respect to the encoder's
weights only) and a decoder loss (the decoder's weights only). The losses are sums,
not means: the reference optimizer is sensitive to the gradient's scale.
"""

import collections
import math

import tensorflow as tf

from keras_vcd.densities import gaussian_log_prob

OBJECTIVES = ("vcd", "elbo", "hoffman")

# What one forward pass computes. `log_joint_z0` is differentiable in the encoder
# (through z0 = mean + std * eps) and the decoder; `z_t` is a constant;
# `log_joint_zt` is differentiable in the decoder only. None where no HMC ran.
ForwardTerms = collections.namedtuple(
    "ForwardTerms", ["mean", "std", "eps", "z0", "log_joint_z0", "z_t", "log_joint_zt"]
)

# `shared`: the encoder and decoder losses are one loss (the ELBO), so one backward
# pass gives the gradients of both parameter groups.
Losses = collections.namedtuple(
    "Losses", ["encoder", "decoder", "total", "shared"], defaults=[False]
)


def log_joint(log_likelihood, z):
    """log p(x, z) = log p(x | z) + log N(z; 0, I), per example."""
    return log_likelihood + gaussian_log_prob(z)


def elbo_per_example(terms):
    """Single-sample ELBO with the analytic entropy of q: log p(x, z0) + H[q]."""
    latent_dim = terms.mean.shape[-1]
    entropy = tf.reduce_sum(tf.math.log(terms.std), axis=-1) + 0.5 * latent_dim * (
        1.0 + math.log(2.0 * math.pi)
    )
    return terms.log_joint_z0 + entropy


def f_of_z_t(terms):
    """f(z_T) = log p(x, z_T) + 0.5 ||(z_T - mean) / std||^2, per example.

    Only the quadratic term depends on the encoder; log p(x, z_T) enters as a constant.
    """
    standardized = (terms.z_t - terms.mean) / terms.std
    return tf.stop_gradient(terms.log_joint_zt) + 0.5 * tf.reduce_sum(
        tf.square(standardized), axis=-1
    )


def stochastic_vcd(terms):
    """One-sample estimate of the VCD: -(log p - log q)(z0) + (log p - log q)(z_T).

    The log-determinant and normalising constants of q cancel between the two terms.
    """
    return (
        f_of_z_t(terms)
        - terms.log_joint_z0
        - 0.5 * tf.reduce_sum(tf.square(terms.eps), axis=-1)
    )


def _elbo_loss(terms):
    return -tf.reduce_sum(
        terms.log_joint_z0 + tf.reduce_sum(tf.math.log(terms.std), axis=-1)
    )


def _decoder_loss_at_z_t(terms):
    return -tf.reduce_sum(terms.log_joint_zt)


def vcd_losses(terms, control_variate):
    """The VCD surrogate. `control_variate` is c per example (zeros for none)."""
    f = f_of_z_t(terms)
    log_q_z0 = gaussian_log_prob(
        tf.stop_gradient(terms.z0), terms.mean, terms.std, normalized=False
    )
    score_weight = tf.stop_gradient(f - control_variate)
    encoder = tf.reduce_sum(-terms.log_joint_z0 + f + score_weight * log_q_z0)
    decoder = _decoder_loss_at_z_t(terms)
    return Losses(encoder, decoder, encoder + decoder)


def elbo_losses(terms, control_variate=None):
    """The standard VAE: one loss for both networks."""
    loss = _elbo_loss(terms)
    return Losses(loss, loss, loss, shared=True)


def hoffman_losses(terms, control_variate=None):
    """Hoffman (2017): the encoder trained by the ELBO, the decoder at z_T."""
    encoder = _elbo_loss(terms)
    decoder = _decoder_loss_at_z_t(terms)
    return Losses(encoder, decoder, encoder + decoder)


LOSS_FUNCTIONS = {"vcd": vcd_losses, "elbo": elbo_losses, "hoffman": hoffman_losses}
