"""Hyperparameter search for `VCDModel` with keras-tuner, scored by `val_loglik`.

`VCDHyperModel` is a `keras_tuner.HyperModel` whose search space is the paper's
setup: every hyperparameter's default is the paper's value, so a trial of defaults
reproduces the paper's model. `run_search` runs a resumable search (random search,
Hyperband or Bayesian optimisation), prints a results table and saves the best
model as a zoo preset that `keras_vcd.zoo.load` accepts.

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
import json
import pathlib

import keras
import numpy as np

from keras_vcd import optimizers, validation, zoo
from keras_vcd.extras import require
from keras_vcd.training.callbacks import METRIC_NAME, ValidationLogLikelihood
from keras_vcd.layers import BernoulliDecoder, GaussianEncoder, HMCRefine
from keras_vcd.models import VCDModel

keras_tuner = require("keras_tuner", extra="tuner")

VAL_LOGLIK_OBJECTIVE = keras_tuner.Objective(METRIC_NAME, direction="max")
ALGORITHMS = ("random", "hyperband", "bayesian")
BATCH_SIZES = (32, 64, 100, 128)

# The paper's values: the defaults of the search space.
PAPER_DEFAULTS = {
    "decoder_learning_rate": optimizers.PAPER_LEARNING_RATES["decoder"],
    "encoder_mean_learning_rate": optimizers.PAPER_LEARNING_RATES["encoder_mean"],
    "encoder_std_learning_rate": optimizers.PAPER_LEARNING_RATES["encoder_std"],
    "latent_dim": 10,
    "hidden_units": 200,
    "num_hmc_steps": 8,
    "num_leapfrog_steps": 5,
    "objective": "vcd",
    "control_variate": "global",
    "batch_size": 100,
}
HYPERPARAMETERS = tuple(PAPER_DEFAULTS)
# Learning rates are searched over [default / 5, default * 5], log-uniformly.
_LEARNING_RATE_SPAN = 5.0
_LEARNING_RATE_GROUPS = {
    "decoder_learning_rate": "decoder",
    "encoder_mean_learning_rate": "encoder_mean",
    "encoder_std_learning_rate": "encoder_std",
}


def _declare(hp, name, fixed):
    """Registers hyperparameter `name` in `hp` (fixed or searched); returns its value."""
    default = PAPER_DEFAULTS[name]
    if name in fixed:
        return hp.Fixed(name, fixed[name])
    if name in _LEARNING_RATE_GROUPS:
        return hp.Float(name, default / _LEARNING_RATE_SPAN, default * _LEARNING_RATE_SPAN,
                        sampling="log", default=default)
    if name == "latent_dim":
        return hp.Choice(name, [2, 5, 10, 20, 32, 50], default=default)
    if name == "hidden_units":
        return hp.Choice(name, [100, 200, 300, 400, 500], default=default)
    if name == "num_hmc_steps":
        return hp.Int(name, 1, 16, default=default)
    if name == "num_leapfrog_steps":
        return hp.Int(name, 1, 10, default=default)
    if name == "objective":
        return hp.Choice(name, ["vcd", "elbo", "hoffman"], default=default)
    if name == "control_variate":
        return hp.Choice(name, ["global", "none"], default=default)
    if name == "batch_size":
        return hp.Choice(name, list(BATCH_SIZES), default=default)
    raise AssertionError(name)


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


class VCDHyperModel(keras_tuner.HyperModel):
    """The paper's VCD VAE as a keras-tuner search space.

    `build(hp)` returns a built, compiled `VCDModel`; `fit(hp, model, ...)` trains
    it and reports `val_loglik` every epoch. Hyperparameters (all defaults are the
    paper's values, so `build(keras_tuner.HyperParameters())` is the paper's model):

    - `decoder_learning_rate` (5e-4), `encoder_mean_learning_rate` (5e-4),
      `encoder_std_learning_rate` (2.5e-4): log-uniform over [default / 5,
      default * 5]. Each is the initial rate of the paper's staircase schedule
      (`optimizers.paper_schedule`: times 0.9 every 15,000 steps) of a
      `ReferenceRMSprop`.
    - `latent_dim` (10): choice of 2, 5, 10, 20, 32, 50.
    - `hidden_units` (200): width of the two hidden layers of the encoder's two
      networks and of the decoder; choice of 100 to 500 by 100.
    - `num_hmc_steps` (8, T) in 1..16 and `num_leapfrog_steps` (5, L) in 1..10.
    - `objective` ("vcd"): "vcd", "elbo" or "hoffman".
    - `control_variate` ("global"): "global" or "none" (the string "none" stands
      for `control_variate=None`). Only the `"vcd"` objective uses it. `"local"`
      is excluded from tuning: it needs each example's index in the training set
      (`datasets.with_indices`), which a tuner's `fit(x, ...)` does not pass.
    - `batch_size` (100): choice of 32, 64, 100, 128, used by `fit`. Batches
      above 128 made the test log-likelihood worse in a published reproduction.

    Args:
        input_dim: the data dimension D.
        validation_subset: `(N, D)` binary array on which `val_loglik` is
            estimated, the same examples every epoch and every trial. If None,
            `fit` uses the first `max_validation_examples` of its
            `validation_data` (an array).
        loglik_samples: importance samples S per example for `val_loglik`.
        loglik_method: `"iwae"` (default) or `"hmc_is"`.
        fixed: dict of hyperparameter values to fix, e.g. `{"objective": "vcd",
            "latent_dim": 10}`; fixed values are recorded in every trial but not
            searched. A fixed `control_variate` may be None (read as "none").
        seed: model seed (weight initialisation and the model's random stream).
            Every trial starts from it, so trials differ only by their
            hyperparameters; with `executions_per_trial > 1` execution k uses
            `seed + k`.
        loglik_seed: seed of the `val_loglik` estimator (fixed across epochs).
        max_validation_examples: the size of the subset taken from
            `validation_data` when `validation_subset` is None.
        compile_kwargs: extra `VCDModel.compile` arguments (`steps_per_execution`,
            `jit_compile`).
        **kwargs: `keras_tuner.HyperModel` arguments (`name`, `tunable`).

    Example:

    >>> import keras_tuner
    >>> from keras_vcd.tuning import VCDHyperModel
    >>> hypermodel = VCDHyperModel(input_dim=784)
    >>> hp = keras_tuner.HyperParameters()
    >>> model = hypermodel.build(hp)
    >>> hp.values["latent_dim"], hp.values["objective"], hp.values["batch_size"]
    (10, 'vcd', 100)
    """

    def __init__(self, input_dim=784, validation_subset=None, loglik_samples=100,
                 loglik_method="iwae", fixed=None, seed=0, loglik_seed=0,
                 max_validation_examples=1000, compile_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
            raise ValueError(f"input_dim must be a positive int, received {input_dim!r}.")
        self.input_dim = int(input_dim)
        if validation_subset is not None:
            validation_subset = validation.check_array(
                validation_subset, self.input_dim, name="validation_subset"
            )
            validation.require_binary(validation_subset, name="validation_subset")
        self.validation_subset = validation_subset
        self.loglik_samples = loglik_samples
        self.loglik_method = loglik_method
        self.fixed = _check_fixed(fixed)
        self.seed = int(seed)
        self.loglik_seed = int(loglik_seed)
        self.max_validation_examples = int(max_validation_examples)
        self.compile_kwargs = dict(compile_kwargs or {})
        # Models fitted so far per set of hyperparameter values: execution k of a
        # trial is built from `seed + k`.
        self._executions = collections.Counter()
        # Fails now, not in the first trial, on a bad estimator setting.
        self._make_callback(np.zeros((1, self.input_dim), "float32"))

    def declare_hyperparameters(self, hp):
        """Registers every hyperparameter in `hp`; returns their values by name."""
        return {name: _declare(hp, name, self.fixed) for name in HYPERPARAMETERS}

    def build(self, hp):
        values = self.declare_hyperparameters(hp)
        seed = self.seed + self._executions[_values_key(hp.values)]
        # Weight initialisation follows the seed, as in `recipes.model_from_recipe`.
        keras.utils.set_random_seed(seed)
        hidden = (int(values["hidden_units"]),) * 2
        latent_dim = int(values["latent_dim"])
        control_variate = values["control_variate"]
        model = VCDModel(
            encoder=GaussianEncoder(latent_dim=latent_dim, hidden_units=hidden),
            decoder=BernoulliDecoder(output_dim=self.input_dim, hidden_units=hidden),
            refiner=HMCRefine(num_steps=int(values["num_hmc_steps"]),
                              num_leapfrog_steps=int(values["num_leapfrog_steps"])),
            objective=values["objective"],
            control_variate=None if control_variate == "none" else control_variate,
            seed=seed,
        )
        model.compile(
            **{f"{group}_optimizer": optimizers.ReferenceRMSprop(
                learning_rate=optimizers.paper_schedule(float(values[name])),
                name=f"{group}_optimizer",
            ) for name, group in _LEARNING_RATE_GROUPS.items()},
            **self.compile_kwargs,
        )
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
        subset = validation.check_array(
            np.asarray(validation_data)[: self.max_validation_examples], self.input_dim,
            name="validation_data",
        )
        validation.require_binary(subset, name="validation_data")
        return subset

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` with the tuned batch size; reports `val_loglik` per epoch.

        `kwargs` are those of `tuner.search` plus the tuner's callbacks (best-epoch
        checkpoint, progress reporting), passed on to `VCDModel.fit` after the
        `ValidationLogLikelihood` callback, which therefore writes `val_loglik` into
        the epoch's logs before keras-tuner reads them.
        """
        batch_size = _declare(hp, "batch_size", self.fixed)
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
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; expected one of {list(ALGORITHMS)}.")
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
        "learning_rates": {group: values[name] for name, group in _LEARNING_RATE_GROUPS.items()
                           if name in values},
    }
    metadata = zoo.save_to_preset(model, directory, metadata=metadata, training=training)
    return model, metadata


