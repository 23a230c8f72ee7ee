"""The model zoo: presets in `zoo/`, verified by sha256 before any weight is loaded.

A preset is a folder holding `config.json` (the serialised `VCDModel` and its
training recipe), `model.weights.h5`, `metadata.json` (data set, training, measured
log-likelihoods, library versions and the weights' sha256) and a model card
`README.md`. The registry of bundled presets is `zoo/registry.json`: data, not code.

Example:

>>> import keras_vcd as kv
>>> "vcd_mnist" in kv.zoo.list_presets()
True
"""

import importlib.resources
import json
import pathlib
import zipfile

import keras

from keras_vcd.environment import library_versions
from keras_vcd.files import atomic_write, sha256_file, write_json
from keras_vcd.models import weights_format
from keras_vcd.recipes import model_from_recipe

WEIGHTS_FILE = "model.weights.h5"
CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"


class ChecksumMismatchError(ValueError):
    """A preset's weights file does not match the sha256 in its metadata."""


def presets_dir():
    """The installed zoo folder (the package data `keras_vcd.presets`)."""
    return pathlib.Path(str(importlib.resources.files("keras_vcd.presets")))


def _registry():
    with open(presets_dir() / "registry.json") as f:
        return json.load(f)


def list_presets():
    """Names of the bundled presets, e.g. `["hoffman_mnist", "vae_mnist", "vcd_mnist"]`."""
    return sorted(_registry())


def describe(name):
    """The registry entry of a bundled preset (its description and folder)."""
    return _registry()[name]


def resolve(name_or_dir):
    """The folder of a preset name or of a local preset directory."""
    path = pathlib.Path(name_or_dir)
    if path.is_dir() and (path / CONFIG_FILE).exists():
        return path
    registry = _registry()
    if name_or_dir not in registry:
        raise ValueError(
            f"Unknown preset {name_or_dir!r}: not a bundled preset and not a directory "
            f"holding {CONFIG_FILE}. Available presets: {sorted(registry)}."
        )
    return presets_dir() / registry[name_or_dir]["path"]


def read_json(directory, filename):
    """A preset file's JSON, or a ValueError naming the file and what is wrong with it."""
    path = pathlib.Path(directory) / filename
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); the preset is damaged: restore the file "
            "(e.g. from the package or git) or export the preset again."
        ) from error


#: Overrides `load` refuses with pretrained weights: they change the architecture.
_ARCHITECTURE = ("encoder", "decoder")


def recorded_dataset(spec):
    """The data set a preset (or `PRESET@WEIGHTS`) was trained on, or None (`.keras`)."""
    spec = str(spec).split("@", 1)[0]
    if spec.endswith(".keras"):
        return None
    return read_json(resolve(spec), CONFIG_FILE).get("training", {}).get("dataset")


def verify(name_or_dir):
    """Checks a preset's weights against the sha256 in its metadata; returns the path.

    Raises:
        FileNotFoundError: the weights or metadata file is missing.
        ChecksumMismatchError: the weights were changed or corrupted.
    """
    directory = resolve(name_or_dir)
    weights = directory / WEIGHTS_FILE
    if not weights.exists():
        raise FileNotFoundError(
            f"Preset {name_or_dir!r} has no trained weights yet: {weights} is missing."
        )
    expected = read_json(directory, METADATA_FILE)["weights_sha256"]
    actual = sha256_file(weights)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{weights} has sha256 {actual}, but {directory / METADATA_FILE} records "
            f"{expected}: the file was changed or corrupted; nothing was loaded."
        )
    return weights


def load(name_or_dir, load_weights=True, expected_class=None, **overrides):
    """Builds a preset's `VCDModel`, compiled, with verified weights.

    Args:
        name_or_dir: a bundled preset name (`list_presets()`) or a preset folder.
        load_weights: load the pretrained weights (after checking their sha256).
        expected_class: refuse a preset whose model is not of this class (or a
            subclass), as keras-hub's `from_preset` does; `VCDModel.from_preset`
            passes its `cls`.
        **overrides: `VCDModel` constructor arguments to replace: `seed=1`, or
            `refiner=kv.HMCRefine(num_steps=30)` for longer chains on a pretrained
            model (the trained step size is kept). `encoder` and `decoder` change the
            architecture, which the weights would not fit: they need
            `load_weights=False`.

    Returns:
        A built, compiled `VCDModel`.

    Example:

    >>> import keras_vcd as kv
    >>> model = kv.zoo.load("vcd_mnist", load_weights=False, seed=3)
    >>> model.input_dim, model.seed
    (784, 3)
    """
    directory = resolve(name_or_dir)
    recipe = read_json(directory, CONFIG_FILE)
    if expected_class is not None:
        _check_class(recipe, expected_class, name_or_dir)
    refused = sorted(set(overrides) & set(_ARCHITECTURE)) if load_weights else []
    if refused:
        raise ValueError(
            f"Cannot override {refused} of preset {name_or_dir!r} with its pretrained "
            "weights: they change the architecture the weights belong to. Pass "
            "load_weights=False to build a fresh model with them."
        )
    recipe["model"]["config"].update({
        key: keras.saving.serialize_keras_object(value)
        if isinstance(value, keras.layers.Layer) else value
        for key, value in overrides.items()
    })
    weights = verify(directory) if load_weights else None
    model = model_from_recipe(recipe)
    if weights is not None:
        load_weights_file(model, weights)
    return model


