"""The owner of the estimators' XLA-compiled functions, per model and settings."""

import collections
import weakref

from keras_vcd.validation import check_int


class CompiledFunctions:
    """Keeps each model's compiled estimator functions, so that repeated evaluations
    (a callback at every epoch, several seeds) trace and compile once.

    Entries are keyed by the model (weakly: a model that is no longer used elsewhere
    is dropped with its functions, which see the model only through a weak proxy) and
    by the estimator's settings. Each model keeps at most `max_per_model` settings,
    the least recently used going first, so a sweep over settings cannot grow the
    cache without bound. `clear()` drops everything (e.g. after changing a model's
    layers in place, which compiled functions would not see).

    Args:
        max_per_model: compiled functions kept per model (>= 1).

    Example:

    >>> import keras_vcd as kv
    >>> cache = kv.evaluation.CompiledFunctions(max_per_model=2)
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, ()), kv.BernoulliDecoder(3, ()))
    >>> function = cache.get(model, "key", lambda model: (lambda x: x))
    >>> cache.get(model, "key", lambda model: None) is function, len(cache)
    (True, 1)
    >>> cache.clear(); len(cache)
    0
    """

    def __init__(self, max_per_model=8):
        self.max_per_model = check_int(max_per_model, "max_per_model")
        self._by_model = weakref.WeakKeyDictionary()

    def get(self, model, key, make):
        """The function for `(model, key)`, made by `make(proxy of model)` if missing."""
        functions = self._by_model.setdefault(model, collections.OrderedDict())
        if key in functions:
            functions.move_to_end(key)
        else:
            functions[key] = make(weakref.proxy(model))
            while len(functions) > self.max_per_model:
                functions.popitem(last=False)
        return functions[key]

    def clear(self, model=None):
        """Drops the functions of `model`, or of every model if None."""
        if model is None:
            self._by_model.clear()
        else:
            self._by_model.pop(model, None)

    def __len__(self):
        return sum(len(functions) for functions in self._by_model.values())


#: The cache every estimator uses; `compiled_functions.clear()` resets it.
compiled_functions = CompiledFunctions()
