"""The independent-features baseline: what a model must beat to have learned anything.

A latent-variable model of images that scores about as well as one probability per
pixel has not learned the pixels' dependence. `independent_baseline` fits that
model with no latent variable (each feature on its own, by maximum likelihood on the
training data, in the decoder's family) and scores the test data with it, in the
same unit as the estimators: nats per example, summed over features.
"""

import numpy as np
import tensorflow as tf

from keras_vcd.layers import BernoulliDecoder, GaussianDecoder, PoissonDecoder


def _bernoulli(train, test):
    # Add-one-half smoothing keeps a pixel never on in training from scoring -inf.
    p = (train.sum(axis=0) + 0.5) / (len(train) + 1.0)
    return test * np.log(p) + (1.0 - test) * np.log1p(-p)


def _gaussian(train, test):
    mean, var = train.mean(axis=0), np.maximum(train.var(axis=0), 1e-12)
    return -0.5 * (np.log(2.0 * np.pi * var) + (test - mean) ** 2 / var)


def _poisson(train, test):
    rate = np.maximum(train.mean(axis=0), 1e-4)
    return test * np.log(rate) - rate - tf.math.lgamma(test + 1.0).numpy()


_FAMILIES = {BernoulliDecoder: _bernoulli, GaussianDecoder: _gaussian, PoissonDecoder: _poisson}


def independent_baseline(model, x_train, x_test):
    """log p(x) per test example under independent features fitted to `x_train`.

    Args:
        model: a `VCDModel` (or a `Decoder`): its likelihood family is used
            (Bernoulli, Gaussian with a variance per feature, Poisson).
        x_train: the data the baseline is fitted to, `(N, *event_shape)`.
        x_test: the data scored, of the same event shape.

    Returns:
        A float64 array of shape `(len(x_test),)`.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> decoder = kv.BernoulliDecoder(output_dim=2, hidden_units=())
    >>> x = np.array([[0, 1], [0, 1], [1, 1], [0, 1]], "float32")
    >>> kv.evaluation.independent_baseline(decoder, x, x[:1]).round(3)
    array([-0.462])
    """
    decoder = getattr(model, "decoder", model)
    family = next((fit for cls, fit in _FAMILIES.items() if isinstance(decoder, cls)), None)
    if family is None:
        raise ValueError(
            f"No independent baseline for {type(decoder).__name__}; it exists for "
            f"{[cls.__name__ for cls in _FAMILIES]}. Fit one in your likelihood's family "
            "(one parameter per feature, no latent variable) to compare against."
        )
    train = np.asarray(x_train, "float64").reshape(len(x_train), -1)
    test = np.asarray(x_test, "float64").reshape(len(x_test), -1)
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"x_train has {train.shape[1]} features per example but x_test "
                         f"{test.shape[1]}; give both in the model's event shape.")
    return family(train, test).sum(axis=1)
