"""Keras callbacks of keras_vcd: `ValidationLogLikelihood` (the `val_loglik` metric)."""

import copy

import keras
import numpy as np

from keras_vcd import evaluation, validation

# The name under which `ValidationLogLikelihood` reports; keras-tuner objectives use it.
METRIC_NAME = "val_loglik"


class ValidationLogLikelihood(keras.callbacks.Callback):
    """Writes `logs["val_loglik"]`: the mean estimated log p(x) of a fixed validation set.

    At the end of every epoch, the model's log-likelihood is estimated by importance
    sampling (`keras_vcd.evaluation.log_likelihood`) on the SAME examples with the
    SAME seed, so the values of two epochs, or of two keras-tuner trials, differ only
    because the weights differ. The value (nats, higher is better) is added to the
    epoch's `logs`, hence to `History`, the progress bar, `CSVLogger` and
    keras-tuner. Put this callback before any callback that reads `val_loglik`
    (`ModelCheckpoint(monitor="val_loglik", mode="max")`, `EarlyStopping`,
    keras-tuner's own): Keras runs callbacks in list order. `VCDHyperModel.fit` does
    this for you.

    Args:
        x: `(N, D)` binary array of validation examples; keep N small (a few hundred
            to a thousand) since the estimate runs every epoch.
        num_samples: importance samples S per example.
        method: `"iwae"` (default; proposal q(z | x), cheap) or `"hmc_is"` (the
            paper's estimator; 600 HMC transitions per example, slow).
        seed: int seed of the estimator; fixed, so every epoch uses the same draws.
        batch_size: examples per batch of the estimator.
        name: the key written into `logs`.
        **estimator_kwargs: further arguments of `log_likelihood` (e.g.
            `num_burnin_steps` for `"hmc_is"`).

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> x = (np.random.default_rng(0).random((64, 20)) < 0.3).astype("float32")
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, (8,)), kv.BernoulliDecoder(20, (8,)),
    ...                     refiner=kv.HMCRefine(num_steps=1, num_leapfrog_steps=2), seed=0)
    >>> model.compile(jit_compile=False)
    >>> from keras_vcd.training.callbacks import ValidationLogLikelihood
    >>> val_loglik = ValidationLogLikelihood(x[:16], num_samples=10)
    >>> history = model.fit(x, batch_size=32, epochs=1, verbose=0, callbacks=[val_loglik])
    >>> bool(history.history["val_loglik"][0] < 0)
    True

    With keras-tuner: `keras_tuner.Objective("val_loglik", direction="max")`.
    """

    def __init__(self, x, num_samples=100, method="iwae", seed=0, batch_size=500,
                 name=METRIC_NAME, **estimator_kwargs):
        super().__init__()
        validation.check_choice(method, "method", evaluation.METHODS)
        validation.check_int(num_samples, "num_samples")
        # The data are checked against the model's likelihood when it is set.
        self.x = np.asarray(x)
        if self.x.ndim == 0 or len(self.x) == 0:
            raise ValueError(f"x must hold at least one example; received shape {self.x.shape}.")
        self.num_samples, self.method, self.seed = int(num_samples), method, int(seed)
        self.batch_size, self.name, self.estimator_kwargs = int(batch_size), name, estimator_kwargs

    def set_model(self, model):
        super().set_model(model)
        self.x = model.decoder.check_data(self.x, exact=True)

    def estimate(self, model=None):
        """The mean log p(x) (float, nats) of the validation examples under `model`."""
        model = model if model is not None else self.model
        values = evaluation.log_likelihood(
            model, self.x, method=self.method, num_samples=self.num_samples,
            batch_size=self.batch_size, seed=self.seed, verbose=0, **self.estimator_kwargs,
        )
        return float(np.mean(values))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.name] = self.estimate()

    def __deepcopy__(self, memo):
        # keras-tuner deep-copies the search's callbacks for every trial. Copy the
        # settings only: never the model of a previous trial, which Keras stores on
        # the callback by `set_model`.
        clone = copy.copy(self)
        clone.__dict__ = dict(self.__dict__, _model=None)
        clone.estimator_kwargs = copy.deepcopy(self.estimator_kwargs, memo)
        memo[id(self)] = clone
        return clone
