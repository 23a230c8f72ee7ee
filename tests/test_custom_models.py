"""Open models: the examples of docs/custom_models.md run, and what they promise holds."""

import pathlib
import re

import keras
import numpy as np
import pytest

import keras_vcd as kv
from keras_vcd import zoo

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "custom_models.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_the_docs_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the image example saves a file
    exec(compile(EXAMPLES[index], f"{DOC.name} example {index + 1}", "exec"), {})


def test_there_are_examples_to_run():
    assert len(EXAMPLES) == 6


def _conv_model(seed=0):
    def head():
        return keras.Sequential([
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Flatten(), keras.layers.Dense(3)])

    deconv = keras.Sequential([
        keras.layers.Dense(4 * 4 * 4, activation="relu"), keras.layers.Reshape((4, 4, 4)),
        keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")])
    return kv.VCDModel(
        encoder=kv.GaussianEncoder(latent_dim=3, mean_network=head(), std_network=head()),
        decoder=kv.BernoulliDecoder(output_shape=(8, 8, 1), network=deconv),
        refiner=kv.HMCRefine(num_steps=2, num_leapfrog_steps=3), seed=seed)


def _stripes(num_examples, seed):
    """8x8 binary images: a horizontal or a vertical bar, with 5% of pixels flipped."""
    rng = np.random.default_rng(seed)
    images = np.zeros((num_examples, 8, 8, 1), "float32")
    for i, (kind, where) in enumerate(zip(rng.integers(0, 2, num_examples),
                                          rng.integers(0, 8, num_examples))):
        if kind:
            images[i, where, :, 0] = 1
        else:
            images[i, :, where, 0] = 1
    flips = rng.random(images.shape) < 0.05
    return np.abs(images - flips).astype("float32")


def test_a_conv_model_on_images_learns_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = _conv_model()
    model.compile(optimizer="adam")
    train, held_out = _stripes(512, seed=0), _stripes(128, seed=1)
    model.build()
    before = kv.evaluation.log_likelihood(model, held_out, num_samples=50, verbose=0).mean()
    model.fit(train, batch_size=64, epochs=20, verbose=0)
    after = kv.evaluation.log_likelihood(model, held_out, num_samples=50, verbose=0).mean()
    # 64 pixels of a near-uniform untrained model cost about 64 log 2 = 44 nats; the
    # pixel frequencies alone (one bar of 8 lit pixels in 64, 5% flips) are worth
    # about 18 nats more, so 10 nats of gain needs no more than learning those.
    assert after > before + 10, (before, after)

    z = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    model.save(tmp_path / "conv.keras")
    reloaded = keras.models.load_model(tmp_path / "conv.keras")
    np.testing.assert_array_equal(reloaded.decode(z), model.decode(z))
    zoo.save_to_preset(model, tmp_path / "preset", training={"dataset": "none"})
    from_preset = kv.zoo.load(tmp_path / "preset")
    np.testing.assert_array_equal(from_preset.decode(z), model.decode(z))
    np.testing.assert_array_equal(from_preset.encode(held_out[:4])[0],
                                  model.encode(held_out[:4])[0])


def test_a_decoder_subclass_written_here_trains():
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="tests")
    class LaplaceDecoder(kv.layers.Decoder):
        """Unit-scale Laplace noise around the network's outputs."""

        def log_prob(self, x, outputs):
            return -tf.abs(x - outputs) - np.log(2.0)

        def mean_from(self, outputs):
            return outputs

        def sample_from(self, outputs, seed):
            u = kv.mcmc.uniform(tf.shape(outputs), seed, outputs.dtype) - 0.5
            return outputs - tf.sign(u) * tf.math.log1p(-2 * tf.abs(u))

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(256, 1)) * 3 + rng.laplace(size=(256, 5))).astype("float32")
    model = kv.VCDModel(kv.GaussianEncoder(1, (16,)),
                        LaplaceDecoder(output_dim=5, hidden_units=(16,)),
                        kv.HMCRefine(num_steps=2, num_leapfrog_steps=3), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    model.build()
    before = kv.evaluation.log_likelihood(model, x, num_samples=50, verbose=0).mean()
    model.fit(x, batch_size=64, epochs=30, verbose=0)
    after = kv.evaluation.log_likelihood(model, x, num_samples=50, verbose=0).mean()
    # An untrained decoder pays E|x| ~ 2.5 per feature; one that has found the shared
    # factor (scale 3 on all 5 features) pays about 1, the noise alone: ~7 nats in all.
    assert after > before + 3, (before, after)


def test_compile_takes_one_optimizer_or_a_dict():
    model = kv.zoo.load("vcd_mnist", load_weights=False)
    model.compile(optimizer="adam")
    kinds = {type(o).__name__ for o in (model.decoder_optimizer, model.encoder_mean_optimizer,
                                        model.encoder_std_optimizer)}
    assert kinds == {"Adam"} and model.decoder_optimizer is not model.encoder_std_optimizer
    model.compile(optimizer={"decoder": keras.optimizers.SGD(0.1)})
    assert type(model.decoder_optimizer).__name__ == "SGD"
    assert type(model.encoder_std_optimizer).__name__ == "ReferenceRMSprop"
    with pytest.raises(ValueError, match="encoder"):
        model.compile(optimizer={"encoder": "adam"})
    with pytest.raises(ValueError, match="not both"):
        model.compile(optimizer="adam", decoder_optimizer="sgd")


def test_a_model_refuses_other_encoders_and_decoders_and_says_how():
    with pytest.raises(ValueError, match="mean_network=my_net"):
        kv.VCDModel(keras.Sequential([keras.layers.Dense(2)]), kv.BernoulliDecoder(4))
    with pytest.raises(ValueError, match="subclass Decoder"):
        kv.VCDModel(kv.GaussianEncoder(2), keras.layers.Dense(4))
