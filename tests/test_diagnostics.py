"""The control-variate gradient-variance diagnostic."""

import numpy as np
import pytest

import keras_vcd as kv
from helpers import tiny_model


@pytest.fixture(scope="module")
def model_and_data():
    """Examples whose log p(x, z) differ by tens of nats, which a global c cannot track.

    Half the examples are all ones, half all zeros, and the decoder's output bias is +5:
    log p(x | z) is then about -0.007 * 20 = -0.1 for the first half and -5 * 20 = -100
    for the second, whatever z is.
    """
    model = tiny_model()
    model.build((None, 20))
    bias = model.decoder.trainable_variables[-1]
    bias.assign(np.full(bias.shape, 5.0, "float32"))
    x = np.concatenate([np.ones((30, 20), "float32"), np.zeros((30, 20), "float32")])
    return model, x


def test_local_control_variate_removes_the_between_example_variance(model_and_data):
    model, x = model_and_data
    result = kv.evaluation.diagnostics.encoder_gradient_variance(
        model, x, batch_size=10, num_batches=50, num_draws=10, seed=0, verbose=0
    )
    variance = result["total_variance"]
    # f differs by ~100 nats between the two kinds of example and has a standard
    # deviation of a few nats within one, so the score term's variance under one global
    # c (~50 nats from every example's f) is of order (50 / 5)^2 = 100 times that under
    # per-example values. A factor 10 leaves an order of magnitude for the sampling
    # error of 50 batches. (c = 0 is not compared: it happens to sit near the f of the
    # all-ones examples, the only ones that reach the first layer's weights.)
    assert variance["local"] * 10 < variance["global"]
    # The groups' means are ~100 nats apart: a standard deviation of ~50 over examples.
    assert result["f_between_examples_std"] > 30.0 > result["f_within_example_std"]


def test_rejects_a_model_that_runs_no_hmc(model_and_data):
    _, x = model_and_data
    model = tiny_model(objective="elbo")
    model.build((None, 20))
    with pytest.raises(ValueError, match="objective='elbo'"):
        kv.evaluation.diagnostics.encoder_gradient_variance(model, x, batch_size=10, verbose=0)
