"""Fashion-MNIST (Xiao et al., 2017): binarised at 0.5 as in the VCD paper, or as
grey levels in [0, 1] or pixel counts 0..255 (`kind=`)."""

import functools
import gzip
import pathlib
import tempfile

import numpy as np

from keras_vcd.datasets import _sources

#: The names of the two splits, in the order `load_data` returns them.
SPLITS = ("x_train", "x_test")
_SHAPES = {"x_train": (60000, 784), "x_test": (10000, 784)}

#: Source name: Zalando's images, pixel / 255 > 0.5. Every source yields the same files.
SOURCE = "fashion_mnist_threshold_0.5"
#: Where Debian's package `dataset-fashion-mnist` puts the IDX files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

# sha256 of the uncompressed IDX files, so that any gzip of them verifies: Debian
# recompressed Zalando's .gz files, and their uncompressed md5s equal the ones
# torchvision checks (f4a8712d..., 8181f547...).
_IDX_FILES = {
    "x_train": (
        "train-images-idx3-ubyte",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "x_test": (
        "t10k-images-idx3-ubyte",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
}
_URLS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
#: The kinds `load_data` returns, and the source each is cached as.
KINDS = ("binary", "grayscale", "counts")
COUNTS_SOURCE = "fashion_mnist_counts"


class _Variant:
    """What is cached from the IDX files: its source name, file, sha256 and pixels."""

    def __init__(self, source, arrays_sha256, from_counts, max_value):
        self.source, self.arrays_sha256 = source, arrays_sha256
        self.from_counts, self.max_value = from_counts, max_value
        self.cache_name = f"{source}.npz"


# The sha256 of the cached uint8 arrays, x_train then x_test.
_BINARY = _Variant(SOURCE, "dd935582f3737c9114704607c8218baa087eebbd3c818151ac56ec2ea62a93bb",
                   lambda counts: (counts.astype(np.float32) / 255 > 0.5).astype(np.uint8), 1)
_COUNTS = _Variant(COUNTS_SOURCE,
                   "0fbbfcb392782b3b702472ead3688778e1509e8cf40f5c24d9d3303618b193ab",
                   lambda counts: counts, 255)

_HOW_TO = (
    "To supply the data by hand: on Debian or Ubuntu, `apt-get install dataset-fashion-mnist` "
    f"(it puts the files in {DEBIAN_DIR}); or download train-images-idx3-ubyte.gz and "
    "t10k-images-idx3-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist "
    f"into a directory and pass it as `data_dir=` or set ${_sources.DATA_DIR_ENV} to it."
)


def load_data(data_dir=None, *, kind="binary", cache_dir=None, verbose=1, return_info=False):
    """Loads Fashion-MNIST: 60,000 train, 10,000 test images.

    With `kind="binary"` (the default) pixels are `pixel / 255 > 0.5`, as in the VCD
    paper; `kind="grayscale"` gives `pixel / 255` and `kind="counts"` the raw
    integers 0..255 (both as float32, cached as the counts). Only the image files
    are read (`train-images-idx3-ubyte` and `t10k-images-idx3-ubyte`, gzipped
    or not); their uncompressed sha256 is checked. Sources, in order:

    1. `data_dir`, then `$KERAS_VCD_DATA_DIR`: the IDX files, or a cache file
       `fashion_mnist_threshold_0.5.npz`.
    2. The cache, `cache_dir` (default `$KERAS_HOME/datasets/keras_vcd`, else
       `~/.keras/datasets/keras_vcd`).
    3. Debian's package `dataset-fashion-mnist`, in `DEBIAN_DIR` (local, so
       tried before any download; this function never runs apt).
    4. Zalando's files from GitHub, then from their S3 bucket (10 s timeout).

    Args:
        data_dir: a local directory searched first, or None.
        kind: "binary", "grayscale" or "counts".
        cache_dir: where the binarised arrays are cached; None for the default.
        verbose: 0 for silence, 1 for progress bars while downloading.
        return_info: also return a dict: "dataset" ("fashion_mnist"), "source"
            ("fashion_mnist_threshold_0.5"), "sha256" (of the arrays as uint8
            0/1 values in C order, train then test), "origin" (where the IDX
            files came from) and "path" (the cache file; None if it could not
            be written).

    Returns:
        `(x_train, x_test)`, float32 arrays of 0s and 1s of shapes (60000, 784)
        and (10000, 784); with `return_info=True`, `((x_train, x_test), info)`.

    Raises:
        DataUnavailableError: no source could be used; the message lists why
            for each and how to supply the files by hand.
        ChecksumError: a file or the cached arrays have the wrong sha256.

    Example (the first call downloads the data, so it is shown, not run, here)::

        from keras_vcd.datasets import fashion_mnist
        x_train, x_test = fashion_mnist.load_data(verbose=0)
        x_train.shape, x_test.shape  # ((60000, 784), (10000, 784))
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; expected one of {KINDS}.")
    variant = _BINARY if kind == "binary" else _COUNTS
    cache = _sources.cache_dir(cache_dir)
    attempts = [
        (f"local directory {directory}",
         functools.partial(_from_local_dir, directory, cache, variant))
        for directory in _sources.local_dirs(data_dir)
    ]
    attempts += [
        (f"cache {cache / variant.cache_name}",
         functools.partial(_load_cached, cache / variant.cache_name, variant)),
        (
            f"Debian package dataset-fashion-mnist in {DEBIAN_DIR}",
            functools.partial(_from_idx_dir, DEBIAN_DIR, cache, variant),
        ),
    ]
    attempts += [
        (f"download from {url}", functools.partial(_from_download, url, cache, variant, verbose))
        for url in _URLS
    ]
    arrays, info = _sources.first_available(attempts, "fashion_mnist", _HOW_TO)
    scale = 1.0 / 255.0 if kind == "grayscale" else 1.0
    x = tuple((arrays[name] * np.float32(scale)).astype("float32") for name in SPLITS)
    if kind != "binary":
        info = dict(info, dataset=f"fashion_mnist_{kind}")
    return (x, info) if return_info else x


def _load_cached(path, variant):
    return _sources.load_cache(path, SPLITS, variant.source, variant.arrays_sha256)


def _from_local_dir(directory, cache, variant):
    if pathlib.Path(directory, variant.cache_name).is_file():
        return _load_cached(pathlib.Path(directory, variant.cache_name), variant)
    return _from_idx_dir(directory, cache, variant)


def _from_idx_dir(directory, cache, variant, origin=None):
    arrays = {}
    for split, (filename, sha256) in _IDX_FILES.items():
        images = _parse_idx(_read_verified(pathlib.Path(directory), filename, sha256), filename)
        arrays[split] = variant.from_counts(images.reshape(len(images), -1))
    info = {"dataset": "fashion_mnist", "source": variant.source,
            "origin": origin or str(directory)}
    path = pathlib.Path(cache, variant.cache_name)
    return _sources.finish(arrays, _SHAPES, info, path, variant.arrays_sha256,
                           max_value=variant.max_value)


def _read_verified(directory, filename, sha256):
    """Returns the uncompressed bytes of `filename` or `filename.gz`, verified."""
    readers = (
        (directory / filename, pathlib.Path.read_bytes),
        (directory / f"{filename}.gz", _gunzip),
    )
    for path, read in readers:
        if path.is_file():
            data = read(path)
            _sources.check_sha256(_sources.sha256_bytes(data), sha256, f"{path} (uncompressed)")
            return data
    raise _sources.SourceUnavailableError(
        f"has neither {filename} nor {filename}.gz in {directory}"
    )


def _gunzip(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def _parse_idx(data, what):
    """Parses an IDX file of unsigned bytes (the MNIST format) into an array.

    Written by hand: the format is a 4-byte magic number (0, 0, 0x08 for
    uint8, the number of dimensions), the dimensions as big-endian uint32, then
    the values; no library we depend on reads it.
    """
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(
            f"{what} is not an IDX file of unsigned bytes: its header is {data[:4].hex()}, "
            "expected 000008 then the number of dimensions."
        )
    ndim = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    values = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if values.size != np.prod(shape):
        raise ValueError(
            f"{what} has {values.size} values after its header; its shape {shape} "
            f"needs {np.prod(shape)}."
        )
    return values.reshape(shape)


def _from_download(url, cache, variant, verbose):
    with tempfile.TemporaryDirectory() as tmp:
        for filename, _ in _IDX_FILES.values():
            _sources.download(f"{url}{filename}.gz", pathlib.Path(tmp, f"{filename}.gz"), verbose)
        return _from_idx_dir(tmp, cache, variant, origin=url)
