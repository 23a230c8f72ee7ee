"""Data sets of the VCD benchmarks, and helpers to fit on your own data.

- `binarized_mnist.load_data()`: statically binarised MNIST (50k/10k/10k).
- `fashion_mnist.load_data()`: Fashion-MNIST binarised at 0.5 (60k/10k).
- `mnist.load_data(kind="grayscale" | "counts")`: MNIST as grey levels in [0, 1] or
  pixel counts 0..255, with the binarised set's split and source.
- `load(name)`: any of `NAMES` as `(splits, info)`; "mnist_grayscale_centered" is
  the grey levels minus the training set's mean image.
- `with_indices(x)`: attaches training-set indices, for "local" control variates.
- `image_folder_dataset(directory)`: a folder of images as flat vectors in [0, 1].

Every downloaded or local file is checked against its sha256, and the binarised
arrays are cached under `$KERAS_HOME/datasets/keras_vcd` (default
`~/.keras/datasets/keras_vcd`); `$KERAS_VCD_DATA_DIR` names a local directory
searched first.
"""

from keras_vcd.datasets import binarized_mnist, data_order, fashion_mnist, mnist
from keras_vcd.datasets._pipeline import image_folder_dataset, with_indices
from keras_vcd.datasets._sources import ChecksumError, DataUnavailableError

__all__ = [
    "ChecksumError",
    "DataUnavailableError",
    "binarized_mnist",
    "data_order",
    "fashion_mnist",
    "image_folder_dataset",
    "mnist",
    "with_indices",
]

#: The names `load` accepts.
NAMES = ("binarized_mnist", "fashion_mnist", "mnist_grayscale", "mnist_grayscale_centered",
         "mnist_counts", "fashion_mnist_grayscale", "fashion_mnist_counts")


def load(name, **kwargs):
    """Loads a data set by name as `(splits, info)`.

    `splits` maps "train", "valid" (None for Fashion-MNIST, which has no validation
    split) and "test" to arrays; `info` says which source and binarisation they are.

    Example (the first call downloads the data, so it is shown, not run, here)::

        from keras_vcd import datasets
        splits, info = datasets.load("binarized_mnist", verbose=0)
        splits["train"].shape  # (50000, 784)

    An unknown name is refused before anything is read:

    >>> from keras_vcd import datasets
    >>> datasets.load("cifar10")
    Traceback (most recent call last):
    ...
    ValueError: Unknown data set 'cifar10'; expected one of ('binarized_mnist', ...).
    """
    if name not in NAMES:
        raise ValueError(f"Unknown data set {name!r}; expected one of {NAMES}.")
    if name == "binarized_mnist":
        (train, valid, test), info = binarized_mnist.load_data(return_info=True, **kwargs)
    elif name.startswith("fashion_mnist"):
        kind = name.replace("fashion_mnist", "").lstrip("_") or "binary"
        (train, test), info = fashion_mnist.load_data(kind=kind, return_info=True, **kwargs)
        valid = None
    elif name in ("mnist_grayscale", "mnist_counts"):
        kind = name.split("_", 1)[1]
        (train, valid, test), info = mnist.load_data(kind=kind, return_info=True, **kwargs)
    elif name == "mnist_grayscale_centered":
        # The reference's Gaussian matrix factorisation: grey levels minus the
        # training set's mean image, every split centred by the same mean.
        (train, valid, test), info = mnist.load_data(kind="grayscale", return_info=True,
                                                     **kwargs)
        mean = train.mean(axis=0, dtype="float64").astype("float32")
        train, valid, test = train - mean, valid - mean, test - mean
        info = dict(info, dataset=name)
    return {"train": train, "valid": valid, "test": test}, info


__all__.append("load")
