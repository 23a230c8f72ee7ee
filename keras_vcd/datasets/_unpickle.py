"""A pickle reader that admits numpy arrays and nothing else.

`pickle.load` runs whatever callable a file names, so a downloaded pickle could
run any code. This reader resolves only the few globals needed to rebuild numpy
arrays (and the tuples and lists that hold them, which need no global).
"""

import pickle

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct  # NumPy >= 2
except ImportError:
    from numpy.core.multiarray import _reconstruct  # NumPy 1.x

# Files pickled under NumPy 1.x name `numpy.core`; under 2.x, `numpy._core`.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyArrayUnpickler(pickle.Unpickler):
    """A `pickle.Unpickler` whose `find_class` admits only numpy array rebuilding.

    Example:

    >>> import io, pickle
    >>> import numpy as np
    >>> data = pickle.dumps((np.arange(3), np.ones(2)))
    >>> NumpyArrayUnpickler(io.BytesIO(data)).load()[0]
    array([0, 1, 2])
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS)
            raise pickle.UnpicklingError(
                f"Refusing to load the global {module}.{name}: this pickle may "
                f"only contain numpy arrays (allowed globals: {allowed})."
            ) from None


def load_numpy_pickle(file):
    """Reads a pickle of numpy arrays (in tuples, lists, dicts) from a binary file.

    Python 2 pickles (such as the classic `mnist.pkl.gz`) hold array bytes as
    `str`; the latin-1 encoding maps them back to bytes one to one, as NumPy
    advises.

    Raises:
        pickle.UnpicklingError: the pickle names anything other than numpy
            array reconstruction.
    """
    return NumpyArrayUnpickler(file, encoding="latin1").load()
