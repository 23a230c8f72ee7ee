"""Evaluation of trained models: the estimators of log p(x), comparisons, diagnostics.

- `estimators`: `log_likelihood` by importance sampling (`"iwae"`, `"hmc_is"`) or AIS.
- `ais`: annealed importance sampling and its reverse chains.
- `sandwich`: `bdmc`, the sandwich of log p(x) on data simulated from the model.
- `compiled`: `compiled_functions`, the owner of the estimators' compiled functions.
- `summary`: mean and standard error of per-example estimates; a timed measurement.
- `comparison`: several models on the same examples, with paired standard errors.
- `diagnostics`: the variance of the VCD encoder gradient under each control variate.
- `exact`: log p(x) of a linear Gaussian model in closed form, the estimators' check.
- `baseline`: independent features with no latent variable, what a model must beat.
"""

from keras_vcd.evaluation import ais, comparison, diagnostics  # noqa: F401
from keras_vcd.evaluation.baseline import independent_baseline
from keras_vcd.evaluation.comparison import compare
from keras_vcd.evaluation.compiled import CompiledFunctions, compiled_functions
from keras_vcd.evaluation.estimators import (
    ADAPTATIONS,
    METHODS,
    StreamingLogSumExp,
    log_likelihood,
)
from keras_vcd.evaluation.exact import exact_log_likelihood
from keras_vcd.evaluation.sandwich import bdmc, simulate
from keras_vcd.evaluation.summary import mean_and_stderr, measure_log_likelihood

__all__ = [
    "ADAPTATIONS",
    "CompiledFunctions",
    "METHODS",
    "StreamingLogSumExp",
    "ais",
    "bdmc",
    "compare",
    "comparison",
    "compiled_functions",
    "diagnostics",
    "exact_log_likelihood",
    "independent_baseline",
    "log_likelihood",
    "mean_and_stderr",
    "measure_log_likelihood",
    "simulate",
]
