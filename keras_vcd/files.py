"""Small file helpers every writer and verifier shares: sha256, durable atomic writes, JSON."""

import hashlib
import json
import os
import pathlib

#: Prefix of the temporary files `atomic_write` leaves behind if it is killed.
TEMPORARY_PREFIX = ".tmp-"
_CHUNK_BYTES = 1 << 20


def sha256_file(path):
    """The hex sha256 of a file, read in 1 MiB chunks.

    Example:

    >>> import pathlib, tempfile
    >>> from keras_vcd.files import sha256_file
    >>> path = pathlib.Path(tempfile.mkdtemp(), "empty")
    >>> path.write_bytes(b"")
    0
    >>> sha256_file(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path):
    """Flushes a file's or a folder's contents to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path, write):
    """Calls `write(tmp_path)`, then renames onto `path`: readers never see half a file.

    The temporary file is fsynced before the rename and the folder after it, so a
    power cut leaves either the old file or the new one, never an empty one.
    """
    path = pathlib.Path(path)
    # Keras insists on the .weights.h5 suffix, so the temporary name keeps the name.
    tmp = path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{path.name}")
    try:
        write(str(tmp))
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path, data):
    """Writes `data` as indented JSON with `atomic_write`."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")

    atomic_write(path, write)
