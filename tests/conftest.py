"""Shared fixtures: tiny models and synthetic binary data, so tests stay fast."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_vcd as kv  # noqa: E402


def tiny_model(objective="vcd", control_variate="global", input_dim=20, latent_dim=2,
               num_train_examples=None, seed=0, **kwargs):
    """A small VCDModel (one hidden layer of 16 units, 2 HMC steps of 3 leapfrog steps)."""
    return kv.VCDModel(
        encoder=kv.GaussianEncoder(latent_dim=latent_dim, hidden_units=(16,)),
        decoder=kv.BernoulliDecoder(output_dim=input_dim, hidden_units=(16,)),
        refiner=kv.HMCRefine(num_steps=2, num_leapfrog_steps=3),
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


@pytest.fixture
def data():
    return prototype_data()
