"""Optional dependencies: imported where used, with an error that says how to install them."""

import importlib


def require(module, extra):
    """Imports `module`, or raises an `ImportError` naming the extra that brings it.

    Example:

    >>> from keras_vcd.extras import require
    >>> require("json", extra="plots").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{module} is not installed; it comes with the {extra!r} extra: "
            f"pip install 'keras-vcd[{extra}]' (or install {module.split('.')[0]} yourself)."
        ) from error
