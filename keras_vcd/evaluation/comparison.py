"""Compares models on the same test examples, with paired standard errors.

Two models evaluated on the same examples have strongly correlated estimates (an example
that is hard for one is hard for the other), so the standard error of the mean of the
per-example differences is much smaller than either model's own standard error: that is
the figure that says whether one model beats another.
"""

from keras_vcd.evaluation.estimators import log_likelihood
from keras_vcd.evaluation.summary import mean_and_stderr


def _iterations(model):
    optimizer = getattr(model, "decoder_optimizer", None)
    return None if optimizer is None else int(optimizer.iterations.numpy())


def compare(models, x, method="hmc_is", num_samples=1000, seed=0, verbose=1):
    """Estimates log p(x) for each model on the same `x` and seed; pairs the results.

    Args:
        models: dict of name -> built `VCDModel`; the first is the reference.
        x: `(N, D)` binary test examples.
        method, num_samples, seed, verbose: as in `evaluation.log_likelihood`.

    Returns:
        A list with one dict per model: `name`, `iterations` (training iterations the
        model has had, None if it was never compiled), `mean` and `stderr` of its
        estimates, and `difference` and
        `difference_stderr`: the mean of (this model's estimate - the reference's) over
        the examples and its paired standard error (zero for the reference).

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> a = kv.VCDModel(kv.GaussianEncoder(2, (8,)), kv.BernoulliDecoder(6, (8,)))
    >>> a.build()
    >>> x = np.eye(6, dtype="float32")
    >>> rows = kv.evaluation.compare({"a": a, "same": a}, x, "iwae", 10, verbose=0)
    >>> rows[1]["difference"], rows[1]["difference_stderr"]
    (0.0, 0.0)
    """
    if not models:
        raise ValueError("compare needs at least one model, received none.")
    estimates = {
        name: log_likelihood(
            model, x, method=method, num_samples=num_samples, seed=seed, verbose=verbose
        )
        for name, model in models.items()
    }
    reference = next(iter(estimates.values()))
    rows = []
    for name, values in estimates.items():
        mean, stderr = mean_and_stderr(values)
        difference, difference_stderr = mean_and_stderr(values - reference)
        rows.append({
            "name": name,
            "iterations": _iterations(models[name]),
            "method": method,
            "num_samples": num_samples,
            "num_examples": len(values),
            "seed": seed,
            "mean": mean,
            "stderr": stderr,
            "difference": difference,
            "difference_stderr": difference_stderr,
        })
    return rows
