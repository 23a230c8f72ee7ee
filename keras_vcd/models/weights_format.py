"""A `VCDModel` weights file's layout, and the older layout that still loads.

Keras 3 stores a model's variables under the path of attributes that leads to them.
The control-variate layer was the attribute `control_variate` until that name went
to the constructor's string (as Keras's `Dense` keeps `units`); the layer is now
`control_variate_layer`. Files saved before hold its values under the top-level
group `control_variate/`, files saved since under `control_variate_layer/`; nothing
else differs.

`VCDModel.load_weights` (and with it checkpoints, presets and `kv.zoo.load_model`)
reads an old `.weights.h5` file or `.keras` archive through `current_layout`: Keras
gets a temporary copy with the group renamed (h5py moves the group; no value is
read or changed). `keras.saving.load_model` has no hook before it reads an archive's
weights, so there an old `.keras` archive fails with Keras's "could not be loaded"
error: load it with `kv.zoo.load_model` instead, or rewrite it once with `upgrade`.
"""

import contextlib
import pathlib
import shutil
import tempfile
import zipfile

import h5py

from keras_vcd.files import atomic_write

LEGACY_GROUP = "control_variate"
GROUP = "control_variate_layer"
# Where a .keras archive keeps its weights (Keras's saving_lib._VARS_FNAME_H5).
_ARCHIVE_WEIGHTS = "model.weights.h5"


def _has_legacy_group(h5_file):
    return isinstance(h5_file.get(LEGACY_GROUP), h5py.Group) and GROUP not in h5_file


def is_legacy(path):
    """Whether the `.weights.h5` file or `.keras` archive at `path` has the old layout.

    Anything else (another format, a missing or unreadable file) is not: Keras then
    reads it, and says what is wrong with it, as it would have.

    Example:

    >>> import os, tempfile, h5py
    >>> from keras_vcd.models import weights_format
    >>> path = os.path.join(tempfile.mkdtemp(), "old.weights.h5")
    >>> h5py.File(path, "w").create_group("control_variate/vars").file.close()
    >>> weights_format.is_legacy(path)
    True
    """
    name = str(path)
    try:
        if name.endswith(".weights.h5") and pathlib.Path(name).is_file():
            with h5py.File(name, "r") as h5_file:
                return _has_legacy_group(h5_file)
        if name.endswith(".keras") and zipfile.is_zipfile(name):
            with zipfile.ZipFile(name) as archive:
                if _ARCHIVE_WEIGHTS not in archive.namelist():
                    return False
                with archive.open(_ARCHIVE_WEIGHTS) as weights, h5py.File(weights, "r") as h5:
                    return _has_legacy_group(h5)
    except OSError:  # h5py's error for a damaged file
        return False
    return False


def _rename_group(weights_path):
    with h5py.File(weights_path, "r+") as h5_file:
        h5_file.move(LEGACY_GROUP, GROUP)


def _write_current_layout(source, target):
    """Writes the old-layout file `source` to `target` in the current layout."""
    if not str(source).endswith(".keras"):
        shutil.copyfile(source, target)
        _rename_group(target)
        return
    with tempfile.TemporaryDirectory(prefix="keras_vcd_weights_") as folder:
        weights = pathlib.Path(folder) / _ARCHIVE_WEIGHTS
        with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as upgraded:
            weights.write_bytes(archive.read(_ARCHIVE_WEIGHTS))
            _rename_group(weights)
            for member in archive.infolist():  # the same members, each as it was stored
                upgraded.writestr(member, weights.read_bytes()
                                  if member.filename == _ARCHIVE_WEIGHTS
                                  else archive.read(member))


@contextlib.contextmanager
def current_layout(path):
    """Yields `path`, or a temporary copy in the current layout if it has the old one.

    Args:
        path: a `.weights.h5` file or a `.keras` archive (anything else is yielded
            as it is).

    Example:

    >>> import os, tempfile, h5py
    >>> from keras_vcd.models import weights_format
    >>> path = os.path.join(tempfile.mkdtemp(), "old.weights.h5")
    >>> h5py.File(path, "w").create_group("control_variate/vars").file.close()
    >>> with weights_format.current_layout(path) as current, h5py.File(current) as f:
    ...     sorted(f)
    ['control_variate_layer']
    """
    if not is_legacy(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="keras_vcd_weights_") as folder:
        # Keras reads the format from the name's ending: the copy keeps the name.
        copy = pathlib.Path(folder) / pathlib.Path(path).name
        _write_current_layout(path, copy)
        yield str(copy)


def upgrade(path):
    """Rewrites an old-layout file in the current layout, in place; returns whether it did.

    Args:
        path: a `.weights.h5` file or a `.keras` archive.

    Example:

    >>> import os, tempfile, h5py
    >>> from keras_vcd.models import weights_format
    >>> path = os.path.join(tempfile.mkdtemp(), "old.weights.h5")
    >>> h5py.File(path, "w").create_group("control_variate/vars").file.close()
    >>> weights_format.upgrade(path), weights_format.upgrade(path)
    (True, False)
    """
    if not is_legacy(path):
        return False
    atomic_write(path, lambda target: _write_current_layout(path, target))
    return True
