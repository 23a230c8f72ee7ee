"""Log-likelihood estimators against a model whose log p(x) is integrated by quadrature."""

import numpy as np
import pytest
import scipy.integrate
import tensorflow as tf

import keras_vcd as kv
from keras_vcd.evaluation import StreamingLogSumExp
from helpers import tiny_model


@pytest.fixture(scope="module")
def linear_model():
    """latent_dim 1, D = 5, logits = z * w + b; an encoder that is close but not exact."""
    model = tiny_model(input_dim=5, latent_dim=1, hidden_units=(), num_leapfrog_steps=5,
                       initial_step_size=0.5)
    model.build()
    w = np.array([[2.0, -1.5, 0.5, 3.0, -2.5]], "float32")
    b = np.array([0.1, -0.3, 0.2, 0.0, 0.4], "float32")
    model.decoder.set_weights([w, b])
    # q(z | x): mean = 0.4 * (x . w) / 5, std = softplus(0) + floor ~ 0.69.
    model.encoder.mean_network.set_weights([0.08 * w.T, np.zeros(1, "float32")])
    model.encoder.std_network.set_weights([np.zeros((5, 1), "float32"), np.zeros(1, "float32")])
    return model, w[0].astype("float64"), b.astype("float64")


def exact_log_likelihood(x, w, b):
    """log p(x) = log integral Bernoulli(x | sigmoid(z w + b)) N(z; 0, 1) dz, by quadrature.

    A 40,001-point grid on [-12, 12]: the integrand is smooth and the Gaussian tail
    beyond 12 is below 1e-30, so the error is far below the tolerances used.
    """
    z = np.linspace(-12, 12, 40001)
    logits = z[:, None] * w + b
    log_lik = (x[:, None, :] * logits - np.logaddexp(0, logits)).sum(-1)
    log_integrand = log_lik - 0.5 * z**2 - 0.5 * np.log(2 * np.pi)
    peak = log_integrand.max(1, keepdims=True)
    return np.log(scipy.integrate.trapezoid(np.exp(log_integrand - peak), z, axis=1)) + peak[:, 0]


@pytest.fixture(scope="module")
def binary_x():
    return (np.random.default_rng(0).random((40, 5)) < 0.5).astype("float32")


@pytest.mark.parametrize("method", ["iwae", "hmc_is"])
def test_converges_to_the_exact_value(linear_model, binary_x, method):
    model, w, b = linear_model
    exact = exact_log_likelihood(binary_x, w, b)
    estimate = kv.evaluation.log_likelihood(
        model, binary_x, method=method, num_samples=20000, seed=1, verbose=0,
        num_burnin_steps=100, num_kept_steps=100,
    )
    # Importance weights here have relative variance < 1, so the error of log of a
    # mean of 20,000 weights is ~ sqrt(1 / 20000) = 0.007 nats per example; 0.03 is
    # > 4 sigma per example, and the average error is much smaller still.
    np.testing.assert_allclose(estimate, exact, atol=0.03)
    assert abs(np.mean(estimate - exact)) < 0.01


@pytest.mark.parametrize("method", ["iwae", "hmc_is"])
def test_small_s_is_below_the_exact_value_on_average(linear_model, binary_x, method):
    # With S = 1 the estimate is log w, whose mean is the ELBO-like bound:
    # E[log w] <= log E[w] = log p(x) (Jensen). Averaged over 40 examples and 20
    # seeds (800 draws) the gap is clearly negative; the test asks for < -0.01 nats.
    model, w, b = linear_model
    exact = exact_log_likelihood(binary_x, w, b)
    gaps = [
        kv.evaluation.log_likelihood(
            model, binary_x, method=method, num_samples=1, seed=seed, verbose=0,
            num_burnin_steps=20, num_kept_steps=20,
        ) - exact
        for seed in range(20)
    ]
    assert np.mean(gaps) < -0.01


def test_estimates_tighten_as_s_grows(linear_model, binary_x):
    model, w, b = linear_model
    exact = exact_log_likelihood(binary_x, w, b)
    errors = [
        np.mean(np.abs(kv.evaluation.log_likelihood(
            model, binary_x, num_samples=s, seed=2, verbose=0) - exact))
        for s in (1, 100, 10000)
    ]
    assert errors[0] > errors[1] > errors[2]


def test_deterministic_given_a_seed(linear_model, binary_x):
    model, _, _ = linear_model
    first = kv.evaluation.log_likelihood(model, binary_x, method="hmc_is", num_samples=50,
                                         seed=3, verbose=0, num_burnin_steps=10,
                                         num_kept_steps=10)
    second = kv.evaluation.log_likelihood(model, binary_x, method="hmc_is", num_samples=50,
                                          seed=3, verbose=0, num_burnin_steps=10,
                                          num_kept_steps=10)
    np.testing.assert_array_equal(first, second)


