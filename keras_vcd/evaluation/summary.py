"""Summaries of per-example estimates: mean, standard error, and a timed measurement."""

import time

import numpy as np

from keras_vcd.evaluation.estimators import log_likelihood


def mean_and_stderr(values):
    """The mean of `values` and its standard error (0 for a single value).

    Example:

    >>> from keras_vcd.evaluation import mean_and_stderr
    >>> mean_and_stderr([1.0, 3.0])
    (2.0, 1.0)
    """
    values = np.asarray(values, dtype=np.float64)
    stderr = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return float(values.mean()), float(stderr)


def measure_log_likelihood(model, x, method, num_samples, seed=0, verbose=1):
    """Mean ± standard error of `log_likelihood`, with its settings and wall time.

    Returns:
        A dict: `method`, `num_samples`, `num_examples`, `mean`, `stderr`, `seed`,
        `seconds`, as recorded in every preset's metadata.
    """
    start = time.time()
    estimates = log_likelihood(
        model, x, method=method, num_samples=num_samples, seed=seed, verbose=verbose
    )
    mean, stderr = mean_and_stderr(estimates)
    return {
        "method": method,
        "num_samples": num_samples,
        "num_examples": len(x),
        "mean": mean,
        "stderr": stderr,
        "seed": seed,
        "seconds": round(time.time() - start, 1),
    }
