"""Hyperparameter search for `VCDModel` with keras-tuner, scored by `val_loglik`.

`VCDHyperModel` is a `keras_tuner.HyperModel` whose trials are built from a recipe
(`keras_vcd.recipes`, the short form; by default the paper's configuration) with the
sampled values applied as recipe overrides, the mechanism of `keras-vcd train --set`.
The search space is `SEARCH_SPACE`: each hyperparameter's recipe keys and range; its
defaults are the recipe's values, so a trial of defaults is the recipe's model. Any
decoder the recipe names (Bernoulli, Gaussian, Poisson, a custom network) or a model
function of your own can be tuned, with the reference RMSprop or Adam.

`run_search` runs a resumable search (random search, Hyperband or Bayesian
optimisation), prints a results table and saves the best model as a zoo preset that
`keras_vcd.zoo.load` accepts.

The objective is `val_loglik`, an importance-sampled estimate of the mean log p(x)
of a fixed validation subset (`keras_vcd.training.callbacks.ValidationLogLikelihood`);
higher is better, so use `VAL_LOGLIK_OBJECTIVE` (or
`keras_tuner.Objective("val_loglik", "max")`; a plain string cannot work because
keras-tuner cannot infer the direction of an unknown metric).

Example (see docs/tuning.md):

```python
import keras_vcd as kv

(x_train, x_valid, _) = kv.datasets.binarized_mnist.load_data()
tuner, table = kv.tuning.run_search(
    x_train, x_valid, directory="tuning", algorithm="random", max_trials=20, epochs=10,
    fixed={"objective": "vcd"}, best_preset_dir="tuning/best")
model = kv.zoo.load("tuning/best")
```
"""

import collections
import dataclasses
import json
import logging
import pathlib

import keras
import numpy as np

from keras_vcd import recipes, validation, zoo
from keras_vcd.extras import require
from keras_vcd.training.callbacks import METRIC_NAME, ValidationLogLikelihood
from keras_vcd.validation import check_choice, check_int

keras_tuner = require("keras_tuner", extra="tuner")

