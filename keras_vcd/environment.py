"""The machine and library versions recorded with every run, preset and benchmark."""

import importlib.metadata
import os
import platform

_LIBRARIES = ("keras-vcd", "tensorflow", "keras", "tensorflow-probability", "numpy", "h5py")


def cpu_count():
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine_description():
    """E.g. "x86_64, 2 cores".

    Example:

    >>> from keras_vcd.environment import machine_description
    >>> "cores" in machine_description()
    True
    """
    return f"{platform.machine()}, {cpu_count()} cores"


def library_versions():
    """{distribution name: installed version or None} of the libraries that matter, and Python."""
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions
