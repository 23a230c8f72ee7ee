"""Recipes: the short form builds the very model of the full form, and `--set` overrides.

The short recipes of zoo/recipes/ replaced full Keras serialisations. Each full form
is reconstructed here from a preset's config.json and the few values its recipe
changes (the way those recipes were made), and the short recipe must build the same
model from it: same serialised config, same initial weights, same compile config.
"""

import copy
import json
import pathlib
import re

import keras
import numpy as np
import pytest

import keras_vcd as kv
from keras_vcd import recipes, zoo

AUTOMATIC_NAME = re.compile(r"(gaussian_encoder|hmc_refine|(bernoulli|gaussian|poisson)_decoder)"
                            r"(_\d+)?")
RECIPES_DIR = pathlib.Path(__file__).resolve().parents[1] / "zoo" / "recipes"

# recipe -> (the preset whose config.json it derives from, model config changes,
# training changes).
FULL_FORMS = {
    "vcd_mnist": ("vcd_mnist", {}, {}),
    "gaussian_mf_mnist": ("gaussian_mf_mnist", {}, {}),
    "gaussian_mf_mnist_elbo": ("gaussian_mf_mnist", {"objective": "elbo"}, {}),
    "logistic_mf_mnist": ("logistic_mf_mnist", {}, {}),
    "logistic_mf_mnist_elbo": ("logistic_mf_mnist_elbo", {}, {}),
    "poisson_mf_mnist": ("poisson_mf_mnist", {}, {}),
    "poisson_mf_mnist_elbo": ("poisson_mf_mnist_elbo", {}, {}),
    "vae_fashion_mnist": ("vcd_fashion_mnist", {"objective": "elbo", "control_variate": None,
                                                "num_train_examples": None}, {}),
    "hoffman_fashion_mnist": ("vcd_fashion_mnist", {"objective": "hoffman",
                                                    "control_variate": None,
                                                    "num_train_examples": None}, {}),
    "logistic_mf_fashion_mnist": ("logistic_mf_mnist", {"num_train_examples": 60000},
                                  {"dataset": "fashion_mnist"}),
    "logistic_mf_fashion_mnist_elbo": ("logistic_mf_mnist_elbo", {"num_train_examples": 60000},
                                       {"dataset": "fashion_mnist"}),
}


def _full_form(name):
    preset, model_changes, training_changes = FULL_FORMS[name]
    full = zoo.read_json(zoo.resolve(preset), zoo.CONFIG_FILE)
    full["model"]["config"].update(model_changes, name=name)
    full["training"].update(training_changes)
    return full


def _without_layer_names(config):
    """The serialised config without the sublayers' names, which Keras numbers by how
    many layers a process made before (gaussian_encoder_4); no weight depends on them."""
    if isinstance(config, dict):
        return {key: _without_layer_names(value) for key, value in config.items()
                if not (key == "name" and isinstance(value, str)
                        and AUTOMATIC_NAME.fullmatch(value))}
    if isinstance(config, list):
        return [_without_layer_names(value) for value in config]
    return config


def _serialised(model):
    return json.loads(json.dumps(_without_layer_names(keras.saving.serialize_keras_object(model))))


def test_every_recipe_file_is_short_and_has_a_full_form_here():
    names = sorted(path.stem for path in RECIPES_DIR.glob("*.json"))
    assert names == sorted(FULL_FORMS)
    for name in names:
        recipe = json.loads((RECIPES_DIR / f"{name}.json").read_text())
        assert not recipes.is_full(recipe)
        assert recipes.complete(recipe) == recipe  # every key spelt, each once


@pytest.mark.parametrize("name", sorted(FULL_FORMS))
def test_short_recipe_builds_the_model_of_its_full_form(name):
    short = json.loads((RECIPES_DIR / f"{name}.json").read_text())
    full = _full_form(name)
    from_short, from_full = recipes.model_from_recipe(short), recipes.model_from_recipe(full)
    assert _serialised(from_short) == _serialised(from_full)
    assert from_short.get_compile_config() == from_full.get_compile_config()
    assert len(from_short.weights) == len(from_full.weights)
    for mine, theirs in zip(from_short.weights, from_full.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine),
                                      keras.ops.convert_to_numpy(theirs), err_msg=mine.path)
    training = {key: value for key, value in full["training"].items() if key != "compile"}
    assert {key: short["training"][key] for key in training} == training


