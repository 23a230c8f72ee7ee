"""The HMC kernel on systems with a closed form (fixed seeds, stated tolerances)."""

import numpy as np
import pytest
import tensorflow as tf

import keras_vcd as kv
from keras_vcd import mcmc


def standard_normal(z):
    return -0.5 * tf.reduce_sum(tf.square(z), axis=-1)


def test_leapfrog_conserves_harmonic_oscillator_energy_and_follows_the_exact_path():
    # H = (z^2 + p^2) / 2 has the exact flow z(t) = z0 cos t + p0 sin t. Leapfrog's
    # energy error stays bounded by O(step^2) (about step^2 / 4 * H = 2.5e-3 here),
    # and its position error after time t = 2 is O(step^2 t) ~ 1e-2 at step 0.1.
    z0 = tf.constant([[1.0], [0.0], [-0.5]])
    p0 = tf.constant([[0.0], [1.0], [0.5]])
    log_prob, grad = mcmc.value_and_gradient(standard_normal, z0)
    z, p, new_log_prob, _ = mcmc.leapfrog(standard_normal, z0, p0, grad, 0.1, 20)
    energy0 = 0.5 * tf.reduce_sum(p0**2, -1) - log_prob
    energy1 = 0.5 * tf.reduce_sum(p**2, -1) - new_log_prob
    np.testing.assert_allclose(energy1, energy0, atol=5e-3)
    exact = z0 * np.cos(2.0) + p0 * np.sin(2.0)
    np.testing.assert_allclose(z, exact, atol=1e-2)


def test_leapfrog_is_reversible():
    z0 = tf.constant([[0.3, -1.2]])
    p0 = tf.constant([[1.0, 0.4]])
    _, grad = mcmc.value_and_gradient(standard_normal, z0)
    z, p, _, grad_end = mcmc.leapfrog(standard_normal, z0, p0, grad, 0.2, 7)
    z_back, p_back, _, _ = mcmc.leapfrog(standard_normal, z, -p, grad_end, 0.2, 7)
    np.testing.assert_allclose(z_back, z0, atol=1e-5)  # float32 round-off over 14 steps
    np.testing.assert_allclose(-p_back, p0, atol=1e-5)


def test_transition_costs_num_leapfrog_steps_gradient_evaluations():
    calls = []

    def target(z):
        calls.append(1)
        return standard_normal(z)

    state = mcmc.init_state(target, tf.zeros([4, 2]))
    calls.clear()
    mcmc.hmc_transition(target, state, 0.1, 5, seed=[0, 1])  # eager: body runs in Python
    assert len(calls) == 5


def test_chain_samples_gaussian_moments():
    # Target N(mu, diag(sd^2)) with sd = (1, 2). 2000 independent chains, 100
    # transitions after an initial 100 for burn-in, one final sample per chain: the
    # standard error of the mean is sd / sqrt(2000) <= 0.045, so 0.15 is > 3 sigma;
    # the std's relative standard error is ~1 / sqrt(2 * 2000) = 1.6%, so 8% is 5 sigma.
    mu = tf.constant([1.0, -2.0])
    sd = tf.constant([1.0, 2.0])

    def target(z):
        return -0.5 * tf.reduce_sum(tf.square((z - mu) / sd), axis=-1)

    result = mcmc.run_chain(target, tf.zeros([2000, 2]), 0.5, 200, 5, seed=[3, 4])
    samples = result.state.position.numpy()
    np.testing.assert_allclose(samples.mean(0), mu, atol=0.15)
    np.testing.assert_allclose(samples.std(0), sd, rtol=0.08)
    assert 0.5 < float(result.mean_accept_rate) < 1.0


def test_moments_reducer_matches_numpy():
    positions = np.random.default_rng(0).normal(size=(7, 3, 2)).astype("float32")
    reducer = mcmc.MomentsReducer()
    acc = reducer.initial(tf.constant(positions[0]))
    for p in positions:
        acc = reducer.update(acc, tf.constant(p))
    mean, std = reducer.finalize(acc)
    np.testing.assert_allclose(mean, positions.mean(0), atol=1e-6)
    np.testing.assert_allclose(std, positions.std(0), atol=1e-6)


