"""AIS and BDMC against the exact log p(x) of a linear Gaussian model (fixed seeds)."""

import numpy as np
import pytest

import keras_vcd as kv
from keras_vcd.evaluation.ais import annealing_schedule


@pytest.fixture(scope="module")
def linear_gaussian():
    """p(z) = N(0, I_2), p(x | z) = N(W z + b, 0.5^2 I_6): log p(x) in closed form."""
    rng = np.random.default_rng(0)
    model = kv.VCDModel(kv.GaussianEncoder(2, ()),
                        kv.GaussianDecoder(output_dim=6, hidden_units=(), scale=0.5))
    model.build()
    w = rng.normal(size=(2, 6)).astype("float32")
    b = rng.normal(size=6).astype("float32")
    model.decoder.network.set_weights([w, b])
    x = (rng.normal(size=(60, 2)) @ w + b + 0.5 * rng.normal(size=(60, 6))).astype("float32")
    return model, x, kv.evaluation.exact_log_likelihood(model, x)


def ais(model, x, num_annealing_steps, num_chains=8, seed=1):
    return kv.evaluation.log_likelihood(model, x, "ais", num_samples=num_chains, seed=seed,
                                        num_annealing_steps=num_annealing_steps, verbose=0)


@pytest.mark.parametrize("schedule", ["sigmoid", "geometric"])
def test_schedules_run_from_zero_to_one_increasing(schedule):
    betas = annealing_schedule(50, schedule)
    assert betas[0] == 0.0 and betas[-1] == 1.0 and (np.diff(betas) > 0).all()


def test_ais_is_exact_on_the_linear_gaussian_model_and_never_above_it(linear_gaussian):
    # K = 200, C = 8: the mean error over 60 examples must be within 0.1 nats, and the
    # estimate, a stochastic lower bound, not above the exact value by more than two
    # standard errors of the mean difference.
    model, x, exact = linear_gaussian
    estimate = ais(model, x, 200)
    error, stderr = kv.evaluation.mean_and_stderr(estimate - exact)
    assert abs(error) < 0.1
    assert error < 2 * stderr


def test_ais_tightens_as_k_grows(linear_gaussian):
    # One chain per example: the mean of log w is E[log w] <= log p(x), with a gap that
    # shrinks as K grows (about 1/K for large K); K = 3, 30, 300 differ by 10x each.
    model, x, exact = linear_gaussian
    gaps = [np.mean(exact - ais(model, x, k, num_chains=1)) for k in (3, 30, 300)]
    assert gaps[0] > gaps[1] > gaps[2] > -0.05, gaps


def test_ais_diagnostics(linear_gaussian):
    model, x, _ = linear_gaussian
    _, info = kv.evaluation.log_likelihood(model, x[:5], "ais", num_samples=4,
                                           num_annealing_steps=20, verbose=0, return_info=True)
    assert sorted(info) == ["accept_rate", "effective_sample_size", "step_size"]
    assert ((info["effective_sample_size"] >= 1.0 - 1e-6)
            & (info["effective_sample_size"] <= 4.0 + 1e-6)).all()


def test_bdmc_sandwiches_the_exact_value_and_narrows_as_k_grows(linear_gaussian):
    # On 60 examples simulated from the model: the exact mean lies between the mean
    # lower and upper bounds (within two standard errors of each bound's error), and
    # the sandwich at K = 200 is narrower than at K = 10.
    model, _, _ = linear_gaussian
    results = {k: kv.evaluation.bdmc(model, 60, num_chains=4, num_annealing_steps=k,
                                     estimators={"iwae": {"num_samples": 100}}, seed=3,
                                     verbose=0)
               for k in (10, 200)}
    _, x = kv.evaluation.simulate(model, 60, seed=3)
    exact = kv.evaluation.exact_log_likelihood(model, x)
    for result in results.values():
        below, below_stderr = kv.evaluation.mean_and_stderr(exact - result["lower_per_example"])
        above, above_stderr = kv.evaluation.mean_and_stderr(result["upper_per_example"] - exact)
        assert below > -2 * below_stderr and above > -2 * above_stderr
    assert results[200]["width"] < results[10]["width"]
    iwae = results[200]["estimators"]["iwae"]
    assert iwae["gap_to_upper"] > 0 and iwae["per_example"].shape == (60,)