def test_a_full_recipe_still_builds_as_before():
    full = zoo.read_json(zoo.resolve("vcd_mnist"), zoo.CONFIG_FILE)
    model = recipes.model_from_recipe(full)
    assert model.control_variate == "local" and model.steps_per_execution == 50


# ---------------------------------------------------------------------- overrides


def test_overrides_change_one_value_each():
    recipe = recipes.with_overrides(
        {}, recipes.parse_assignments(["training.batch_size=128",
                                       "optimization.decoder_learning_rate=9e-4",
                                       "model.control_variate=null",
                                       "optimization.optimizer=adam"]))
    assert recipe["training"]["batch_size"] == 128
    assert recipe["model"]["control_variate"] is None
    model = recipes.model_from_recipe(recipes.with_overrides(recipe, {
        "model.encoder.hidden_units": [4], "model.decoder.hidden_units": [4],
        "model.decoder.output_dim": 6, "model.encoder.latent_dim": 2}))
    assert type(model.decoder_optimizer).__name__ == "Adam"
    assert float(model.decoder_optimizer.learning_rate) == pytest.approx(9e-4)
    assert float(model.encoder_std_optimizer.learning_rate) == pytest.approx(2.5e-4)


def test_an_unknown_key_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown recipe key 'training.batchsize'.*"
                                         r"training.batch_size"):
        recipes.with_overrides({}, {"training.batchsize": 128})
    # A decoder option exists for its kind only.
    with pytest.raises(ValueError, match="model.decoder.scale"):
        recipes.with_overrides({}, {"model.decoder.scale": 0.1})
    gaussian = recipes.with_overrides({}, {"model.decoder.kind": "gaussian",
                                           "model.decoder.scale": 0.1})
    assert gaussian["model"]["decoder"]["scale"] == 0.1


def test_a_wrong_type_names_key_value_and_type():
    with pytest.raises(ValueError, match=r"training.batch_size must be int, received '12x'"):
        recipes.with_overrides({}, recipes.parse_assignments(["training.batch_size=12x"]))
    with pytest.raises(ValueError, match=r"must be int, received True \(bool\)"):
        recipes.with_overrides({}, {"training.iterations": True})
    with pytest.raises(ValueError, match="KEY=VALUE"):
        recipes.parse_assignments(["training.batch_size"])


def test_a_full_recipe_takes_training_keys_only():
    full = zoo.read_json(zoo.resolve("vcd_mnist"), zoo.CONFIG_FILE)
    changed = recipes.with_overrides(full, {"training.batch_size": 128})
    assert changed["training"]["batch_size"] == 128 and recipes.is_full(changed)
    assert full["training"]["batch_size"] == 100  # the argument is left alone
    with pytest.raises(ValueError, match="full Keras serialisation"):
        recipes.with_overrides(full, {"optimization.decoder_learning_rate": 1e-3})


def test_stretched_schedule_is_the_original_at_budget_one():
    recipe = json.loads((RECIPES_DIR / "vcd_mnist.json").read_text())
    assert recipes.stretched(recipe, 1) == recipe

    def rates(budget, steps):
        model = recipes.model_from_recipe(recipes.stretched(copy.deepcopy(recipe), budget))
        schedule = keras.optimizers.schedules.deserialize(
            model.decoder_optimizer.get_config()["learning_rate"])
        return np.array([float(schedule(step)) for step in steps])

    original = rates(1, range(0, 400000, 5000))
    np.testing.assert_array_equal(rates(1, range(0, 400000, 5000)), original)
    # At a quarter of the budget the decay happens at a quarter of the steps.
    np.testing.assert_allclose(rates(0.25, range(0, 100000, 1250)), original, rtol=1e-6)


def test_a_short_recipe_continues_its_preset_with_the_whole_training_state():
    # `keras-vcd train zoo/recipes/logistic_mf_mnist.json --init-from zoo/logistic_mf_mnist`
    short = json.loads((RECIPES_DIR / "logistic_mf_mnist.json").read_text())
    model = recipes.model_from_recipe(short)
    zoo.load_weights_file(model, zoo.verify("logistic_mf_mnist"))
    preset = zoo.load("logistic_mf_mnist")
    assert int(model.decoder_optimizer.iterations.numpy()) == int(
        preset.decoder_optimizer.iterations.numpy()) > 0
    for mine, theirs in zip(model.weights, preset.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine),
                                      keras.ops.convert_to_numpy(theirs))
