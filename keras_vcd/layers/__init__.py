"""The three building blocks of a VCD model, one Keras layer per file."""

from keras_vcd.layers.bernoulli_decoder import BernoulliDecoder, bernoulli_log_likelihood
from keras_vcd.layers.gaussian_encoder import GaussianEncoder
from keras_vcd.layers.hmc_refine import HMCRefine

__all__ = ["BernoulliDecoder", "GaussianEncoder", "HMCRefine", "bernoulli_log_likelihood"]
