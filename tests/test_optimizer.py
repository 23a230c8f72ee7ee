"""The reference RMSprop variant against updates computed by hand."""

import keras
import numpy as np
import tensorflow as tf

import keras_vcd as kv
from keras_vcd import optimizers


def test_three_steps_match_the_reference_rule_by_hand():
    lr, w0 = 0.1, np.array([1.0, -2.0])
    grads = [np.array([0.5, -3.0]), np.array([1.0, 0.25]), np.array([-2.0, 4.0])]
    # By hand: G1 = g1^2 (first step), then G <- 0.9 G + 0.1 g^2; w <- w - lr g / (1 + sqrt G).
    w, G, expected = w0.copy(), None, []
    for i, g in enumerate(grads):
        G = g**2 if i == 0 else 0.9 * G + 0.1 * g**2
        w = w - lr * g / (1 + np.sqrt(G))
        expected.append(w.copy())

    variable = keras.Variable(w0.astype("float32"))
    optimizer = kv.optimizers.ReferenceRMSprop(learning_rate=lr)
    for g, want in zip(grads, expected):
        optimizer.apply([tf.constant(g, tf.float32)], [variable])
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-6)


def test_initial_accumulator_before_first_step():
    variable = keras.Variable(np.zeros(3, "float32"))
    optimizer = kv.optimizers.ReferenceRMSprop()
    optimizer.build([variable])
    np.testing.assert_allclose(optimizer._accumulators[0].numpy(), 0.01)


def test_paper_schedule_staircase():
    schedule = optimizers.paper_schedule(5e-4)
    np.testing.assert_allclose(float(schedule(14_999)), 5e-4, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(15_000)), 4.5e-4, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(45_000)), 5e-4 * 0.9**3, rtol=1e-6)


def test_paper_optimizers_learning_rates_and_serialisation():
    rates = {g: float(optimizers.paper_optimizer(g).learning_rate)
             for g in ("decoder", "encoder_mean", "encoder_std")}
    np.testing.assert_allclose(
        [rates["decoder"], rates["encoder_mean"], rates["encoder_std"]],
        [5e-4, 5e-4, 2.5e-4], rtol=1e-6,  # float32 storage of the rates
    )
    optimizer = optimizers.paper_optimizer("decoder")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(optimizer))
    assert isinstance(clone, optimizers.ReferenceRMSprop)
    assert clone.get_config()["rho"] == 0.9
