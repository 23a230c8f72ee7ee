"""Helpers to fit on your own data: attaching indices, reading a folder of images."""

import keras
import numpy as np
import tensorflow as tf


def with_indices(x):
    """Attaches each example's index in the training set, for "local" control variates.

    The "local" control variate keeps one value per training example, so the
    model must know which examples a batch holds. Apply this to the training set
    BEFORE shuffling or batching a `tf.data.Dataset`, so that an example keeps
    its index wherever shuffling puts it. Numpy inputs can go to `fit` as they
    are: Keras shuffles the dict's arrays together.

    Args:
        x: a numpy array (or array-like) of shape (N, ...), or a
            `tf.data.Dataset` of single, unbatched examples.

    Returns:
        For an array, `{"x": x, "index": np.arange(N, dtype="int64")}`; for a
        dataset, a dataset of `{"x": example, "index": int64 scalar}` elements.

    Raises:
        ValueError: `x` is neither a dataset nor an array of rank at least 1.

    Example:

    >>> import numpy as np
    >>> from keras_vcd.datasets import with_indices
    >>> with_indices(np.zeros((3, 784), "float32"))["index"]
    array([0, 1, 2])
    >>> import tensorflow as tf
    >>> ds = with_indices(tf.data.Dataset.from_tensor_slices(np.zeros((3, 784))))
    >>> ds = ds.shuffle(3, seed=0).batch(2)  # shuffle and batch AFTER with_indices
    """
    if isinstance(x, tf.data.Dataset):
        return x.enumerate().map(lambda index, example: {"x": example, "index": index})
    array = np.asarray(x)
    if array.ndim == 0:
        raise ValueError(
            "with_indices expects a tf.data.Dataset or an array of shape (N, ...); "
            f"received {type(x).__name__} {x!r:.80}."
        )
    return {"x": array, "index": np.arange(len(array), dtype="int64")}


def image_folder_dataset(directory, image_size=(28, 28), threshold=None):
    """Reads a folder of images as flattened grayscale vectors in [0, 1].

    Uses `keras.utils.image_dataset_from_directory` (PNG, JPEG, GIF, BMP; the
    folder and its subfolders), resizing every image to `image_size`. Files come
    in a fixed (sorted) order and unshuffled, so `with_indices` can follow.

    Args:
        directory: the folder of images.
        image_size: (height, width) to resize to; the feature dimension of the
            result is height * width.
        threshold: None to keep gray levels; a number in [0, 1) to binarise
            with `x > threshold` (as for a Bernoulli decoder).

    Returns:
        An unbatched `tf.data.Dataset` of float32 vectors of shape
        (height * width,).

    Raises:
        ValueError: `threshold` is outside [0, 1).

    Example:

    >>> from keras_vcd.datasets import image_folder_dataset, with_indices
    >>> ds = image_folder_dataset("my_digits/", threshold=0.5)  # doctest: +SKIP
    >>> ds = with_indices(ds).shuffle(10_000).batch(100)  # doctest: +SKIP
    """
    if threshold is not None and not 0 <= threshold < 1:
        raise ValueError(f"threshold must be None or in [0, 1); received threshold={threshold!r}.")
    images = keras.utils.image_dataset_from_directory(
        directory, labels=None, color_mode="grayscale", image_size=image_size,
        batch_size=None, shuffle=False,
    )  # fmt: skip

    def to_vector(image):
        pixels = tf.reshape(image, [-1]) / 255.0
        return pixels if threshold is None else tf.cast(pixels > threshold, tf.float32)

    return images.map(to_vector, num_parallel_calls=tf.data.AUTOTUNE)