VAL_LOGLIK_OBJECTIVE = keras_tuner.Objective(METRIC_NAME, direction="max")
ALGORITHMS = ("random", "hyperband", "bayesian")


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One dimension of the search: the recipe keys it sets and how it is sampled.

    Attributes:
        keys: the dotted recipe keys the value is written to.
        kind: `"log_span"` (log-uniform over [default / span, default * span]),
            `"int"` (an int in `values` = (low, high)), `"choice"` (one of `values`)
            or `"width"` (one of `values`, the width of every hidden layer at
            `keys`, whose number of layers stays the recipe's).
        values: the span, the bounds or the choices.
    """

    keys: tuple
    kind: str
    values: object

    def default(self, recipe):
        """The recipe's value: what a trial of defaults uses."""
        value = _get(recipe, self.keys[0])
        if self.kind == "width":
            return value[0] if value else None
        return "none" if value is None and self.kind == "choice" else value

    def declare(self, hp, name, default):
        """Registers the hyperparameter in `hp` around `default`; returns its value."""
        if self.kind == "log_span":
            return hp.Float(name, default / self.values, default * self.values,
                            sampling="log", default=default)
        if self.kind == "int":
            low, high = self.values
            return hp.Int(name, min(low, default), max(high, default), default=default)
        choices = list(self.values) + ([] if default in self.values else [default])
        return hp.Choice(name, choices, default=default)

    def overrides(self, value, recipe):
        """{recipe key: value} that put the sampled `value` into `recipe`."""
        if self.kind == "width":  # a decoder given as a network has no layers to set
            return {key: [int(value)] * len(_get(recipe, key)) for key in self.keys
                    if _get(recipe, key) is not None}
        value = value.item() if isinstance(value, np.generic) else value
        return {key: None if value == "none" else value for key in self.keys}


# The search space, written once: name -> recipe keys and range. Learning rates are
# searched over [default / 5, default * 5].
SEARCH_SPACE = {
    **{f"{group}_learning_rate": Hyperparameter(
        (f"optimization.{group}_learning_rate",), "log_span", 5.0)
       for group in recipes.GROUPS},
    "optimizer": Hyperparameter(("optimization.optimizer",), "choice",
                                ("reference_rmsprop", "adam")),
    "latent_dim": Hyperparameter(("model.encoder.latent_dim",), "choice",
                                 (2, 5, 10, 20, 32, 50)),
    "hidden_units": Hyperparameter(("model.encoder.hidden_units",
                                    "model.decoder.hidden_units"), "width",
                                   (100, 200, 300, 400, 500)),
    "num_hmc_steps": Hyperparameter(("model.refiner.num_steps",), "int", (1, 16)),
    "num_leapfrog_steps": Hyperparameter(("model.refiner.num_leapfrog_steps",), "int",
                                         (1, 10)),
    "objective": Hyperparameter(("model.objective",), "choice", ("vcd", "elbo", "hoffman")),
    # "local" needs each example's index, which a tuner's fit(x, ...) does not pass.
    "control_variate": Hyperparameter(("model.control_variate",), "choice",
                                      ("global", "none")),
    # Batches above 128 made the test log-likelihood worse in a published reproduction.
    "batch_size": Hyperparameter(("training.batch_size",), "choice", (32, 64, 100, 128)),
}
HYPERPARAMETERS = tuple(SEARCH_SPACE)


def _get(recipe, key):
    value = recipe
    for part in key.split("."):
        value = value[part]
    return value


def _check_fixed(fixed):
    fixed = dict(fixed or {})
    unknown = sorted(set(fixed) - set(HYPERPARAMETERS))
    if unknown:
        raise ValueError(
            f"Unknown hyperparameters in fixed: {unknown}; expected names among "
            f"{list(HYPERPARAMETERS)}."
        )
    if "control_variate" in fixed:
        if fixed["control_variate"] is None:
            fixed["control_variate"] = "none"
        if fixed["control_variate"] == "local":
            raise ValueError(
                "control_variate='local' cannot be tuned: it needs each example's index "
                "in the training set. Use 'global' (same test log-likelihood in the "
                "published reproduction) or 'none'."
            )
    return fixed


class _NewModelTracingFilter(logging.Filter):
    """Drops TensorFlow's 'triggered tf.function retracing' for Keras's step functions.

    Every trial builds a new model, whose train and test functions are traced once
    each (counted: nothing retraces); TensorFlow counts traces per Python code object
    across all models and warns as if one function had retraced.
    """

    def filter(self, record):
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message
                    and "multi_step_on_iterator" in message)


