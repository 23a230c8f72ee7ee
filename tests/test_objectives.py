"""The objectives against the closed forms of docs/algorithm.md."""

import math

import numpy as np
import pytest
import tensorflow as tf

import keras_vcd as kv
from keras_vcd.models import objectives
from keras_vcd.models.control_variates import GlobalControlVariate, LocalControlVariate


@pytest.fixture
def setup():
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    decoder = kv.BernoulliDecoder(output_dim=6, hidden_units=(5,))
    decoder.build((None, 2))
    x = tf.constant((rng.random((4, 6)) < 0.5).astype("float32"))
    mean = tf.constant(rng.normal(size=(4, 2)).astype("float32"))
    std = tf.constant(rng.uniform(0.3, 1.5, size=(4, 2)).astype("float32"))
    eps = tf.constant(rng.normal(size=(4, 2)).astype("float32"))
    z_t = tf.constant(rng.normal(size=(4, 2)).astype("float32"))
    c = tf.constant(rng.normal(size=4).astype("float32") * 5.0)
    return decoder, x, mean, std, eps, z_t, c


def log_joint(decoder, x, z):
    return objectives.log_joint(decoder.log_likelihood(x, z), z)


def terms_for(decoder, x, mean, std, eps, z_t):
    z0 = mean + std * eps
    return objectives.ForwardTerms(
        mean, std, eps, z0, log_joint(decoder, x, z0), z_t, log_joint(decoder, x, z_t)
    )


def test_vcd_encoder_gradients_equal_the_closed_forms(setup):
    decoder, x, mean, std, eps, z_t, c = setup
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([mean, std])
        terms = terms_for(decoder, x, mean, std, eps, z_t)
        losses = objectives.vcd_losses(terms, c)
    ascent_mean = -tape.gradient(losses.encoder, mean)
    ascent_std = -tape.gradient(losses.encoder, std)

    z0 = mean + std * eps
    with tf.GradientTape() as inner:
        inner.watch(z0)
        value = log_joint(decoder, x, z0)
    grad_z0 = inner.gradient(value, z0)
    f = log_joint(decoder, x, z_t) + 0.5 * tf.reduce_sum(((z_t - mean) / std) ** 2, -1)
    f_minus_c = (f - c)[:, None]
    expected_mean = grad_z0 - (eps / std) * f_minus_c + (z_t - mean) / std**2
    expected_std = (
        grad_z0 * eps - ((eps**2 - 1) / std) * f_minus_c + (z_t - mean) ** 2 / std**3
    )
    # float32 arithmetic on O(10-100) values: relative 1e-5, absolute 1e-4.
    np.testing.assert_allclose(ascent_mean, expected_mean, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ascent_std, expected_std, rtol=1e-5, atol=1e-4)


def test_vcd_decoder_gradient_is_that_of_minus_log_joint_at_z_t(setup):
    decoder, x, mean, std, eps, z_t, c = setup
    weights = decoder.trainable_variables
    with tf.GradientTape() as tape:
        losses = objectives.vcd_losses(terms_for(decoder, x, mean, std, eps, z_t), c)
    got = tape.gradient(losses.decoder, weights)
    with tf.GradientTape() as tape:
        expected_loss = -tf.reduce_sum(log_joint(decoder, x, z_t))
    expected = tape.gradient(expected_loss, weights)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


def test_elbo_loss_equals_hand_computed_elbo():
    # latent_dim 1, D = 2, a decoder whose logits are l = z * w + b (linear, no hidden
    # layer): everything below is written out by hand in numpy.
    decoder = kv.BernoulliDecoder(output_dim=2, hidden_units=())
    decoder.build((None, 1))
    w = np.array([[0.7, -1.3]], "float32")
    b = np.array([0.2, 0.5], "float32")
    decoder.set_weights([w, b])
    x = np.array([[1.0, 0.0]], "float32")
    mean, std, eps = 0.4, 0.6, -0.8
    z0 = mean + std * eps
    logits = z0 * w[0] + b
    log_lik = np.sum(x[0] * logits - np.log1p(np.exp(logits)))
    log_prior = -0.5 * z0**2 - 0.5 * math.log(2 * math.pi)
    entropy = math.log(std) + 0.5 * (1 + math.log(2 * math.pi))
    elbo = log_lik + log_prior + entropy

    terms = terms_for(decoder, tf.constant(x), tf.constant([[mean]]), tf.constant([[std]]),
                      tf.constant([[eps]]), tf.constant([[0.0]]))
    np.testing.assert_allclose(objectives.elbo_per_example(terms), [elbo], rtol=1e-5)
    losses = objectives.elbo_losses(terms)
    # The loss drops the entropy's constant: -(log p(x, z0) + log std).
    np.testing.assert_allclose(
        losses.encoder, -(elbo - 0.5 * (1 + math.log(2 * math.pi))), rtol=1e-5
    )
    assert losses.encoder is losses.decoder


def test_hoffman_uses_elbo_for_encoder_and_z_t_for_decoder(setup):
    decoder, x, mean, std, eps, z_t, c = setup
    terms = terms_for(decoder, x, mean, std, eps, z_t)
    losses = objectives.hoffman_losses(terms)
    np.testing.assert_allclose(losses.encoder, objectives.elbo_losses(terms).encoder)
    np.testing.assert_allclose(losses.decoder, -tf.reduce_sum(terms.log_joint_zt))


def test_global_control_variate_rule():
    cv = GlobalControlVariate(decay=0.9)
    cv.build()
    cv.update(tf.constant([10.0, 30.0]), index=None)
    assert float(cv.value.numpy()) == pytest.approx(2.0)  # 0.9 * 0 + 0.1 * 20
    cv.update(tf.constant([0.0, 0.0]), index=None)
    assert float(cv.value.numpy()) == pytest.approx(1.8)
    np.testing.assert_allclose(cv.lookup(None, 3), [1.8, 1.8, 1.8])


def test_local_control_variate_switches_rule_after_warmup():
    cv = LocalControlVariate(num_examples=5, warmup_steps=2, decay=0.9)
    cv.build()
    # Warm-up: every entry follows the global rule with the batch mean.
    cv.update(tf.constant([10.0, 30.0]), index=tf.constant([0, 1]))
    np.testing.assert_allclose(cv.values.numpy(), [2.0] * 5, rtol=1e-6)
    cv.update(tf.constant([20.0, 20.0]), index=tf.constant([3, 4]))
    np.testing.assert_allclose(cv.values.numpy(), [3.8] * 5, rtol=1e-6)
    # After warm-up: only the batch's entries move, each towards its own f.
    cv.update(tf.constant([100.0, -10.0]), index=tf.constant([4, 1]))
    np.testing.assert_allclose(
        cv.values.numpy(), [3.8, 0.9 * 3.8 - 1.0, 3.8, 3.8, 0.9 * 3.8 + 10.0], rtol=1e-6
    )
    np.testing.assert_allclose(cv.lookup(tf.constant([1, 4]), 2), [2.42, 13.42], rtol=1e-6)