def test_streaming_logsumexp_equals_one_shot():
    values = np.random.default_rng(4).normal(scale=50.0, size=(1000, 7))
    acc = StreamingLogSumExp()
    for chunk in np.array_split(values, 13):
        acc.add(chunk)
    np.testing.assert_allclose(acc.result(), tf.reduce_logsumexp(values, axis=0), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "elbo"}, "method 'elbo'"),
        ({"num_samples": 0}, "num_samples"),
        ({"batch_size": 0}, "batch_size"),
        ({"method": "hmc_is", "adaptation": "fast"}, "adaptation 'fast'"),
        ({"method": "hmc_is", "initial_step_size": 0.0}, "initial_step_size"),
    ],
)
def test_bad_arguments(linear_model, binary_x, kwargs, match):
    model, _, _ = linear_model
    with pytest.raises(ValueError, match=match):
        kv.evaluation.log_likelihood(model, binary_x, verbose=0, **kwargs)


def test_bad_data(linear_model):
    model, _, _ = linear_model
    with pytest.raises(ValueError, match="6 features"):
        kv.evaluation.log_likelihood(model, np.zeros((3, 6), "float32"), verbose=0)
    with pytest.raises(ValueError, match="binary"):
        kv.evaluation.log_likelihood(model, np.full((3, 5), 0.5, "float32"), verbose=0)


# hmc_is with adaptation="reference" at commit c3a1038 (before adaptation became
# pluggable), first 6 examples, S = 50, seed 3, 10 + 10 transitions.
PINNED_REFERENCE_HMC_IS = [-4.616744408819975, -4.461955203131753, -4.84413106661618,
                           -3.9978437909686964, -5.074271183372299, -3.17590146645509]


def test_reference_adaptation_reproduces_the_hmc_is_of_before(linear_model, binary_x):
    model, _, _ = linear_model
    values = kv.evaluation.log_likelihood(
        model, binary_x[:6], method="hmc_is", num_samples=50, seed=3, verbose=0,
        num_burnin_steps=10, num_kept_steps=10, adaptation="reference")
    # Pinned on TensorFlow 2.21, where they agree bit for bit; TensorFlow 2.18's kernels
    # round differently in the last bits (measured: relative 1.2e-7, every example).
    np.testing.assert_allclose(values, PINNED_REFERENCE_HMC_IS, rtol=1e-6, atol=0)


@pytest.fixture(scope="module")
def narrow_posterior_model():
    """An ELBO model never trained (its refiner's step size never adapted), with a
    posterior narrow enough (50 strongly weighted pixels, latent 3) that a step size
    100x off ruins the reference's burn-in."""
    model = tiny_model(objective="elbo", input_dim=50, latent_dim=3, hidden_units=(),
                       num_leapfrog_steps=5)
    model.build()
    rng = np.random.default_rng(5)
    model.decoder.set_weights([rng.normal(scale=2.0, size=(3, 50)).astype("float32"),
                               np.zeros(50, "float32")])
    x = np.asarray(model.decoder.sample(
        tf.constant(rng.normal(size=(30, 3)), tf.float32), [1, 2]), "float32")
    return model, x


def test_hmc_is_does_not_depend_on_the_starting_step_size(narrow_posterior_model):
    # The same examples and seed from starts 1e-3 ... 1: dual averaging finds each
    # chain's step size, so the estimates must agree within two paired standard
    # errors of the per-example differences (fixed seed, so this is deterministic).
    model, x = narrow_posterior_model
    runs = {}
    for start in (1e-3, 1e-2, 1e-1, 1.0):
        runs[start] = kv.evaluation.log_likelihood(
            model, x, "hmc_is", num_samples=200, seed=4, verbose=0, num_burnin_steps=100,
            num_kept_steps=100, initial_step_size=start, return_info=True)
    reference, _ = runs[1e-1]
    for start, (values, info) in runs.items():
        difference, stderr = kv.evaluation.mean_and_stderr(values - reference)
        assert abs(difference) <= 2 * stderr + 1e-9, (start, difference, stderr)
        assert (info["accept_rate"] > 0.5).all(), (start, info["accept_rate"].min())
    # The reference rule, from 1e-3, cannot reach a useful step size in 100
    # transitions: its estimate is clearly worse, which is what the option fixes.
    stuck = kv.evaluation.log_likelihood(
        model, x, "hmc_is", num_samples=200, seed=4, verbose=0, num_burnin_steps=100,
        num_kept_steps=100, initial_step_size=1e-3, adaptation="reference")
    assert np.mean(stuck - reference) < -0.5


def test_compiled_functions_are_owned_bounded_and_reset(linear_model, binary_x):
    model, _, _ = linear_model
    cache = kv.evaluation.CompiledFunctions(max_per_model=2)
    made = []
    for key in ("a", "b", "a", "c"):
        cache.get(model, key, lambda model, key=key: made.append(key) or key)
    assert made == ["a", "b", "c"] and len(cache) == 2  # "b" was the least recently used
    cache.clear(model)
    assert len(cache) == 0
    kv.evaluation.log_likelihood(model, binary_x[:2], num_samples=2, verbose=0)
    assert len(kv.evaluation.compiled_functions) > 0
    kv.evaluation.compiled_functions.clear()
    assert len(kv.evaluation.compiled_functions) == 0
