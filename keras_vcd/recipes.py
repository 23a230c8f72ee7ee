"""Recipes: the model a training run builds, how it is optimised and how it trains.

A recipe comes in two forms, and every function here takes both:

- **short** (the files in `zoo/recipes/`): each hyperparameter once, under `model`,
  `optimization` and `training`, as the original implementation's JSON configs.
  `FIELDS` lists every key with its default (the paper's value) and type; a key left
  out takes its default.
- **full** (a preset's `config.json`): the Keras serialisation of the compiled model
  plus `training`, as `keras_vcd.zoo.save_to_preset` writes it. Presets and runs
  started from one keep it, so they resume with the very same model.

Values are changed by dotted names, the same everywhere (`keras-vcd train --set`,
`keras-vcd study --set`, the tuner): `with_overrides(recipe, {"training.batch_size":
128, "optimization.decoder_learning_rate": 9e-4})`.

Example:

>>> from keras_vcd import recipes
>>> recipe = {"model": {"encoder": {"latent_dim": 2, "hidden_units": [8]},
...                     "decoder": {"output_dim": 20, "hidden_units": [8]}},
...           "training": {"dataset": "binarized_mnist", "iterations": 10}}
>>> model = recipes.model_from_recipe(recipe)
>>> model.latent_dim, recipes.complete(recipe)["optimization"]["optimizer"]
(2, 'reference_rmsprop')
"""

import copy
import json
import re

import keras

from keras_vcd import datasets, optimizers
from keras_vcd.layers import (
    BernoulliDecoder, GaussianDecoder, GaussianEncoder, HMCRefine, PoissonDecoder,
)
from keras_vcd.models import VCDModel
from keras_vcd.validation import check_choice, check_int, check_number

DECODERS = {"bernoulli": BernoulliDecoder, "gaussian": GaussianDecoder,
            "poisson": PoissonDecoder}
# Optimizer families of `optimization.optimizer`; each group gets its own instance
# with its own learning rate, under the same staircase decay.
OPTIMIZERS = {"reference_rmsprop": optimizers.ReferenceRMSprop, "adam": keras.optimizers.Adam,
              "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}
GROUPS = optimizers.GROUPS
_NONE = type(None)

# Every key of a short recipe: (default, accepted types). The defaults are the paper's.
FIELDS = {
    "name": ("vcd", (str,)),
    "model.objective": ("vcd", (str,)),
    "model.control_variate": ("global", (str, _NONE)),
    "model.num_train_examples": (None, (int, _NONE)),
    "model.local_warmup_steps": (3000, (int,)),
    "model.control_variate_decay": (0.9, (float,)),
    "model.seed": (0, (int,)),
    "model.encoder.latent_dim": (10, (int,)),
    "model.encoder.hidden_units": ([200, 200], (list,)),
    "model.encoder.activation": ("relu", (str,)),
    "model.encoder.min_std": (1e-4, (float,)),
    "model.encoder.input_scale": (1.0, (float,)),
    "model.decoder.kind": ("bernoulli", (str,)),
    "model.decoder.output_dim": (784, (int,)),
    "model.decoder.hidden_units": ([200, 200], (list, _NONE)),
    "model.decoder.activation": ("relu", (str,)),
    # A Keras-serialised layer as the decoder's body, instead of hidden_units.
    "model.decoder.network": (None, (dict, _NONE)),
    "model.refiner.num_steps": (8, (int,)),
    "model.refiner.num_leapfrog_steps": (5, (int,)),
    "model.refiner.target_accept_rate": (0.9, (float,)),
    "model.refiner.adaptation_rate": (0.01, (float,)),
    "model.refiner.initial_step_size": (None, (float, _NONE)),
    "model.refiner.step_size_bounds": ([1e-5, 10.0], (list,)),
    "optimization.optimizer": ("reference_rmsprop", (str,)),
    **{f"optimization.{group}_learning_rate": (rate, (float,))
       for group, rate in optimizers.PAPER_LEARNING_RATES.items()},
    "optimization.decay_steps": (15000, (int,)),
    "optimization.decay_rate": (0.9, (float,)),
    "training.dataset": ("binarized_mnist", (str,)),
    "training.batch_size": (100, (int,)),
    "training.iterations": (400000, (int,)),
    "training.steps_per_execution": (10, (int,)),
    "training.jit_compile": (True, (bool,)),
    "training.validation_freq": (1, (int,)),
    "training.snapshot_every_epochs": (0, (int,)),
    "training.subset": ({}, (dict,)),
}
# The options of one decoder kind only, beside the shared ones above.
DECODER_OPTIONS = {
    "bernoulli": {},
    "gaussian": {"scale": ("learned", (float, str)), "min_scale": (1e-4, (float,))},
    "poisson": {"min_rate": (1e-4, (float,))},
}
# The training keys a full recipe (a preset's config.json) can change: its model is a
# Keras serialisation, edited through `zoo.load(..., **overrides)` instead.
FULL_RECIPE_KEYS = ("training.dataset", "training.batch_size", "training.iterations",
                    "training.validation_freq", "training.snapshot_every_epochs",
                    "training.subset")


def is_full(recipe):
    """True for a full recipe (a Keras-serialised model), False for a short one."""
    return isinstance(recipe.get("model"), dict) and "class_name" in recipe["model"]


def _fields(recipe):
    """`FIELDS` plus the options of the recipe's decoder kind."""
    kind = recipe.get("model", {}).get("decoder", {}).get("kind", "bernoulli")
    check_choice(kind, "decoder kind (model.decoder.kind)", tuple(DECODERS))
    return {**FIELDS, **{f"model.decoder.{key}": spec
                         for key, spec in DECODER_OPTIONS[kind].items()}}


def known_keys(recipe):
    """The dotted names `with_overrides` accepts for this recipe."""
    return list(FULL_RECIPE_KEYS) if is_full(recipe) else list(_fields(recipe))


def _type_names(types):
    return " or ".join("null" if t is _NONE else t.__name__ for t in types)


def check_value(key, value, types):
    """`value` if it has one of `types` (an int is a float here, a bool never an int).

    Example:

    >>> from keras_vcd.recipes import check_value
    >>> check_value("training.batch_size", "big", (int,))
    Traceback (most recent call last):
    ValueError: training.batch_size must be int, received 'big' (str).
    """
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) in types or (isinstance(value, bool) and bool in types):
        return value
    raise ValueError(f"{key} must be {_type_names(types)}, received {value!r} "
                     f"({type(value).__name__}).")