def test_non_finite_proposals_are_rejected_never_propagated():
    # The density is NaN outside |z| < 1: every proposal that leaves is rejected.
    def target(z):
        inside = tf.reduce_all(tf.abs(z) < 1.0, axis=-1)
        return tf.where(inside, standard_normal(z), tf.constant(np.nan, tf.float32))

    state = mcmc.init_state(target, tf.zeros([500, 2]))
    new_state, info = mcmc.hmc_transition(target, state, 0.9, 3, seed=[5, 6])
    assert np.isfinite(new_state.position.numpy()).all()
    assert np.isfinite(new_state.target_log_prob.numpy()).all()
    left = ~np.isfinite(info.energy_change.numpy())
    assert left.any()  # some proposals did leave, so the test exercises rejection
    assert not info.is_accepted.numpy()[left].any()
    assert (info.accept_prob.numpy()[left] == 0).all()


def test_adaptation_rule_by_hand():
    new = mcmc.adapt_step_size(tf.constant(0.05), tf.constant(0.6), 0.9, 0.01)
    np.testing.assert_allclose(new, 0.05 + 0.01 * 0.05 * (0.6 - 0.9) / 0.9, rtol=1e-6)


def test_shared_step_size_adapts_towards_target_acceptance():
    # Starting far too large (acceptance near 0), 300 transitions at rate 0.05 must
    # shrink the step size a lot and bring the acceptance close to 0.9.
    result = mcmc.run_chain(standard_normal, tf.zeros([200, 10]), 5.0, 300, 5,
                            seed=[7, 8], adapt=True, adaptation_rate=0.05)
    assert float(result.step_size) < 2.0
    last = mcmc.run_chain(standard_normal, result.state, result.step_size, 50, 5, seed=[9, 9])
    assert 0.75 < float(last.mean_accept_rate) <= 1.0


def test_same_seed_same_chain_other_seed_other_chain():
    def run(seed):
        return mcmc.run_chain(standard_normal, tf.zeros([8, 2]), 0.3, 5, 3, seed).state.position
    np.testing.assert_array_equal(run([1, 2]), run([1, 2]))
    assert not np.allclose(run([1, 2]), run([1, 3]))


@pytest.mark.parametrize("per_chain", [False, True])
def test_identical_results_with_and_without_xla(per_chain):
    # Random numbers come from raw Philox bits converted by our own code, so XLA and
    # TensorFlow's kernels draw the same numbers; only float rounding of the
    # dynamics may differ (1e-4 over 30 transitions), and every decision matches.
    step = tf.fill([64], 0.4) if per_chain else tf.constant(0.4)

    def run(seed):
        result = mcmc.run_chain(standard_normal, tf.ones([64, 3]), step, 30, 5, seed,
                                adapt=True)
        return result.state.position, result.step_size, result.mean_accept_rate

    seed = tf.constant([11, 12])
    plain = tf.function(run)(seed)
    xla = tf.function(run, jit_compile=True)(seed)
    np.testing.assert_allclose(plain[0], xla[0], atol=1e-4)
    np.testing.assert_allclose(plain[1], xla[1], rtol=1e-5)
    assert float(plain[2]) == float(xla[2])


def test_random_numbers_are_standard():
    # 10^6 draws: mean within 5 standard errors (5e-3), std within 0.5%.
    z = mcmc.normal([1_000_000], [1, 2]).numpy()
    assert abs(z.mean()) < 5e-3
    assert abs(z.std() - 1.0) < 5e-3
    u = mcmc.uniform([1000], [1, 2]).numpy()
    assert (u > 0).all() and (u < 1).all()


@pytest.mark.parametrize("target, received", [
    (lambda z: -0.5 * tf.reduce_sum(z**2), r"\(\)"),  # summed over the batch
    (lambda z: -0.5 * tf.reduce_sum(z**2, axis=-1, keepdims=True), r"\(4, 1\)"),  # a column
])
def test_a_target_without_one_log_density_per_chain_is_named(target, received):
    hmc = kv.HMCRefine(num_steps=2, num_leapfrog_steps=2)
    with pytest.raises(ValueError, match=received + r".*expected one log density per chain"):
        hmc(tf.zeros([4, 2]), target_log_prob_fn=target, training=True)
