"""The bundled presets and the preset format."""

import shutil

import numpy as np
import pytest

import keras_vcd as kv
from keras_vcd import evaluation, zoo
from helpers import tiny_model


@pytest.mark.network
@pytest.mark.parametrize("name", kv.zoo.list_presets())
def test_preset_loads_verifies_and_reproduces_its_recorded_check(name):
    # The check is iwae, S=100, on the first 200 test examples with seed 0: the same
    # computation on the same weights. Only float summation order could differ, so
    # 0.05 nats (far below the 0.3-nat standard error of that estimate) is generous.
    model = kv.zoo.load(name)
    metadata = zoo.read_json(zoo.resolve(name), zoo.METADATA_FILE)
    check, dataset = metadata["check"], metadata["dataset"]["dataset"]
    try:
        splits, _ = kv.datasets.load(dataset, verbose=0)
    except kv.datasets.DataUnavailableError as error:
        if dataset == "binarized_mnist":  # always reachable through the package index
            raise
        pytest.skip(f"{dataset} is not available here: {error}")
    again = evaluation.measure_log_likelihood(
        model, splits["test"][: check["num_examples"]], check["method"],
        check["num_samples"], seed=check["seed"], verbose=0,
    )
    assert again["mean"] == pytest.approx(check["mean"], abs=0.05)


@pytest.mark.parametrize("name", kv.zoo.list_presets())
def test_preset_metadata_is_complete(name):
    metadata = zoo.read_json(zoo.resolve(name), zoo.METADATA_FILE)
    for key in ("dataset", "objective", "iterations", "batch_size", "seed", "wall_time_s",
                "machine", "libraries", "weights_sha256", "test_log_likelihood"):
        assert key in metadata, key
    methods = {r["method"] for r in metadata["test_log_likelihood"]}
    decoder = zoo.read_json(zoo.resolve(name), zoo.CONFIG_FILE)["model"]["config"]["decoder"]
    # A linear Gaussian model's exact log p(x) is recorded beside the estimates.
    exact = {"exact"} if decoder["class_name"] == "GaussianDecoder" else set()
    assert methods == {"hmc_is", "iwae"} | exact
    assert metadata["dataset"]["sha256"]


def test_tampered_weights_are_detected_and_nothing_loads(tmp_path):
    folder = tmp_path / "preset"
    shutil.copytree(zoo.resolve("vcd_mnist"), folder)
    weights = folder / zoo.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(zoo.ChecksumMismatchError, match="model.weights.h5"):
        kv.zoo.load(folder)


def test_save_to_preset_round_trip(tmp_path, data):
    model = tiny_model()
    model.compile(decoder_optimizer=kv.optimizers.ReferenceRMSprop(0.0123))
    model.fit(data, batch_size=64, epochs=1, verbose=0)
    zoo.save_to_preset(model, tmp_path / "mine", metadata={"note": "test"})
    loaded = kv.VCDModel.from_preset(tmp_path / "mine")
    np.testing.assert_array_equal(loaded.predict(data[:16], verbose=0),
                                  model.predict(data[:16], verbose=0))
    assert float(loaded.refiner.step_size.numpy()) == float(model.refiner.step_size.numpy())
    assert "note" in zoo.read_json(tmp_path / "mine", zoo.METADATA_FILE)
    # The optimizers come back as compiled (e.g. tuned learning rates).
    assert float(loaded.decoder_optimizer.learning_rate) == pytest.approx(0.0123)
    assert (tmp_path / "mine" / zoo.CARD_FILE).read_text().startswith("# mine")


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="vcd_mnist"):
        kv.zoo.load("vcd_cifar")


def test_overrides_apply():
    model = kv.zoo.load("vae_mnist", load_weights=False, seed=5)
    assert model.seed == 5 and model.objective == "elbo"


def test_a_longer_chain_on_a_pretrained_model_keeps_its_weights():
    pretrained = zoo.load("vcd_mnist")
    longer = zoo.load("vcd_mnist", refiner=kv.HMCRefine(num_steps=30))
    assert longer.refiner.num_steps == 30
    assert float(longer.refiner.step_size.numpy()) == float(pretrained.refiner.step_size.numpy())
    z = np.zeros((2, 10), "float32")
    np.testing.assert_array_equal(longer.decode(z), pretrained.decode(z))


def test_an_architecture_override_with_weights_is_refused_by_name():
    with pytest.raises(ValueError, match=r"\['decoder'\].*load_weights=False"):
        zoo.load("vcd_mnist", decoder=kv.BernoulliDecoder(784, hidden_units=(50,)))
    fresh = zoo.load("vcd_mnist", load_weights=False,
                     decoder=kv.BernoulliDecoder(784, hidden_units=(50,)))
    assert fresh.decoder.hidden_units == (50,)


def test_a_broken_config_names_the_file(tmp_path):
    shutil.copytree(zoo.resolve("vcd_mnist"), tmp_path / "broken")
    (tmp_path / "broken" / "config.json").write_text('{"model": ')
    with pytest.raises(ValueError, match=r"broken/config.json is not valid JSON"):
        zoo.load(tmp_path / "broken")


def test_a_truncated_keras_file_is_named_as_such(tmp_path):
    model = zoo.load("vcd_mnist", load_weights=False)
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras is not a .keras archive.*truncated"):
        zoo.load_model(tmp_path / "cut.keras")