def _flatten(tree, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}; the dict values of layer configs stay whole."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and prefix.count(".") < 2 and name not in (
                "model.decoder.network", "training.subset"):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _set(tree, key, value):
    *parents, leaf = key.split(".")
    for parent in parents:
        tree = tree.setdefault(parent, {})
    tree[leaf] = value


def complete(recipe):
    """The short recipe with every key (`FIELDS`) present and checked.

    Raises:
        ValueError: on a key `FIELDS` does not know (listing the known ones) or a
            value of the wrong type.

    Example:

    >>> from keras_vcd.recipes import complete
    >>> complete({"training": {"batch_size": 128}})["training"]["iterations"]
    400000
    """
    if is_full(recipe):
        raise ValueError("complete() takes a short recipe; this one is a full Keras "
                         "serialisation (a preset's config.json).")
    fields = _fields(recipe)
    given = _flatten(recipe)
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise ValueError(f"Unknown recipe keys {unknown}; the known keys are {list(fields)}.")
    result = {}
    for key, (default, types) in fields.items():
        value = given[key] if key in given else copy.deepcopy(default)
        _set(result, key, check_value(key, value, types))
    return result


def normalized(recipe):
    """A full recipe as it is, a short one completed: what training code reads."""
    return recipe if is_full(recipe) else complete(recipe)


def with_overrides(recipe, overrides):
    """A copy of `recipe` with dotted keys set, each checked against the recipe.

    Args:
        recipe: a short or full recipe.
        overrides: {dotted key: value}, e.g. `{"training.batch_size": 128}`.

    Returns:
        The new recipe (a short one completed).

    Example:

    >>> from keras_vcd.recipes import with_overrides
    >>> with_overrides({}, {"training.batch_size": 128})["training"]["batch_size"]
    128
    >>> with_overrides({}, {"training.batchsize": 128})
    Traceback (most recent call last):
    ...
    ValueError: Unknown recipe key 'training.batchsize'; the known keys are [...].
    """
    recipe = copy.deepcopy(recipe)
    # The decoder kind decides which other decoder keys exist: set it first.
    kind_key = "model.decoder.kind"
    ordered = sorted(overrides.items(), key=lambda item: item[0] != kind_key)
    for key, value in ordered:
        known = known_keys(recipe)
        if key not in known:
            note = (" (this recipe is a full Keras serialisation: only its training "
                    "keys can be set; start from a short recipe to change the model)"
                    if is_full(recipe) else "")
            raise ValueError(f"Unknown recipe key {key!r}{note}; the known keys are "
                             f"{known}.")
        types = _fields(recipe)[key][1] if not is_full(recipe) else FIELDS[key][1]
        _set(recipe, key, check_value(key, value, types))
    return normalized(recipe)


def to_json(recipe):
    """A recipe as JSON text, one key a line, lists of numbers on one line.

    Example:

    >>> from keras_vcd.recipes import to_json
    >>> print(to_json({"model": {"encoder": {"hidden_units": [200, 200]}}}))
    {
     "model": {
      "encoder": {
       "hidden_units": [200, 200]
      }
     }
    }
    """
    text = json.dumps(recipe, indent=1)
    # json.dumps puts each list item on a line of its own; a list holding no
    # containers (the layer sizes, the step-size bounds) reads better on one.
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                  lambda match: "[" + ", ".join(item.strip() for item in
                                                match.group(1).split(",")) + "]", text)


