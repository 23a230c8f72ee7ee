"""keras_vcd: variational autoencoders refined by HMC and trained with the VCD.

Example:

>>> import keras_vcd as kv
>>> model = kv.VCDModel(encoder=kv.GaussianEncoder(latent_dim=10),
...                     decoder=kv.BernoulliDecoder(output_dim=784),
...                     refiner=kv.HMCRefine(num_steps=8, num_leapfrog_steps=5))
"""

import os

# TensorFlow's start-up chatter (CUDA probes on CPU machines, XLA notices) buries the
# command line's output; a value the user set is kept.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_vcd import (  # noqa: E402
    callbacks,
    comparison,
    datasets,
    diagnostics,
    distribute,
    evaluation,
    mcmc,
    optimizers,
    plotting,
    zoo,
)
from keras_vcd.layers import BernoulliDecoder, GaussianEncoder, HMCRefine  # noqa: E402
from keras_vcd.models import VCDModel  # noqa: E402

__version__ = "0.1.0"

def __getattr__(name):
    # keras-tuner takes seconds to import: load `kv.tuning` on first use only.
    if name == "tuning":
        import importlib

        return importlib.import_module("keras_vcd.tuning")
    raise AttributeError(f"module 'keras_vcd' has no attribute {name!r}")


__all__ = [
    "BernoulliDecoder",
    "GaussianEncoder",
    "HMCRefine",
    "VCDModel",
    "callbacks",
    "comparison",
    "datasets",
    "diagnostics",
    "distribute",
    "evaluation",
    "mcmc",
    "optimizers",
    "plotting",
    "tuning",
    "zoo",
]
