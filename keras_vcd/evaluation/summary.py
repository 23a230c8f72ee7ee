"""Summaries of per-example estimates: mean, standard error, and a timed measurement."""

import time

import numpy as np

from keras_vcd.evaluation.estimators import DEFAULT_NUM_SAMPLES, log_likelihood


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


def measure_log_likelihood(model, x, method, num_samples=None, seed=0, verbose=1,
                           **settings):
    """Mean ± standard error of `log_likelihood`, with its settings and wall time.

    Args:
        model, x, method, num_samples, seed, verbose: as in `log_likelihood`.
        **settings: the estimator's other keyword arguments (e.g. `adaptation`,
            `num_annealing_steps`), recorded as given.

    Returns:
        A dict: `method`, `num_samples`, `num_examples`, `mean`, `stderr`, `seed`,
        `seconds`, as recorded in every preset's metadata, and `settings`; for
        `"hmc_is"` the settings always name the `adaptation` used.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, ()), kv.BernoulliDecoder(3, ()))
    >>> model.build()
    >>> record = kv.evaluation.measure_log_likelihood(
    ...     model, np.eye(3, dtype="float32"), "iwae", 5, verbose=0)
    >>> record["num_samples"], record["num_examples"]
    (5, 3)
    """
    if method == "hmc_is":
        settings.setdefault("adaptation", "dual_averaging")
    start = time.time()
    estimates = log_likelihood(
        model, x, method=method, num_samples=num_samples, seed=seed, verbose=verbose,
        **settings
    )
    mean, stderr = mean_and_stderr(estimates)
    return {
        "method": method,
        "num_samples": DEFAULT_NUM_SAMPLES[method] if num_samples is None else num_samples,
        "num_examples": len(x),
        "mean": mean,
        "stderr": stderr,
        "seed": seed,
        "settings": settings,
        "seconds": round(time.time() - start, 1),
    }
