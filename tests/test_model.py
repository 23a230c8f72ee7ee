"""VCDModel end to end: training, state, saving, inputs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vcd as kv
from helpers import tiny_model


def mean_elbo(model, x):
    return model.evaluate(x, batch_size=256, verbose=0, return_dict=True)["elbo"]


@pytest.mark.parametrize("objective", ["vcd", "elbo", "hoffman"])
@pytest.mark.parametrize("jit_compile", [True, False])
def test_short_fit_improves_the_elbo(objective, jit_compile, data):
    # Two noisy prototypes: a model that learns them gains many nats (an untrained
    # one is near -20 * log 2 = -13.9); 1.0 nat is far above the evaluation noise
    # (512 examples, std of a one-sample ELBO ~ 1-2 nats, so s.e. < 0.1).
    model = tiny_model(objective)
    model.compile(jit_compile=jit_compile, steps_per_execution=4,
                  decoder_optimizer=kv.optimizers.ReferenceRMSprop(0.01),
                  encoder_mean_optimizer=kv.optimizers.ReferenceRMSprop(0.01),
                  encoder_std_optimizer=kv.optimizers.ReferenceRMSprop(0.005))
    model.build()
    before = mean_elbo(model, data)
    history = model.fit(data, batch_size=32, epochs=8, verbose=0)
    after = mean_elbo(model, data)
    assert after > before + 1.0, (before, after)
    expected = {"loss", "elbo"} | (
        set() if objective == "elbo"
        else {"log_lik_qt", "stoch_vcd", "hmc_accept_rate", "hmc_step_size"}
    )
    assert set(history.history) == expected
    assert int(model.decoder_optimizer.iterations.numpy()) == 8 * 16


def test_training_moves_step_size_and_control_variate_and_counts_steps(data):
    model = tiny_model("vcd")
    model.compile()
    model.fit(data, batch_size=64, epochs=1, verbose=0)
    assert float(model.refiner.step_size.numpy()) != pytest.approx(0.5 / 2)
    assert float(model.control_variate_layer.value.numpy()) != 0.0
    assert int(model.rng_counter.numpy()) == 8
    state = {id(w) for w in model.weights}
    assert id(model.refiner.step_size) in state and id(model.control_variate_layer.value) in state


def test_same_seed_same_training(data):
    def train():
        keras.utils.set_random_seed(1)  # the initial weights; the model seed does the rest
        model = tiny_model("vcd", seed=7)
        model.compile()
        model.fit(data, batch_size=64, epochs=1, verbose=0, shuffle=False)
        return model.get_weights()

    for a, b in zip(train(), train()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("control_variate", ["global", "local"])
def test_save_and_load_restore_outputs_step_size_and_control_variates(
    control_variate, data, tmp_path
):
    model = tiny_model("vcd", control_variate, num_train_examples=len(data),
                       local_warmup_steps=2)
    model.compile()
    model.fit(kv.datasets.with_indices(data), batch_size=64, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    fresh = tiny_model("vcd", control_variate, num_train_examples=len(data),
                       local_warmup_steps=2)
    fresh.compile()
    fresh.build()
    fresh.load_weights(tmp_path / "m.weights.h5")
    for other in (loaded, fresh):
        np.testing.assert_array_equal(other.predict(data[:8], verbose=0),
                                      model.predict(data[:8], verbose=0))
        assert float(other.refiner.step_size.numpy()) == float(model.refiner.step_size.numpy())
        for mine, theirs in zip(model.control_variate_layer.weights, other.control_variate_layer.weights):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
        assert int(other.rng_counter.numpy()) == int(model.rng_counter.numpy())
        assert int(other.encoder_std_optimizer.iterations.numpy()) == 8
    # Training goes on from the loaded state.
    loaded.fit(kv.datasets.with_indices(data), batch_size=64, epochs=1, verbose=0)
    assert int(loaded.decoder_optimizer.iterations.numpy()) == 16


def test_local_control_variates_need_indices_in_range(data):
    model = tiny_model("vcd", "local", num_train_examples=len(data))
    model.compile()
    with pytest.raises(ValueError, match="index"):
        model.fit(data, batch_size=64, epochs=1, verbose=0)
    bad = {"x": data, "index": np.arange(len(data)) + 1}
    with pytest.raises(ValueError, match=r"\[1, 512\].*\[0, 511\]"):
        model.fit(bad, batch_size=64, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="num_train_examples"):
        tiny_model("vcd", "local")


def test_local_control_variates_update_visited_examples(data):
    model = tiny_model("vcd", "local", num_train_examples=len(data), local_warmup_steps=0)
    model.compile()
    subset = {"x": data[:64], "index": np.arange(100, 164)}
    model.fit(subset, batch_size=64, epochs=1, verbose=0)
    values = model.control_variate_layer.values.numpy()
    assert (values[100:164] != 0).all()
    assert (values[:100] == 0).all() and (values[164:] == 0).all()


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.full((8, 20), 2.0, "float32"), r"values in \[2.0, 2.0\]"),
        (np.full((8, 20), np.nan, "float32"), "non-finite"),
        (np.zeros((8, 21), "float32"), "21 features"),
        (np.zeros((0, 20), "float32"), "empty"),
        (np.zeros((8, 4, 5), "float32"), "shape"),
    ],
)
def test_bad_input_is_a_clear_value_error(bad, match):
    model = tiny_model()
    model.compile()
    with pytest.raises(ValueError, match=match):
        model.fit(bad, epochs=1, verbose=0)


def test_bad_dataset_is_caught():
    model = tiny_model()
    model.compile()
    wrong_dim = tf.data.Dataset.from_tensor_slices(np.zeros((8, 21), "float32")).batch(4)
    with pytest.raises(ValueError, match="21 features"):
        model.fit(wrong_dim, epochs=1, verbose=0)
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 20), "float32")).batch(4)
    with pytest.raises(ValueError, match="empty"):
        model.fit(empty, epochs=1, verbose=0)
    out_of_range = tf.data.Dataset.from_tensor_slices(np.full((8, 20), 3.0, "float32")).batch(4)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"outside the support; expected values in \[0, 1\]"):
        model.fit(out_of_range, epochs=1, verbose=0)
    # NaN is named as what it is, not as a value out of range.
    with_nan = tf.data.Dataset.from_tensor_slices(np.full((8, 20), np.nan, "float32")).batch(4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-finite"):
        model.fit(with_nan, epochs=1, verbose=0)


def test_fit_on_tf_data(data):
    model = tiny_model("vcd", "local", num_train_examples=len(data))
    model.compile()
    dataset = kv.datasets.with_indices(tf.data.Dataset.from_tensor_slices(data))
    history = model.fit(dataset.shuffle(512, seed=0).batch(64), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"objective": "iwae"}, "objective 'iwae'"), ({"control_variate": "lokal"}, "'lokal'")],
)
def test_unknown_names_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_model(**kwargs)


def test_helpers_shapes(data):
    model = tiny_model()
    model.build()
    mean, std = model.encode(data[:5])
    assert mean.shape == (5, 2) and std.shape == (5, 2)
    assert model.decode(mean).shape == (5, 20)
    samples = model.sample(7).numpy()
    assert samples.shape == (7, 20) and ((samples >= 0) & (samples <= 1)).all()
    for refine in (True, False):
        assert model.reconstruct(data[:5], refine=refine).shape == (5, 20)


def test_a_non_finite_gradient_skips_the_update(data):
    model = tiny_model("elbo")
    model.compile(jit_compile=False, steps_per_execution=1)
    model.build()
    before = [w.numpy().copy() for w in model.trainable_weights]
    # An infinite decoder bias makes log p(x, z) and every gradient non-finite.
    bias = model.decoder.network.layers[-1].bias
    bias.assign(np.full(bias.shape, np.inf, "float32"))
    before[-1] = bias.numpy().copy()
    model.fit(data[:32], batch_size=32, epochs=1, verbose=0)
    after = [w.numpy() for w in model.trainable_weights]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mistake, match", [
    (lambda m, x: m.predict(x[:, :10], verbose=0), "10 features"),
    (lambda m, x: m.encode(x[:, :10]), "10 features"),
    (lambda m, x: m.decode(np.zeros((3, 5), "float32")), r"z must have shape \(num_codes, 2\)"),
    (lambda m, x: m.reconstruct(x[:, :10]), "10 features"),
    (lambda m, x: m.sample(-1), "num_samples"),
    (lambda m, x: m.evaluate(x[:, :10], verbose=0), "10 features"),
    (lambda m, x: m.fit(x, batch_size=0, verbose=0), "batch_size"),
])
def test_a_mistake_is_a_clear_error_and_leaves_the_model_usable(mistake, match, data):
    model = tiny_model()
    model.compile()
    with pytest.raises(ValueError, match=match):
        mistake(model, data)
    history = model.fit(data, batch_size=64, epochs=1, verbose=0)  # the right call works
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(data[:4], verbose=0).shape == (4, 20)


def test_tf_data_of_pairs_trains_and_unbatched_data_is_explained(data):
    model = tiny_model()
    model.compile()
    pairs = tf.data.Dataset.from_tensor_slices((data, np.zeros(len(data), "float32")))
    history = model.fit(pairs.batch(64), epochs=1, verbose=0)  # labels are ignored
    assert np.isfinite(history.history["loss"]).all()
    with pytest.raises(ValueError, match=r"single examples of shape \(20,\).*\.batch\(100\)"):
        model.fit(tf.data.Dataset.from_tensor_slices(data), epochs=1, verbose=0)


@pytest.mark.parametrize("index, match", [
    (np.arange(64) + 500, "num_train_examples=512"),       # past the end
    (np.zeros(64, "int64"), "the same index twice"),        # every example index 0
])
def test_local_control_variate_indices_are_checked_on_tf_data(index, match, data):
    model = tiny_model("vcd", "local", num_train_examples=len(data))
    model.compile()  # XLA: an unchecked bad index would be clamped silently
    dataset = tf.data.Dataset.from_tensor_slices({"x": data[:64], "index": index}).batch(32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        model.fit(dataset, epochs=1, verbose=0)


def test_duplicate_indices_in_arrays_are_refused(data):
    model = tiny_model("vcd", "local", num_train_examples=len(data))
    model.compile()
    with pytest.raises(ValueError, match="index 0 64 times"):
        model.fit({"x": data[:64], "index": np.zeros(64, "int64")}, epochs=1, verbose=0)


def test_evaluate_returns_one_named_float_per_metric(data):
    model = tiny_model()
    model.compile()
    model.fit(data, batch_size=64, epochs=1, verbose=0)
    values = model.evaluate(data, verbose=0)
    assert len(values) == len(model.metrics_names) and "hmc_step_size" in model.metrics_names
    assert all(isinstance(v, float) for v in values)
    named = model.evaluate(data, verbose=0, return_dict=True)
    assert named["hmc_step_size"] == pytest.approx(float(model.refiner.step_size.numpy()))


def test_summary_counts_every_groups_optimizer(data):
    model = tiny_model()
    model.compile()
    model.fit(data, batch_size=64, epochs=1, verbose=0)
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    expected = sum(int(np.prod(v.shape)) for optimizer, _ in model.parameter_groups().values()
                   for v in optimizer.variables)
    assert f"Optimizer params, all groups: {expected:,}" in lines[-1]


def test_fit_on_arrays_visits_every_example_once_per_epoch_in_whole_executions(data):
    # 150 examples in batches of 50: 3 steps an epoch, fed as one endless stream of
    # shuffled batches (one input pipeline for the whole fit). Executions of 10 steps
    # would run into the next epoch, so 3 steps run per call; the compile config keeps 10.
    x = data[:150]
    model = tiny_model("vcd", "local", num_train_examples=len(x), local_warmup_steps=0)
    model.compile(steps_per_execution=10)
    history = model.fit(kv.datasets.with_indices(x), batch_size=50, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert int(model.decoder_optimizer.iterations.numpy()) == 6
    assert model.steps_per_execution == 3
    assert model.get_compile_config()["steps_per_execution"] == 10
    # Every example's local control variate moved: each was in some batch.
    assert (model.control_variate_layer.values.numpy() != 0).all()


def test_fit_on_arrays_follows_numpys_global_seed(data):
    def weights_after_fit(shuffle):
        keras.utils.set_random_seed(3)
        model = tiny_model("elbo", seed=0)
        model.compile()
        model.fit(data[:96], batch_size=32, epochs=2, verbose=0, shuffle=shuffle)
        return np.concatenate([w.ravel() for w in model.get_weights()])

    first, again = weights_after_fit(True), weights_after_fit(True)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, weights_after_fit(False))
