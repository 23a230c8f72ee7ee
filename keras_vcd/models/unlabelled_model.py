"""`UnlabelledModel`: a Keras model of unlabelled data whose inputs are checked first.

Keras hands `fit`, `evaluate` and `predict` straight to the compiled step, where a
wrong shape or a value outside the likelihood's support fails deep in a graph (or,
under XLA, not at all). This base class gives those three methods one hook,
`prepare_data`, run before Keras sees the data (the role of keras-hub's
`PipelineModel.preprocess_samples`), so a wrong call raises a clear error and leaves
the model as it was.
"""

import keras

from keras_vcd import validation


class UnlabelledModel(keras.Model):
    """Base class: subclasses implement `prepare_data` (and may use `start_evaluation`).

    Example:

    >>> import numpy as np
    >>> from keras_vcd.models.unlabelled_model import UnlabelledModel
    >>> class Positive(UnlabelledModel):
    ...     def prepare_data(self, x, name, training=False):
    ...         if (np.asarray(x) < 0).any():
    ...             raise ValueError(f"{name} holds a negative value.")
    ...         return x
    >>> Positive().fit(-np.ones((4, 2)))
    Traceback (most recent call last):
    ValueError: x holds a negative value.
    """

    def prepare_data(self, x, name, training=False):
        """Checks `x` (an array, a dict of arrays or a `tf.data.Dataset`); returns it.

        Args:
            x: the data as the user passed it.
            name: how errors refer to it ("x", "validation_data").
            training: whether `x` is what `fit` trains on (it may need more, e.g.
                each example's index).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement prepare_data.")

    def start_evaluation(self):
        """Called before every evaluation, `fit`'s validation passes included."""

    def build_in_scope(self):
        """Builds the weights (and optimizer slots) under the model's strategy, if any."""
        if not self.built:
            with self.distribute_strategy.scope():
                self.build()

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        """`keras.Model.fit` on unlabelled data, checked by `prepare_data` first."""
        batch_size = kwargs.get("batch_size")
        if batch_size is not None:
            validation.check_int(batch_size, "batch_size")
        x = self.prepare_data(x, "x", training=True)
        if validation_data is not None:
            validation_data = self.prepare_data(validation_data, "validation_data")
        self.build_in_scope()
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """`keras.Model.evaluate` on unlabelled data, checked by `prepare_data` first."""
        x = self.prepare_data(x, "x")
        self.build_in_scope()
        self.start_evaluation()
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, **kwargs):
        """`keras.Model.predict` on unlabelled data, checked by `prepare_data` first."""
        x = self.prepare_data(x, "x")
        self.build_in_scope()
        return super().predict(x, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (TF backend, under a strategy) builds from a first batch that it reduces
        # with strategy.reduce, which fails on dict batches under
        # MultiWorkerMirroredStrategy. fit/evaluate/predict have built everything already.
        if not self.built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
