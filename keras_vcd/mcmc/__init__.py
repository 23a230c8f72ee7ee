"""Hamiltonian Monte Carlo as small pure functions on batched TensorFlow tensors.

The leftmost dimension of every position is a batch of independent chains (one per
example). Nothing here knows about Keras layers: `keras_vcd.layers.HMCRefine` and
`keras_vcd.evaluation` both call these functions, and nothing else implements a
leapfrog integrator.
"""

from keras_vcd.mcmc.adaptation import (
    DualAveraging,
    MultiplicativeAdaptation,
    ReferenceAdaptation,
    StepSizeAdaptation,
    adapt_step_size,
)
from keras_vcd.mcmc.chain import ChainResult, MomentsReducer, Reducer, run_chain
from keras_vcd.mcmc.hmc import HMCInfo, HMCState, hmc_transition, init_state
from keras_vcd.mcmc.leapfrog import leapfrog, value_and_gradient
from keras_vcd.mcmc.randomness import fold_in, normal, uniform

__all__ = [
    "ChainResult",
    "DualAveraging",
    "HMCInfo",
    "HMCState",
    "MomentsReducer",
    "MultiplicativeAdaptation",
    "Reducer",
    "ReferenceAdaptation",
    "StepSizeAdaptation",
    "adapt_step_size",
    "fold_in",
    "hmc_transition",
    "init_state",
    "leapfrog",
    "normal",
    "run_chain",
    "uniform",
    "value_and_gradient",
]