class VCDHyperModel(keras_tuner.HyperModel):
    """A recipe's VCD model as a keras-tuner search space (`SEARCH_SPACE`).

    `build(hp)` returns a built, compiled `VCDModel`: the recipe with the sampled
    values set by `keras_vcd.recipes.with_overrides`, built by `model_fn`.
    `fit(hp, model, ...)` trains it with the sampled batch size and reports
    `val_loglik` every epoch. Every default is the recipe's value, so with the
    default recipe `build(keras_tuner.HyperParameters())` is the paper's model.

    Args:
        input_dim: the data dimension D (the decoder's `output_dim`); None keeps the
            recipe's (784 for the default recipe).
        recipe: a short recipe (default: the paper's configuration, the defaults of
            `keras_vcd.recipes.FIELDS`). Its decoder, networks and optimiser family
            are those of every trial, except where a hyperparameter changes them.
        model_fn: `model_fn(recipe) -> compiled VCDModel` for a model a recipe cannot
            describe (e.g. a convolutional network); it reads what it needs from the
            trial's recipe (`recipe["model"]["encoder"]["latent_dim"]`, the learning
            rates under `recipe["optimization"]`, ...). Default
            `keras_vcd.recipes.model_from_recipe`.
        validation_subset: array of examples on which `val_loglik` is estimated,
            the same every epoch and every trial. If None, `fit` uses the first
            `max_validation_examples` of its `validation_data` (an array).
        loglik_samples: importance samples S per example for `val_loglik`.
        loglik_method: `"iwae"` (default) or `"hmc_is"`.
        fixed: {hyperparameter name: value} to fix (recorded in every trial, not
            searched), e.g. `{"objective": "vcd", "optimizer": "adam"}`. A fixed
            `control_variate` may be None (read as "none").
        seed: model seed (weight initialisation and the model's random stream).
            Every trial starts from it; with `executions_per_trial > 1` execution k
            uses `seed + k`.
        loglik_seed: seed of the `val_loglik` estimator (fixed across epochs).
        max_validation_examples: the size of the subset taken from
            `validation_data` when `validation_subset` is None.
        compile_kwargs: `steps_per_execution` and `jit_compile` for every trial (the
            recipe's `training.` keys of those names).
        **kwargs: `keras_tuner.HyperModel` arguments (`name`, `tunable`).

    Example:

    >>> import keras_tuner
    >>> from keras_vcd.tuning import VCDHyperModel
    >>> hypermodel = VCDHyperModel(input_dim=784)
    >>> hp = keras_tuner.HyperParameters()
    >>> model = hypermodel.build(hp)
    >>> hp.values["latent_dim"], hp.values["optimizer"], hp.values["batch_size"]
    (10, 'reference_rmsprop', 100)
    """

    def __init__(self, input_dim=None, recipe=None, model_fn=None, validation_subset=None,
                 loglik_samples=100, loglik_method="iwae", fixed=None, seed=0, loglik_seed=0,
                 max_validation_examples=1000, compile_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        changes = {f"training.{key}": value for key, value in (compile_kwargs or {}).items()}
        if input_dim is not None:
            changes["model.decoder.output_dim"] = check_int(input_dim, "input_dim")
        self.recipe = recipes.with_overrides(recipe or {}, changes)
        self.model_fn = model_fn or recipes.model_from_recipe
        self.input_dim = self.recipe["model"]["decoder"]["output_dim"]
        self._binary = self.recipe["model"]["decoder"]["kind"] == "bernoulli"
        if validation_subset is not None:
            validation_subset = self._check_validation(validation_subset, "validation_subset")
        self.validation_subset = validation_subset
        self.loglik_samples = check_int(loglik_samples, "loglik_samples")
        self.loglik_method = loglik_method
        self.fixed = _check_fixed(fixed)
        if self.recipe["model"]["control_variate"] == "local" and (
                "control_variate" not in self.fixed):
            raise ValueError("The recipe's control_variate is 'local', which cannot be tuned "
                             "(see fixed); pass fixed={'control_variate': 'global'} or "
                             "'none', or set model.control_variate in the recipe.")
        self.seed = check_int(seed, "seed", minimum=0)
        self.loglik_seed = check_int(loglik_seed, "loglik_seed", minimum=0)
        self.max_validation_examples = check_int(max_validation_examples,
                                                 "max_validation_examples")
        # Models fitted so far per set of hyperparameter values: execution k of a
        # trial is built from `seed + k`.
        self._executions = collections.Counter()
        # Fails now, not in the first trial, on a bad estimator setting.
        self._make_callback(np.zeros((1, self.input_dim), "float32"))

    def _check_validation(self, x, name):
        # A model function may take data of any shape: its decoder checks them at fit.
        if self.model_fn is not recipes.model_from_recipe:
            return np.asarray(x, dtype="float32")
        x = validation.check_array(x, self.input_dim, name=name)
        if self._binary:
            validation.require_binary(x, name=name)
        return x

    def _declare(self, hp, name):
        if name in self.fixed:
            return hp.Fixed(name, self.fixed[name])
        space = SEARCH_SPACE[name]
        default = space.default(self.recipe)
        if default is None:  # e.g. the width of a linear decoder: nothing to search
            return hp.Fixed(name, default)
        return space.declare(hp, name, default)

    def declare_hyperparameters(self, hp):
        """Registers every hyperparameter in `hp`; returns their values by name."""
        return {name: self._declare(hp, name) for name in HYPERPARAMETERS}

    def trial_recipe(self, values, seed=None):
        """The recipe of a trial: the base recipe with `values` ({name: value}) set."""
        overrides = {"model.seed": self.seed if seed is None else seed}
        for name, value in values.items():
            if value is not None:
                overrides.update(SEARCH_SPACE[name].overrides(value, self.recipe))
        return recipes.with_overrides(self.recipe, overrides)

    def build(self, hp):
        values = self.declare_hyperparameters(hp)
        seed = self.seed + self._executions[_values_key(hp.values)]
        # Weight initialisation follows the seed, for a model function too.
        keras.utils.set_random_seed(seed)
        model = self.model_fn(self.trial_recipe(values, seed))
        model.build()
        return model

    def _make_callback(self, x):
        return ValidationLogLikelihood(
            x, num_samples=self.loglik_samples, method=self.loglik_method,
            seed=self.loglik_seed,
        )

    def _subset_from(self, validation_data):
        if isinstance(validation_data, dict):
            validation_data = validation_data.get("x")
        if validation_data is None or not hasattr(validation_data, "shape"):
            raise ValueError(
                "val_loglik needs validation examples: pass validation_subset= (an array) "
                "to VCDHyperModel, or validation_data= (an array) to tuner.search; "
                f"received validation_data of type {type(validation_data).__name__}."
            )
        return self._check_validation(
            np.asarray(validation_data)[: self.max_validation_examples], "validation_data")

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` with the tuned batch size; reports `val_loglik` per epoch.

        `kwargs` are those of `tuner.search` plus the tuner's callbacks (best-epoch
        checkpoint, progress reporting), passed on to `VCDModel.fit` after the
        `ValidationLogLikelihood` callback, which therefore writes `val_loglik` into
        the epoch's logs before keras-tuner reads them.
        """
        batch_size = self._declare(hp, "batch_size")
        if "batch_size" in kwargs:
            raise ValueError(
                "batch_size is a hyperparameter of VCDHyperModel; fix it with "
                "fixed={'batch_size': ...} instead of passing it to search()."
            )
        self._executions[_values_key(hp.values)] += 1
        callbacks = list(kwargs.pop("callbacks", None) or [])
        ours = [c for c in callbacks if isinstance(c, ValidationLogLikelihood)]
        if not ours:
            subset = self.validation_subset
            if subset is None:
                subset = self._subset_from(kwargs.get("validation_data"))
            ours = [self._make_callback(subset)]
        others = [c for c in callbacks if not isinstance(c, ValidationLogLikelihood)]
        return model.fit(*args, batch_size=int(batch_size), callbacks=ours + others, **kwargs)


def _values_key(values):
    return json.dumps(_jsonable(values), sort_keys=True)


def _jsonable(value):
    """Python scalars, lists and dicts only (hyperparameter values may be numpy)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---------------------------------------------------------------------- the search


def make_tuner(hypermodel, directory, project_name="vcd_tuning", algorithm="random",
               max_trials=10, epochs=10, executions_per_trial=1, overwrite=False, seed=0,
               hyperband_factor=3):
    """The keras-tuner `Tuner` of `run_search`, objective `val_loglik` (max).

    Args are those of `run_search`; `hypermodel` is a `VCDHyperModel`. The same
    `seed` gives the same sequence of hyperparameter values.
    """
    check_choice(algorithm, "algorithm", ALGORITHMS)
    common = dict(
        hypermodel=hypermodel, objective=VAL_LOGLIK_OBJECTIVE, directory=str(directory),
        project_name=project_name, overwrite=overwrite,
        # keras-tuner's oracles read seed 0 as "no seed" (`seed or random.randint(...)`).
        seed=int(seed) + 1,
        executions_per_trial=executions_per_trial,
    )
    if algorithm == "random":
        return keras_tuner.RandomSearch(max_trials=max_trials, **common)
    if algorithm == "hyperband":
        return keras_tuner.Hyperband(max_epochs=epochs, factor=hyperband_factor, **common)
    # keras-tuner's BayesianOptimization needs both.
    require("scipy", extra="bayesian")
    require("sklearn", extra="bayesian")
    return keras_tuner.BayesianOptimization(max_trials=max_trials, **common)


def _trials(tuner):
    return [tuner.oracle.trials[t] for t in sorted(tuner.oracle.trials)]


def _is_completed(trial):
    return trial.status == "COMPLETED"  # keras_tuner's TrialStatus.COMPLETED


def _shown_values(trial):
    # Hyperband's bookkeeping entries, except the epochs a trial trained for.
    return {k: v for k, v in trial.hyperparameters.values.items()
            if not k.startswith("tuner/") or k == "tuner/epochs"}


def _format(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def results_table(tuner):
    """A text table of a search's trials, best first.

    Columns: trial id, the hyperparameters that vary (searched, not fixed), and
    `val_loglik` (the trial's best epoch, averaged over executions). Trials that did
    not complete come last, with their status.
    """
    trials = _trials(tuner)
    completed = sorted(
        (t for t in trials if _is_completed(t)), key=lambda t: t.score, reverse=True
    )
    others = [t for t in trials if not _is_completed(t)]
    names = []
    for trial in trials:
        for name in _shown_values(trial):
            if name not in names:
                names.append(name)
    # The searched hyperparameters (not `fixed`), and any other value that differs
    # between trials (Hyperband's epochs).
    searched = {hp.name for hp in tuner.oracle.hyperparameters.space
                if type(hp).__name__ != "Fixed"}
    varying = [n for n in names if n in searched
               or len({_values_key(_shown_values(t).get(n)) for t in trials}) > 1]
    header = ["trial"] + varying + [METRIC_NAME]
    rows = [[t.trial_id] + [_format(_shown_values(t).get(n, "")) for n in varying]
            + [f"{t.score:.3f}"] for t in completed]
    rows += [[t.trial_id] + [_format(_shown_values(t).get(n, "")) for n in varying]
             + [str(t.status).lower()] for t in others]
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).rjust(width) for cell, width in zip(row, widths))
             for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def save_best_preset(tuner, directory, algorithm=None, extra_metadata=None):
    """Saves the best trial's model (its best epoch) as a zoo preset folder.

    The metadata records the search: algorithm, project directory, trial id, its
    hyperparameters and `val_loglik`, and how `val_loglik` was estimated.

    Returns:
        `(model, metadata)`.
    """
    best_trials = [t for t in tuner.oracle.get_best_trials(1) if _is_completed(t)]
    if not best_trials:
        raise RuntimeError(f"No completed trial in {tuner.project_dir}; nothing to save.")
    best = best_trials[0]
    model = tuner.load_model(best)
    hypermodel = tuner.hypermodel
    values = _jsonable(dict(best.hyperparameters.values))
    estimator = {"method": hypermodel.loglik_method, "num_samples": hypermodel.loglik_samples,
                 "seed": hypermodel.loglik_seed}
    if hypermodel.validation_subset is not None:
        estimator["num_examples"] = len(hypermodel.validation_subset)
    metadata = dict(
        description=(f"Best model of a keras-tuner {algorithm or 'hyperparameter'} search "
                     f"(trial {best.trial_id}), selected by val_loglik."),
        batch_size=values.get("batch_size"),
        tuning={
            "algorithm": algorithm,
            "project_dir": str(pathlib.Path(tuner.project_dir).resolve()),
            "trial_id": best.trial_id,
            "best_epoch": best.best_step,
            "hyperparameters": values,
            "val_loglik": float(best.score),
            "val_loglik_estimator": estimator,
            "objective": f"{METRIC_NAME} (max)",
            "trials_completed": sum(_is_completed(t) for t in _trials(tuner)),
        },
    )
    metadata.update(extra_metadata or {})
    training = {
        "batch_size": values.get("batch_size"),
        "learning_rates": {name[: -len("_learning_rate")]: value
                           for name, value in values.items() if name.endswith("_learning_rate")},
    }
    metadata = zoo.save_to_preset(model, directory, metadata=metadata, training=training)
    return model, metadata


def run_search(x_train, x_valid, directory, project_name="vcd_tuning", algorithm="random",
               max_trials=10, epochs=10, executions_per_trial=1, loglik_samples=100,
               validation_subset_size=1000, fixed=None, overwrite=False,
               best_preset_dir=None, verbose=1, loglik_method="iwae", seed=0,
               hyperband_factor=3, compile_kwargs=None, preset_metadata=None, recipe=None,
               model_fn=None):
    """Runs (or resumes) a hyperparameter search of `VCDHyperModel` on `val_loglik`.

    The search lives in keras-tuner's project folder `directory/project_name`. With
    `overwrite=False` an existing project is reloaded: finished trials are not
    trained again (a trial interrupted mid-way is run again from its start), and
    raising `max_trials` extends the search. Change `fixed` or the data only with a
    new `project_name` or `overwrite=True`.

    Args:
        x_train: `(N, D)` training data (values in [0, 1]).
        x_valid: `(M, D)` binary validation data; `val_loglik` is estimated on its
            first `validation_subset_size` examples (the same examples, seed and S
            in every epoch and trial), which also serve as Keras' `validation_data`.
        directory: the folder holding the project.
        project_name: the project's subfolder.
        algorithm: `"random"` (RandomSearch), `"hyperband"` (Hyperband with
            `max_epochs=epochs`; the number of trials follows from `epochs` and
            `hyperband_factor`, so `max_trials` is unused) or `"bayesian"`
            (BayesianOptimization; needs scipy and scikit-learn).
        max_trials: number of hyperparameter sets to try (random, bayesian).
        epochs: training epochs per trial (the maximum for hyperband).
        executions_per_trial: models trained per trial (from seeds `seed`,
            `seed + 1`, ...); their best `val_loglik` values are averaged.
        loglik_samples: importance samples S per example for `val_loglik`.
        validation_subset_size: validation examples used for `val_loglik`.
        fixed: dict of hyperparameter values to fix (see `VCDHyperModel`).
        overwrite: delete an existing project and start again.
        best_preset_dir: if given, the best trial's model (at its best epoch) is
            saved there as a preset folder that `keras_vcd.zoo.load` accepts.
        verbose: 0 silent, 1 progress and the results table, 2 one line per epoch.
        loglik_method: `"iwae"` or `"hmc_is"` for `val_loglik`.
        seed: seed of the tuner's sampling of hyperparameters and of the models.
        hyperband_factor: Hyperband's reduction factor.
        compile_kwargs: extra `VCDModel.compile` arguments for every trial.
        preset_metadata: extra facts for the preset's metadata (e.g. the data set).
        recipe, model_fn: what every trial is built from (see `VCDHyperModel`).

    Returns:
        `(tuner, table)`: the keras-tuner `Tuner` and the results table (a str,
        best trial first; see `results_table`).

    Example:

    ```python
    tuner, table = kv.tuning.run_search(x_train, x_valid, "tuning", max_trials=20,
                                        epochs=10, best_preset_dir="tuning/best")
    best = kv.zoo.load("tuning/best")
    ```
    """
    check_choice(algorithm, "algorithm", ALGORITHMS)
    for name, value in (("max_trials", max_trials), ("epochs", epochs),
                        ("executions_per_trial", executions_per_trial),
                        ("validation_subset_size", validation_subset_size)):
        check_int(value, name)
    x_train = np.asarray(x_train)
    if x_train.ndim < 2:
        raise ValueError(f"x_train must have shape (num_examples, ...); received "
                         f"{x_train.shape}.")
    # A flat data set sets the decoder's size; a model function takes any shape.
    input_dim = x_train.shape[1] if x_train.ndim == 2 and model_fn is None else None
    hypermodel = VCDHyperModel(
        input_dim=input_dim, recipe=recipe, model_fn=model_fn,
        validation_subset=np.asarray(x_valid)[:validation_subset_size],
        loglik_samples=loglik_samples, loglik_method=loglik_method, fixed=fixed, seed=seed,
        compile_kwargs=compile_kwargs,
    )
    if model_fn is None:
        x_train = validation.check_array(x_train, hypermodel.input_dim, name="x_train")
    subset = hypermodel.validation_subset
    tuner = make_tuner(hypermodel, directory, project_name, algorithm, max_trials, epochs,
                       executions_per_trial, overwrite, seed, hyperband_factor)
    quiet = _NewModelTracingFilter()
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.addFilter(quiet)
    try:
        tuner.search(x_train, validation_data=subset, epochs=epochs, verbose=verbose)
    finally:
        tf_logger.removeFilter(quiet)
    table = results_table(tuner)
    if not any(_is_completed(t) for t in _trials(tuner)):
        messages = [t.message for t in _trials(tuner) if t.message]
        raise RuntimeError(
            f"No trial of {tuner.project_dir} completed. First failure:\n"
            + (messages[0] if messages else "(no message)")
        )
    if verbose:
        print(f"\nResults of {tuner.project_dir} ({algorithm}), best first:\n{table}")
    if best_preset_dir is not None:
        save_best_preset(tuner, best_preset_dir, algorithm=algorithm,
                         extra_metadata=preset_metadata)
        if verbose:
            print(f"Best model saved as a preset in {best_preset_dir}.")
    return tuner, table
