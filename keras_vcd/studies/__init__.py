"""Studies: the experiments of Graphcore's VCD write-up as grids of training runs.

- `spread`: N seeds of the paper's configuration, against the paper's -95.86.
- `control-variates`: local, global and no control variate at equal iterations, plus
  ms/iteration at several `steps_per_execution` in one process.
- `batch-size`: per batch size a learning-rate sweep on the validation split, then
  seeds at the best rate, at equal epochs.

Each cell is an ordinary run folder of `keras_vcd.training.train` (verified
checkpoints, exact resume, the lock): a study resumes with the same call, never
trains a finished cell again, and `write_report` rebuilds its summary from the
folders. Throughput by batch size is `keras-vcd bench` (its scaling section). See
docs/studies.md.

Example (8 seeds of the paper's configuration at 1/8 of its budget; hours on a CPU,
so shown, not run, here; tests/test_studies.py runs a tiny one)::

    from keras_vcd import studies
    options = studies.StudyOptions(budget=0.125, seeds=8)
    studies.run_study("spread", "runs/studies/spread", studies.default_recipe(), options)
    summary, markdown, pictures = studies.write_report("runs/studies/spread")
"""

import json

from keras_vcd import zoo
from keras_vcd.studies.grid import (
    BATCH_SIZES, DEFAULT_SEEDS, REDUCED_BUDGETS, STUDIES, SWEEP_FACTORS, TUNED_LEARNING_RATES, Cell,
    StudyOptions,
)
from keras_vcd.studies.report import write_report
from keras_vcd.studies.runner import Estimators, estimate, plan, run_study

# The recipe every study starts from: the paper's configuration (the vcd_mnist preset's).
DEFAULT_RECIPE = "vcd_mnist.json"


def default_recipe():
    """The short recipe of the paper's configuration, from the installed zoo."""
    return json.loads((zoo.presets_dir() / "recipes" / DEFAULT_RECIPE).read_text())


__all__ = [
    "BATCH_SIZES",
    "DEFAULT_RECIPE",
    "DEFAULT_SEEDS",
    "REDUCED_BUDGETS",
    "STUDIES",
    "SWEEP_FACTORS",
    "TUNED_LEARNING_RATES",
    "Cell",
    "Estimators",
    "StudyOptions",
    "default_recipe",
    "estimate",
    "plan",
    "run_study",
    "write_report",
]
