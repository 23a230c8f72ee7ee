"""What a `VCDModel` accepts as data: batches in, checked by the decoder's support.

`prepare` is `VCDModel.prepare_data`, the hook `UnlabelledModel` runs before Keras
sees the data; `split_inputs` takes a batch apart inside the compiled step;
`checked_data` and `checked_latent` are what the conveniences (`encode`, `decode`,
`reconstruct`) accept.
"""

import keras
import tensorflow as tf

from keras_vcd import validation


def split_inputs(data):
    """Returns `(x, index)` from a batch: an array, `(x,)`, or `{"x", "index"}`."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    if isinstance(x, dict):
        if "x" not in x:
            raise ValueError(f"A dict batch needs the key 'x'; received keys {sorted(x)}.")
        return x["x"], x.get("index")
    return x, None


def require_index(model, index):
    """Raises unless `index` is given where the model's local control variates need it."""
    if model.control_variate == "local" and model.objective == "vcd" and index is None:
        raise ValueError(
            "control_variate='local' needs each example's index in the training set; "
            "fit on keras_vcd.datasets.with_indices(x) (a dict {'x': ..., 'index': ...})."
        )


def prepare(model, x, name, training=False):
    """Checks `x` by `model.decoder`'s support and, for local control variates, its indices.

    Args:
        model: a `VCDModel`.
        x: an array, a dict `{"x", "index"}` or a `tf.data.Dataset` of either.
        name: how errors refer to `x`.
        training: `x` is what `fit` trains on, so local control variates need indices.

    Returns:
        `x` ready for Keras (arrays as float32; a dataset with run-time checks added).
    """
    local = model.control_variate == "local"
    if isinstance(x, tf.data.Dataset):
        x = model.decoder.check_dataset(x, name=name)
        if local and isinstance(x.element_spec, dict) and "index" in x.element_spec:
            x = validation.check_dataset_indices(x, model.num_train_examples, name=name)
        return x
    if not isinstance(x, dict):
        return model.decoder.check_data(x, name=name)
    if "x" not in x:
        raise ValueError(f"{name} as a dict needs the key 'x'; received {sorted(x)}.")
    checked = dict(x, x=model.decoder.check_data(x["x"], name=f"{name}['x']"))
    if local and "index" in x:
        checked["index"] = validation.check_indices(
            x["index"], model.num_train_examples, len(checked["x"]), name=f"{name}['index']"
        )
    elif training:
        require_index(model, None)
    return checked


def checked_data(model, x):
    """`x` checked by `model.decoder`'s support, as a tensor of the model's compute dtype.

    Builds the model (under its strategy) if it is not built yet.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> from keras_vcd.models.inputs import checked_data
    >>> model = kv.zoo.load("vcd_mnist", load_weights=False)
    >>> checked_data(model, np.zeros((2, 784))).dtype.name
    'float32'
    >>> checked_data(model, np.full((2, 784), 2.0))
    Traceback (most recent call last):
    ValueError: x holds 2.0 at (0, 0) (values in [2.0, 2.0]); expected values in [0, 1]. ...
    """
    x = model.decoder.check_data(x)
    model.build_in_scope()
    return tf.convert_to_tensor(x, model.compute_dtype)


def checked_latent(model, z):
    """`z` as a `(num_codes, latent_dim)` tensor of the model's compute dtype; builds the model.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> from keras_vcd.models import inputs
    >>> inputs.checked_latent(kv.zoo.load("vcd_mnist", load_weights=False), np.zeros((3, 2)))
    Traceback (most recent call last):
    ValueError: z must have shape (num_codes, 10); received shape (3, 2).
    """
    z = tf.convert_to_tensor(z, model.compute_dtype)
    if z.shape.rank != 2 or z.shape[-1] != model.latent_dim:
        raise ValueError(
            f"z must have shape (num_codes, {model.latent_dim}); received shape {z.shape}."
        )
    model.build_in_scope()
    return z
