"""The preset loader: pretrained entries of `zoo/`, verified by sha256 before loading."""

import hashlib
import importlib.resources
import json
import pathlib

import keras

WEIGHTS_FILE = "model.weights.h5"
CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"


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
    path = pathlib.Path(directory) / filename
    with open(path) as f:
        return json.load(f)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