def _check_class(recipe, expected_class, name_or_dir):
    registered = recipe["model"].get("registered_name") or recipe["model"]["class_name"]
    preset_class = keras.saving.get_registered_object(registered)
    if preset_class is None or not issubclass(preset_class, expected_class):
        found = preset_class.__name__ if preset_class else registered
        raise ValueError(
            f"The preset {name_or_dir!r} holds a {found}, which is not a "
            f"{expected_class.__name__}; call {found}.from_preset instead."
        )


def load_model(spec):
    """A model from a preset name, a preset folder, a `.keras` file or `PRESET@WEIGHTS`.

    `PRESET@WEIGHTS` builds the preset's model and loads a weights file into it, such as
    a training run's checkpoint or snapshot: `vcd_mnist@runs/vcd_mnist/snapshots/...`.
    A `.keras` file is loaded in Keras's safe mode (one saved before the control-variate
    layer's rename too: `keras_vcd.models.weights_format`).

    Example:

    >>> import keras_vcd as kv
    >>> kv.zoo.load_model("vcd_mnist").objective
    'vcd'
    """
    spec = str(spec)
    if "@" in spec:
        preset, weights = spec.split("@", 1)
        model = load(preset, load_weights=False)
        load_weights_file(model, weights)
        return model
    if spec.endswith(".keras"):
        if not pathlib.Path(spec).is_file():
            raise FileNotFoundError(f"No such .keras file: {spec}.")
        if not zipfile.is_zipfile(spec):
            raise ValueError(
                f"{spec} is not a .keras archive (a zip file): it is truncated or corrupt. "
                "Save the model again with model.save(...)."
            )
        try:
            with weights_format.current_layout(spec) as path:
                return keras.models.load_model(path, safe_mode=True)
        except Exception as error:  # Keras raises many kinds for a foreign file.
            raise ValueError(f"Cannot load {spec} as a keras_vcd model: {error}") from error
    return load(spec)


def load_weights_file(model, path):
    """`model.load_weights(path)`, with an error naming the file if it does not fit."""
    try:
        model.load_weights(str(path))
    except Exception as error:  # Keras and h5py raise many kinds for a foreign file.
        raise ValueError(
            f"{path} is not a weights file of this model ({type(error).__name__}: {error})."
        ) from error


def save_to_preset(model, directory, metadata=None, training=None):
    """Writes `model` as a preset folder that `load` accepts.

    Args:
        model: a built `VCDModel`.
        directory: the folder to write (created if needed).
        metadata: extra facts to record (data set, iterations, measured
            log-likelihoods, ...); the weights' sha256 and library versions are added.
        training: the training recipe to store beside the model config.

    Returns:
        The metadata dict written.

    Example:

    >>> import tempfile, keras_vcd as kv
    >>> model = kv.zoo.load("vcd_mnist", load_weights=False)
    >>> folder = tempfile.mkdtemp()
    >>> _ = kv.zoo.save_to_preset(model, folder)
    >>> kv.zoo.load(folder).latent_dim
    10
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # The compile config holds the three optimizers with their (possibly tuned)
    # learning-rate schedules, so `load` recompiles the model as it was trained.
    recipe = {
        "model": keras.saving.serialize_keras_object(model),
        "training": dict(training or {}, compile=model.get_compile_config() or {}),
    }
    write_json(directory / CONFIG_FILE, recipe)
    atomic_write(directory / WEIGHTS_FILE, model.save_weights)
    metadata = dict(metadata or {})
    metadata.update(
        weights_sha256=sha256_file(directory / WEIGHTS_FILE),
        libraries=library_versions(),
        objective=model.objective,
        control_variate=model.control_variate,
    )
    write_json(directory / METADATA_FILE, metadata)
    (directory / CARD_FILE).write_text(model_card(directory.name, metadata))
    return metadata


def model_card(name, metadata):
    """A short human-readable card from a preset's metadata."""
    lines = [f"# {name}", ""]
    if "description" in metadata:
        lines += [metadata["description"], ""]
    lines += ["| field | value |", "| --- | --- |"]
    for key in ("objective", "control_variate", "dataset", "iterations", "target_iterations",
                "batch_size", "seed", "wall_time_s", "machine"):
        if key in metadata:
            value = metadata[key]
            if isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items() if k != "path")
            lines.append(f"| {key} | {value} |")
    for result in metadata.get("test_log_likelihood", []):
        samples = f", S={result['num_samples']}" if "num_samples" in result else ""
        lines.append(
            f"| test log p(x), {result['method']}{samples}, "
            f"{result['num_examples']} examples | {result['mean']:.2f} ± {result['stderr']:.2f} |"
        )
    lines += ["", f"Weights sha256: `{metadata.get('weights_sha256')}`", ""]
    if metadata.get("note"):
        lines += [metadata["note"], ""]
    return "\n".join(lines)
