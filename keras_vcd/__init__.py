"""keras_vcd: variational autoencoders refined by HMC and trained with the VCD.

Example:

>>> import keras_vcd as kv
>>> model = kv.VCDModel(encoder=kv.GaussianEncoder(latent_dim=10),
...                     decoder=kv.BernoulliDecoder(output_dim=784),
...                     refiner=kv.HMCRefine(num_steps=8, num_leapfrog_steps=5))
"""

from keras_vcd import datasets, distribute, evaluation, mcmc, optimizers, plotting, zoo
from keras_vcd.layers import BernoulliDecoder, GaussianEncoder, HMCRefine
from keras_vcd.models import VCDModel

__version__ = "0.1.0"

__all__ = [
    "BernoulliDecoder",
    "GaussianEncoder",
    "HMCRefine",
    "VCDModel",
    "datasets",
    "distribute",
    "evaluation",
    "mcmc",
    "optimizers",
    "plotting",
    "zoo",
]
