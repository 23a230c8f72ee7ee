"""The three layers: shapes, numerics, configs and argument checks."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vcd as kv
from keras_vcd.layers import bernoulli_log_likelihood


def test_encoder_shapes_positive_std_and_separate_networks():
    encoder = kv.GaussianEncoder(latent_dim=3, hidden_units=(8, 8), min_std=1e-3)
    mean, std = encoder(np.zeros((5, 7), "float32"))
    assert mean.shape == (5, 3) and std.shape == (5, 3)
    assert (std.numpy() >= 1e-3).all()
    mean_vars = {id(v) for v in encoder.mean_network.trainable_variables}
    std_vars = {id(v) for v in encoder.std_network.trainable_variables}
    assert mean_vars and std_vars and not mean_vars & std_vars


def test_bernoulli_log_likelihood_is_stable_and_exact():
    logits = np.array([[-100.0, -3.0, 0.0, 2.5, 100.0]], "float32")
    x = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]], "float32")
    expected = np.sum(
        x * -np.logaddexp(0, -logits.astype("float64"))
        + (1 - x) * -np.logaddexp(0, logits.astype("float64"))
    )
    value = bernoulli_log_likelihood(x, logits).numpy()
    assert np.isfinite(value).all()
    np.testing.assert_allclose(value, [expected], rtol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        kv.GaussianEncoder(latent_dim=4, hidden_units=(5,), activation="tanh", min_std=0.01),
        kv.BernoulliDecoder(output_dim=6, hidden_units=(5, 3)),
        kv.HMCRefine(num_steps=3, num_leapfrog_steps=2, target_accept_rate=0.8,
                     adaptation_rate=0.02, initial_step_size=0.1, seed=3),
    ],
)
def test_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)


def _zoo_configs():
    folder = kv.zoo.presets_dir()
    return sorted([*folder.glob("*/config.json"), *folder.glob("recipes/*.json")])


@pytest.mark.parametrize("path", _zoo_configs(), ids=lambda path: path.parent.name + "/" + path.name)
def test_every_preset_and_recipe_config_names_its_sizes(path):
    # The layers have no default sizes (784 or 10 once meant MNIST silently): every
    # shipped config must carry its own, or it would no longer load.
    with open(path) as f:
        recipe = json.load(f)
    if kv.recipes.is_full(recipe):  # a preset's config.json: the Keras serialisation
        model = keras.saving.deserialize_keras_object(recipe["model"])
    else:  # a short recipe names its sizes by its own keys
        model = kv.recipes.model_from_recipe(recipe)
    assert isinstance(model, kv.VCDModel)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: kv.GaussianEncoder(latent_dim=0), "latent_dim"),
        (lambda: kv.GaussianEncoder(latent_dim=True), "latent_dim must be an int >= 1"),
        (lambda: kv.GaussianEncoder(4, hidden_units=(10, -1)), r"hidden_units\[1\]"),
        (lambda: kv.GaussianEncoder(4, hidden_units=True), r"hidden_units\[0\]"),
        (lambda: kv.GaussianEncoder(4, min_std=0.0), "min_std"),
        (lambda: kv.GaussianEncoder(4, input_scale=False), "input_scale"),
        (lambda: kv.BernoulliDecoder(output_dim="784"), "output_dim"),
        (lambda: kv.BernoulliDecoder(output_dim=True), "output_dim"),
        (lambda: kv.BernoulliDecoder(output_shape=(28, True)), r"output_shape\[1\]"),
        (lambda: kv.HMCRefine(num_steps=-1), "num_steps must be an int >= 0"),
        (lambda: kv.HMCRefine(num_steps=True), "num_steps"),
        (lambda: kv.HMCRefine(num_leapfrog_steps=0), "num_leapfrog_steps"),
        (lambda: kv.HMCRefine(target_accept_rate=1.5), r"target_accept_rate.*\(0, 1\)"),
        (lambda: kv.HMCRefine(target_accept_rate=True), "target_accept_rate"),
        (lambda: kv.HMCRefine(adaptation_rate=1.0), r"adaptation_rate.*\[0, 1\)"),
        (lambda: kv.HMCRefine(initial_step_size=-0.1), "initial_step_size"),
        (lambda: kv.HMCRefine(step_size_bounds=(0.1, 0.01)), r"step_size_bounds\[1\]"),
    ],
)
def test_bad_arguments_name_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def shifted_gaussian(z):
    return -0.5 * tf.reduce_sum(tf.square(z - 3.0), axis=-1)


def test_hmc_refine_moves_towards_the_target_and_adapts_only_in_training():
    hmc = kv.HMCRefine(num_steps=8, num_leapfrog_steps=5, seed=0)
    z0 = tf.zeros([200, 4])
    z = hmc(z0, target_log_prob_fn=shifted_gaussian, training=False)
    assert float(hmc.step_size.numpy()) == pytest.approx(0.5 / 4)  # 0.5 / latent_dim
    assert float(tf.reduce_mean(z)) > 1.0  # moved most of the way from 0 towards 3
    z, info = hmc(z0, target_log_prob_fn=shifted_gaussian, training=True, return_info=True)
    assert float(hmc.step_size.numpy()) != pytest.approx(0.5 / 4)
    assert float(info["step_size"]) == pytest.approx(float(hmc.step_size.numpy()))
    assert 0.0 <= float(info["accept_rate"]) <= 1.0
    np.testing.assert_allclose(info["target_log_prob"], shifted_gaussian(z), rtol=1e-5)


def test_hmc_refine_stops_gradients():
    hmc = kv.HMCRefine(num_steps=1, num_leapfrog_steps=2)
    z0 = tf.Variable(tf.zeros([3, 2]))
    with tf.GradientTape() as tape:
        z = hmc(z0 * 1.0, target_log_prob_fn=shifted_gaussian)
        total = tf.reduce_sum(z)
    assert tape.gradient(total, z0) is None


def test_zero_steps_returns_the_start():
    hmc = kv.HMCRefine(num_steps=0)
    z0 = tf.random.normal([4, 3])
    np.testing.assert_array_equal(hmc(z0, target_log_prob_fn=shifted_gaussian), z0)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_softplus_matches_float64_and_has_the_sigmoid_gradient(jit_compile):
    # float32 logits on a fine grid over [-40, 40]; against log(1 + e^l) in float64.
    # 1e-6 absolute: a few float32 ulps of values up to 40 (ulp(32) = 3.8e-6 is the
    # worst case at the top of the grid, where both forms are exact to rounding), and
    # tf.math.softplus itself is off by up to 2e-6 here.
    import tensorflow as tf

    from keras_vcd.layers.bernoulli_decoder import softplus

    logits = np.linspace(-40.0, 40.0, 200_001).astype("float32")

    @tf.function(jit_compile=jit_compile)
    def value_and_gradient(l):
        with tf.GradientTape() as tape:
            tape.watch(l)
            value = softplus(l)
        # The sigmoid of the same compilation mode: XLA's and TF's differ by an ulp.
        return value, tape.gradient(value, l), tf.sigmoid(l)

    value, gradient, sigmoid = value_and_gradient(tf.constant(logits))
    exact = np.logaddexp(0.0, logits.astype(np.float64))
    assert np.max(np.abs(value.numpy() - exact)) < 1e-6
    np.testing.assert_array_equal(gradient.numpy(), sigmoid.numpy())