def run_search(x_train, x_valid, directory, project_name="vcd_tuning", algorithm="random",
               max_trials=10, epochs=10, executions_per_trial=1, loglik_samples=100,
               validation_subset_size=1000, fixed=None, overwrite=False,
               best_preset_dir=None, verbose=1, loglik_method="iwae", seed=0,
               hyperband_factor=3, compile_kwargs=None, preset_metadata=None):
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
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; expected one of {list(ALGORITHMS)}.")
    for name, value in (("max_trials", max_trials), ("epochs", epochs),
                        ("executions_per_trial", executions_per_trial),
                        ("validation_subset_size", validation_subset_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, received {value!r}.")
    x_train = np.asarray(x_train)
    if x_train.ndim != 2:
        raise ValueError(f"x_train must have shape (num_examples, D); received {x_train.shape}.")
    input_dim = x_train.shape[1]
    x_train = validation.check_array(x_train, input_dim, name="x_train")
    subset = validation.check_array(
        np.asarray(x_valid)[:validation_subset_size], input_dim, name="x_valid"
    )
    validation.require_binary(subset, name="x_valid")
    hypermodel = VCDHyperModel(
        input_dim=input_dim, validation_subset=subset, loglik_samples=loglik_samples,
        loglik_method=loglik_method, fixed=fixed, seed=seed, compile_kwargs=compile_kwargs,
    )
    tuner = make_tuner(hypermodel, directory, project_name, algorithm, max_trials, epochs,
                       executions_per_trial, overwrite, seed, hyperband_factor)
    tuner.search(x_train, validation_data=subset, epochs=epochs, verbose=verbose)
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
