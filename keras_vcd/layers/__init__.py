"""The building blocks of a VCD model, one Keras layer per file.

`Decoder` is the base of every likelihood p(x | z); subclass it for your own.
"""

from keras_vcd.layers.bernoulli_decoder import BernoulliDecoder, bernoulli_log_likelihood
from keras_vcd.layers.decoder import Decoder
from keras_vcd.layers.gaussian_decoder import GaussianDecoder
from keras_vcd.layers.gaussian_encoder import GaussianEncoder
from keras_vcd.layers.hmc_refine import HMCRefine
from keras_vcd.layers.poisson_decoder import PoissonDecoder

__all__ = [
    "BernoulliDecoder",
    "Decoder",
    "GaussianDecoder",
    "GaussianEncoder",
    "HMCRefine",
    "PoissonDecoder",
    "bernoulli_log_likelihood",
]