def parse_assignments(assignments):
    """`["KEY=VALUE", ...]` as {key: value}; a value is a JSON literal, else a string.

    Example:

    >>> from keras_vcd.recipes import parse_assignments
    >>> parse_assignments(["training.batch_size=128", "model.objective=elbo",
    ...                    "model.control_variate=null"])
    {'training.batch_size': 128, 'model.objective': 'elbo', 'model.control_variate': None}
    """
    parsed = {}
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"Expected KEY=VALUE (e.g. training.batch_size=128), received "
                             f"{assignment!r}.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        parsed[key.strip()] = value
    return parsed


def stretched(recipe, budget):
    """The recipe with its iterations and its learning-rate decay scaled by `budget`.

    The decay keeps its shape over the run: at `budget` 0.25 a quarter as many
    iterations, and the rate falls by `decay_rate` every quarter as many steps. At
    `budget` 1 the recipe is unchanged.

    Example:

    >>> from keras_vcd.recipes import stretched
    >>> short = stretched({}, 0.25)
    >>> short["training"]["iterations"], short["optimization"]["decay_steps"]
    (100000, 3750)
    """
    check_number(budget, "budget", 0, exclusive_minimum=True)
    recipe = complete(recipe)
    for key in ("training.iterations", "optimization.decay_steps"):
        section, name = key.split(".")
        recipe[section][name] = max(1, round(recipe[section][name] * budget))
    return recipe


def _group_optimizer(optimization, group):
    family = OPTIMIZERS[check_choice(optimization["optimizer"], "optimizer (optimization."
                                     "optimizer)", tuple(OPTIMIZERS))]
    schedule = optimizers.paper_schedule(optimization[f"{group}_learning_rate"],
                                         decay_steps=optimization["decay_steps"],
                                         decay_rate=optimization["decay_rate"])
    return family(learning_rate=schedule, name=f"{group}_optimizer")


def _build_short(recipe):
    """The compiled model of a completed short recipe; layers built in the order a
    full recipe deserialises them, so the same seed gives the same initial weights."""
    spec = recipe["model"]
    keras.utils.set_random_seed(spec["seed"])
    encoder = GaussianEncoder(name="gaussian_encoder", **spec["encoder"])
    options = dict(spec["decoder"])
    kind = options.pop("kind")
    if options["network"] is not None:
        options["network"] = keras.saving.deserialize_keras_object(options["network"])
    decoder = DECODERS[kind](name=f"{kind}_decoder", **options)
    model = VCDModel(
        encoder=encoder, decoder=decoder,
        refiner=HMCRefine(name="hmc_refine", **spec["refiner"]),
        name=recipe["name"],
        **{key: spec[key] for key in ("objective", "control_variate", "num_train_examples",
                                      "local_warmup_steps", "control_variate_decay",
                                      "seed")},
    )
    model.compile(**{f"{group}_optimizer": _group_optimizer(recipe["optimization"], group)
                     for group in GROUPS},
                  steps_per_execution=recipe["training"]["steps_per_execution"],
                  jit_compile=recipe["training"]["jit_compile"])
    return model


def model_from_recipe(recipe):
    """Builds and compiles the `VCDModel` a recipe (short or full) describes.

    The initial weights are drawn from the recipe's model seed, so a recipe always
    starts from the same point.
    """
    if is_full(recipe):
        keras.utils.set_random_seed(recipe["model"]["config"]["seed"])
        model = keras.saving.deserialize_keras_object(recipe["model"])
        compile_config = recipe.get("training", {}).get("compile", {})
        model.compile(**{key: keras.saving.deserialize_keras_object(value)
                         if isinstance(value, dict) else value
                         for key, value in compile_config.items()})
    else:
        model = _build_short(complete(recipe))
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
        if training.get(key) is None:
            raise ValueError(f'The recipe\'s "training" has no "{key}" (an int >= 1); add '
                             f'it, e.g. "{key}": {example}.')
        check_int(training[key], f'The recipe\'s "training" "{key}"')
    if needs_dataset and not isinstance(training.get("dataset"), str):
        raise ValueError('The recipe\'s "training" has no "dataset" (a name from '
                         "keras_vcd.datasets.NAMES); add one, or train on your own data.")


def load_recipe_data(training):
    """The recipe's data set, cut to `training["subset"]` ({"train": N, ...}) if given."""
    splits, info = datasets.load(training["dataset"])
    for split, size in training.get("subset", {}).items():
        splits[split] = splits[split][:size]
    return splits, info
