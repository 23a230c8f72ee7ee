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


def check_training(training, needs_dataset=True):
    """Raises ValueError unless a recipe's "training" part has what `train` reads.

    Example:

    >>> from keras_vcd.recipes import check_training
    >>> check_training({"dataset": "binarized_mnist", "batch_size": 100})
    Traceback (most recent call last):
    ValueError: The recipe's "training" has no "iterations" (an int >= 1); add it, e.g. "iterations": 400000.
    """
    if not isinstance(training, dict):
        raise ValueError(f'A recipe needs a "training" dict; received {training!r:.80}.')
    examples = {"batch_size": 100, "iterations": 400000}
    for key, example in examples.items():
        value = training.get(key)
        if value is None:
            raise ValueError(f'The recipe\'s "training" has no "{key}" (an int >= 1); add '
                             f'it, e.g. "{key}": {example}.')
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'The recipe\'s "training" "{key}" must be an int >= 1, '
                             f"received {value!r}.")
    if needs_dataset and not isinstance(training.get("dataset"), str):
        raise ValueError('The recipe\'s "training" has no "dataset" (a name from '
                         "keras_vcd.datasets.NAMES); add one, or train on your own data.")


def load_recipe_data(training):
    """The recipe's data set, cut to `training["subset"]` ({"train": N, ...}) if given."""
    splits, info = datasets.load(training["dataset"])
    for split, size in training.get("subset", {}).items():
        splits[split] = splits[split][:size]
    return splits, info
