"""Bidirectional Monte Carlo (Grosse et al. 2015): log p(x) sandwiched on simulated data.

On x simulated from the model with its latent z* (an exact sample of p(z | x)),
forward AIS gives a stochastic lower bound of log p(x) and reverse AIS from z* a
stochastic upper bound (`evaluation.ais`). The distance between them bounds how far
below log p(x) any estimator is on that model's own data.
"""

import numpy as np

from keras_vcd import mcmc
from keras_vcd.evaluation import ais
from keras_vcd.evaluation.estimators import log_likelihood
from keras_vcd.evaluation.summary import mean_and_stderr
from keras_vcd.validation import check_int

#: The estimators placed inside the sandwich by default, with their settings.
DEFAULT_ESTIMATORS = {
    "iwae": {"num_samples": 1000},
    "hmc_is": {"num_samples": 1000},
    "ais": {},
}


def simulate(model, num_examples, seed=0):
    """`(z*, x)`: z* ~ N(0, I) and x ~ p(x | z*), as float32 numpy arrays.

    Example:

    >>> import keras_vcd as kv
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, ()), kv.BernoulliDecoder(5, ()))
    >>> model.build()
    >>> [a.shape for a in kv.evaluation.simulate(model, 3)]
    [(3, 2), (3, 5)]
    """
    num_examples = check_int(num_examples, "num_examples")
    z = mcmc.normal([num_examples, model.latent_dim], mcmc.fold_in([seed, 2], 0))
    x = model.decoder.sample(z, mcmc.fold_in([seed, 2], 1))
    return z.numpy(), np.asarray(x, np.float32)


def bdmc(model, num_examples=100, num_chains=ais.DEFAULT_NUM_CHAINS,
         num_annealing_steps=ais.DEFAULT_NUM_ANNEALING_STEPS, schedule="sigmoid",
         estimators=None, batch_size=500, seed=0, verbose=1):
    """The BDMC sandwich of log p(x) on simulated data, and each estimator inside it.

    Args:
        model: a built `VCDModel`, any decoder with `sample`.
        num_examples: examples simulated from the model.
        num_chains, num_annealing_steps, schedule: of the forward and reverse AIS
            chains that make the sandwich (see `evaluation.ais.run_annealing`).
        estimators: dict of method name -> keyword arguments of `log_likelihood`
            (e.g. `{"hmc_is": {"num_samples": 5000}}`); None: `DEFAULT_ESTIMATORS`.
        batch_size, seed, verbose: as in `log_likelihood`.

    Returns:
        A dict: `lower` and `upper` (means over examples of the two bounds), `width`
        (`upper - lower`, with `width_stderr`), `lower_per_example` and
        `upper_per_example` (`(N,)` arrays), the sandwich's settings, and
        `estimators`: per method its `mean`, `gap_to_upper` (mean of upper - estimate,
        how far below log p(x) the estimator is at most, with its paired
        `gap_stderr`), `position` ((mean - lower) / width: 0 at the lower bound, 1 at
        the upper) and its `per_example` estimates.

    Example:

    >>> import keras_vcd as kv
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, ()), kv.BernoulliDecoder(5, ()))
    >>> model.build()
    >>> result = kv.evaluation.bdmc(model, 4, num_chains=2, num_annealing_steps=10,
    ...     estimators={"iwae": {"num_samples": 10}}, verbose=0)
    >>> bool(result["width"] > -1.0), sorted(result["estimators"])
    (True, ['iwae'])
    """
    estimators = DEFAULT_ESTIMATORS if estimators is None else estimators
    z_star, x = simulate(model, num_examples, seed)
    bounds = ais.run_annealing(model, x, num_chains, num_annealing_steps, schedule,
                               batch_size, seed, verbose, posterior_samples=z_star)
    lower, upper = bounds["log_likelihood"], bounds["upper_bound"]
    width, width_stderr = mean_and_stderr(upper - lower)
    result = {
        "num_examples": num_examples, "num_chains": num_chains,
        "num_annealing_steps": num_annealing_steps, "schedule": schedule, "seed": seed,
        "lower": float(lower.mean()), "upper": float(upper.mean()),
        "width": width, "width_stderr": width_stderr,
        "lower_per_example": lower, "upper_per_example": upper, "estimators": {},
    }
    for method, settings in estimators.items():
        values = log_likelihood(model, x, method=method, batch_size=batch_size, seed=seed,
                                verbose=verbose, **settings)
        gap, gap_stderr = mean_and_stderr(upper - values)
        result["estimators"][method] = {
            "settings": dict(settings), "mean": float(values.mean()),
            "gap_to_upper": gap, "gap_stderr": gap_stderr,
            "position": (float(values.mean()) - result["lower"]) / width if width else None,
            "per_example": values,
        }
    return result
