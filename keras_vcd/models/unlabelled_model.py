"""`UnlabelledModel`: a Keras model of unlabelled data whose inputs are checked first.

Keras hands `fit`, `evaluate` and `predict` straight to the compiled step, where a
wrong shape or a value outside the likelihood's support fails deep in a graph (or,
under XLA, not at all). This base class gives those three methods one hook,
`prepare_data`, run before Keras sees the data (the role of keras-hub's
`PipelineModel.preprocess_samples`), so a wrong call raises a clear error and leaves
the model as it was.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

from keras_vcd import validation
from keras_vcd.datasets.data_order import shuffled_batches, steps_per_execution_within
from keras_vcd.distribute import keras_workarounds

# Keras's default batch size, for a fit that gives none.
_KERAS_BATCH_SIZE = 32


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

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        self._planned_steps_per_execution = self.steps_per_execution
        # The metric bookkeeping Keras does every epoch, as one graph call each
        # instead of a few eager ops per metric variable: on a small data set these
        # were a good part of an epoch. Traced again whenever the model is compiled.
        self._reset_metrics_graph = tf.function(super().reset_metrics)
        self._metrics_result_graph = tf.function(self._metrics_results)

    def reset_metrics(self):
        if getattr(self, "_reset_metrics_graph", None) is None:
            return super().reset_metrics()
        return self._reset_metrics_graph()

    def get_metrics_result(self):
        if getattr(self, "_metrics_result_graph", None) is None:
            return super().get_metrics_result()
        return {name: _python_value(value)
                for name, value in self._metrics_result_graph().items()}

    def _metrics_results(self):
        results = {}
        for metric in self.metrics:
            result = metric.result()
            results.update(result if isinstance(result, dict) else {metric.name: result})
        return results

    def make_train_function(self, force=False):
        if self.distribute_strategy.num_replicas_in_sync == 1 or self.run_eagerly:
            return super().make_train_function(force)
        if self.train_function is None or force:
            self.train_function = keras_workarounds.multi_replica_train_function(self)
        return self.train_function

    @contextlib.contextmanager
    def _one_step_if_multi_replica(self):
        """Keras's own loops (evaluate, predict): one step per execution with replicas.

        Their multi-step loop fails under tf.distribute (see `make_train_function`);
        their functions are then always built, and run, at one step.
        """
        previous = self.steps_per_execution
        if self.distribute_strategy.num_replicas_in_sync > 1:
            self.steps_per_execution = 1
        try:
            yield
        finally:
            self.steps_per_execution = previous

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        """`keras.Model.fit` on unlabelled data, checked by `prepare_data` first.

        In-memory arrays are fed as one endless stream of shuffled batches with an
        epoch of `ceil(N / batch_size)` steps, so that Keras keeps one iterator for
        the whole fit: it otherwise makes a new input pipeline every epoch, which on
        a small data set (a few steps per epoch) costs more than the steps. Each
        epoch is still one pass over the data, in a new order unless
        `shuffle=False`; the order follows numpy's global seed
        (`keras.utils.set_random_seed`).
        """
        batch_size = kwargs.get("batch_size")
        if batch_size is not None:
            validation.check_int(batch_size, "batch_size")
        x = self.prepare_data(x, "x", training=True)
        if validation_data is not None:
            validation_data = self.prepare_data(validation_data, "validation_data")
        self.build_in_scope()
        if _in_memory(x) and y is None and not kwargs.get("validation_split") \
                and kwargs.get("steps_per_epoch") is None:
            x, kwargs = self._as_endless_batches(x, kwargs)
        elif self.distribute_strategy.num_replicas_in_sync > 1:
            # keras_vcd's multi-replica loop must not run past an epoch's end.
            self._fit_steps_per_execution(_steps_per_epoch(x, kwargs))
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def _as_endless_batches(self, x, kwargs):
        kwargs = dict(kwargs)
        batch_size = kwargs.pop("batch_size", None) or _KERAS_BATCH_SIZE
        num_examples = len(x["x"] if isinstance(x, dict) else x)
        steps_per_epoch = -(-num_examples // batch_size)
        batches = shuffled_batches(x, batch_size, seed=int(np.random.randint(2**31 - 1)),
                                   shuffle=kwargs.pop("shuffle", True))
        self._fit_steps_per_execution(steps_per_epoch)
        # shuffle=False: the batches come shuffled (Keras warns on a dataset otherwise).
        return batches, dict(kwargs, steps_per_epoch=steps_per_epoch, shuffle=False)

    def _fit_steps_per_execution(self, steps_per_epoch):
        # An execution must not run into the next epoch's batches (the trace is rebuilt
        # when the steps per execution change); one step where the epoch's length is
        # unknown.
        planned = getattr(self, "_planned_steps_per_execution", self.steps_per_execution)
        steps = 1 if steps_per_epoch is None else steps_per_execution_within(
            steps_per_epoch, planned)
        if steps != self.steps_per_execution:
            self.steps_per_execution = steps
            self.train_function = None

    def evaluate(self, x=None, y=None, **kwargs):
        """`keras.Model.evaluate` on unlabelled data, checked by `prepare_data` first."""
        x = self.prepare_data(x, "x")
        self.build_in_scope()
        self.start_evaluation()
        with self._one_step_if_multi_replica():
            return super().evaluate(x, y, **kwargs)

    def predict(self, x, **kwargs):
        """`keras.Model.predict` on unlabelled data, checked by `prepare_data` first."""
        x = self.prepare_data(x, "x")
        self.build_in_scope()
        with self._one_step_if_multi_replica():
            return super().predict(x, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (TF backend, under a strategy) builds from a first batch that it reduces
        # with strategy.reduce, which fails on dict batches under
        # MultiWorkerMirroredStrategy. fit/evaluate/predict have built everything already.
        if not self.built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def _steps_per_epoch(x, kwargs):
    """The steps of one epoch of `fit(x, **kwargs)`, or None where it is unknown."""
    if kwargs.get("steps_per_epoch") is not None:
        return kwargs["steps_per_epoch"]
    if isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        return cardinality if cardinality > 0 else None
    return None


def _in_memory(x):
    """Whether `x` is an array or a dict of arrays (not a dataset or a generator)."""
    values = x.values() if isinstance(x, dict) else [x]
    return all(isinstance(value, np.ndarray) for value in values)


def _python_value(tensor):
    """A float for a scalar, else a nested list: what Keras's logs hold."""
    value = np.asarray(tensor)
    return value.item() if value.ndim == 0 else value.tolist()
