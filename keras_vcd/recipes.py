"""Recipes: a serialised `VCDModel` with its training settings (a preset's config.json).

Both the zoo (to build a preset's model) and training (to run a recipe) start here.
"""

import keras

from keras_vcd import datasets


def model_from_recipe(recipe):
    """Builds and compiles the `VCDModel` a recipe describes (fresh weights).

    The initial weights are drawn from the recipe's model seed, so a recipe always
    starts from the same point.
    """
    keras.utils.set_random_seed(recipe["model"]["config"]["seed"])
    model = keras.saving.deserialize_keras_object(recipe["model"])
    compile_config = recipe.get("training", {}).get("compile", {})
    model.compile(**{key: keras.saving.deserialize_keras_object(value)
                     if isinstance(value, dict) else value
                     for key, value in compile_config.items()})
    model.build()
    return model


def load_recipe_data(training):
    """The recipe's data set, cut to `training["subset"]` ({"train": N, ...}) if given."""
    splits, info = datasets.load(training["dataset"])
    for split, size in training.get("subset", {}).items():
        splits[split] = splits[split][:size]
    return splits, info
