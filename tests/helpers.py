"""Helpers the test files share: one tiny-model builder and synthetic binary data.

Test files import them with `from helpers import ...` (tests/ has no __init__.py, so
pytest puts this folder on sys.path; a test file run as a script has it there too).
Fixtures live in conftest.py.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_vcd as kv  # noqa: E402

# The 784-dimensional model that trains hundreds of MNIST steps in seconds (the
# command-line and reliability tests): latent 2, 8 hidden units, T = 1, L = 2.
MNIST_SIZED = {"input_dim": 784, "hidden_units": (8,), "num_steps": 1, "num_leapfrog_steps": 2}


def tiny_model(objective="vcd", control_variate="global", input_dim=20, latent_dim=2,
               num_train_examples=None, seed=0, hidden_units=(16,), num_steps=2,
               num_leapfrog_steps=3, initial_step_size=None, **kwargs):
    """A small VCDModel: by default one hidden layer of 16 units, 2 HMC steps of 3 leapfrog steps.

    `hidden_units` is the encoder's and the decoder's; `num_steps`, `num_leapfrog_steps`
    and `initial_step_size` are the HMCRefine's (its defaults otherwise); the remaining
    keyword arguments go to VCDModel.
    """
    return kv.VCDModel(
        encoder=kv.GaussianEncoder(latent_dim=latent_dim, hidden_units=hidden_units),
        decoder=kv.BernoulliDecoder(output_dim=input_dim, hidden_units=hidden_units),
        refiner=kv.HMCRefine(num_steps=num_steps, num_leapfrog_steps=num_leapfrog_steps,
                             initial_step_size=initial_step_size),
        objective=objective, control_variate=control_variate,
        num_train_examples=num_train_examples, seed=seed, **kwargs,
    )


def prototype_data(num_examples=512, input_dim=20, seed=0):
    """Binary data from two noisy prototypes: easy to model, so training must help."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((2, input_dim)) < 0.5).astype("float32")
    labels = rng.integers(0, 2, num_examples)
    flips = rng.random((num_examples, input_dim)) < 0.05
    return np.abs(prototypes[labels] - flips).astype("float32")
