"""keras_vcd: variational autoencoders refined by HMC and trained with the VCD.

Example:

>>> import keras_vcd as kv
>>> model = kv.VCDModel(encoder=kv.GaussianEncoder(latent_dim=10),
...                     decoder=kv.BernoulliDecoder(output_dim=784),
...                     refiner=kv.HMCRefine(num_steps=8, num_leapfrog_steps=5))
"""

import os

from keras_vcd import quiet_start as _quiet_start

if _quiet_start.started_as_command():
    # TensorFlow's start-up chatter (CUDA probes on CPU machines, XLA notices) buries
    # the command's output. Only the command does this: a library user's logging is
    # theirs. A TF_CPP_MIN_LOG_LEVEL the user set is kept.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    _quiet_start.import_tensorflow_quietly()
else:
    # A library user sees TensorFlow's import as `import tensorflow` shows it, but not
    # the "failed call to cuInit" of a CPU machine's first fit.
    _quiet_start.probe_devices_quietly()

from keras_vcd import (  # noqa: E402
    datasets,
    distribute,
    evaluation,
    mcmc,
    optimizers,
    plotting,
    recipes,
    training,
    zoo,
)
from keras_vcd import layers  # noqa: E402
from keras_vcd.layers import (  # noqa: E402
    BernoulliDecoder,
    GaussianDecoder,
    GaussianEncoder,
    HMCRefine,
    PoissonDecoder,
)
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
    "GaussianDecoder",
    "GaussianEncoder",
    "HMCRefine",
    "PoissonDecoder",
    "VCDModel",
    "datasets",
    "distribute",
    "evaluation",
    "layers",
    "mcmc",
    "optimizers",
    "plotting",
    "recipes",
    "training",
    "tuning",
    "zoo",
]
