"""Weights files and `.keras` archives saved before the control-variate layer's rename load."""

import shutil
import zipfile

import h5py
import keras
import numpy as np
import pytest

import keras_vcd as kv
from keras_vcd.files import sha256_file
from keras_vcd.models import weights_format
from helpers import tiny_model


def _trained(data):
    # Local control variates: the layer holds one value per example, all moved by training.
    model = tiny_model("vcd", "local", num_train_examples=len(data), local_warmup_steps=0)
    model.compile(steps_per_execution=1, jit_compile=False)
    model.fit(kv.datasets.with_indices(data), batch_size=64, epochs=1, verbose=0)
    return model


def _fresh(data):
    model = tiny_model("vcd", "local", num_train_examples=len(data), local_warmup_steps=0,
                       seed=1)
    model.compile(steps_per_execution=1, jit_compile=False)
    model.build()
    return model


def _as_saved_before_the_rename(weights_path):
    """The file as the code before the rename wrote it: the layer's group had the old name."""
    with h5py.File(weights_path, "r+") as f:
        f.move(weights_format.GROUP, weights_format.LEGACY_GROUP)


def _state(model):
    """Every variable of the model and its optimizers, in a fixed order."""
    return list(model.weights) + [
        v for optimizer, _ in model.parameter_groups().values() for v in optimizer.variables]


def _assert_same_state(model, other):
    mine, theirs = _state(model), _state(other)
    assert len(mine) == len(theirs)
    for variable, loaded in zip(mine, theirs):
        np.testing.assert_array_equal(loaded.numpy(), variable.numpy(), err_msg=variable.path)


def test_a_weights_file_of_the_old_layout_loads_to_identical_weights(data, tmp_path):
    model = _trained(data)
    legacy = tmp_path / "old.weights.h5"
    model.save_weights(legacy)
    with h5py.File(legacy) as f:
        assert weights_format.GROUP in f and weights_format.LEGACY_GROUP not in f
    _as_saved_before_the_rename(legacy)
    assert weights_format.is_legacy(legacy)
    checksum = sha256_file(legacy)

    loaded = _fresh(data)
    loaded.load_weights(legacy)
    _assert_same_state(model, loaded)
    assert (loaded.control_variate_layer.values.numpy() != 0).any()
    assert sha256_file(legacy) == checksum  # read through a copy: the file is as it was

    # Rewritten once, it is a file of the current layout, with the same values.
    assert weights_format.upgrade(legacy) and not weights_format.is_legacy(legacy)
    again = _fresh(data)
    again.load_weights(legacy)
    _assert_same_state(model, again)


def test_a_keras_archive_of_the_old_layout_loads_through_the_library(data, tmp_path):
    model = _trained(data)
    model.save(tmp_path / "new.keras")
    weights = tmp_path / "model.weights.h5"
    with zipfile.ZipFile(tmp_path / "new.keras") as archive:
        weights.write_bytes(archive.read("model.weights.h5"))
        _as_saved_before_the_rename(weights)
        with zipfile.ZipFile(tmp_path / "old.keras", "w") as legacy:
            for member in archive.infolist():
                legacy.writestr(member, weights.read_bytes()
                                if member.filename == "model.weights.h5"
                                else archive.read(member))
    legacy = tmp_path / "old.keras"
    assert weights_format.is_legacy(legacy)

    # Keras's own loader has no hook before it reads the weights (see weights_format).
    with pytest.raises(ValueError, match="could not be loaded"):
        keras.saving.load_model(legacy)
    _assert_same_state(model, kv.zoo.load_model(str(legacy)))
    fresh = _fresh(data)
    fresh.load_weights(legacy)
    _assert_same_state(model, fresh)

    copy = tmp_path / "upgraded.keras"
    shutil.copyfile(legacy, copy)
    assert weights_format.upgrade(copy)
    _assert_same_state(model, keras.saving.load_model(copy))


def test_files_of_the_current_layout_and_other_files_pass_unchanged(data, tmp_path):
    model = _trained(data)
    model.save_weights(tmp_path / "m.weights.h5")
    assert not weights_format.is_legacy(tmp_path / "m.weights.h5")
    assert not weights_format.upgrade(tmp_path / "m.weights.h5")
    with weights_format.current_layout(tmp_path / "m.weights.h5") as path:
        assert path == tmp_path / "m.weights.h5"
    # A damaged file is Keras's to report, as before.
    (tmp_path / "cut.weights.h5").write_bytes(b"not an HDF5 file")
    assert not weights_format.is_legacy(tmp_path / "cut.weights.h5")
    assert not weights_format.is_legacy(tmp_path / "missing.weights.h5")
