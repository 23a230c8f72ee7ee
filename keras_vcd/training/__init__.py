"""Training: runs from a recipe, their checkpoints, and the callbacks they use.

- `runs`: `train` a recipe resumably, `load_run` a run's folder, `export` it as a preset.
- `checkpointing`: `ResumableCheckpoint`, the whole training state after every epoch.
- `callbacks`: `ValidationLogLikelihood`, the `val_loglik` metric (keras-tuner's objective).

Recipes themselves are `keras_vcd.recipes`.
"""

from keras_vcd.training import callbacks, checkpointing  # noqa: F401
from keras_vcd.training.callbacks import ValidationLogLikelihood
from keras_vcd.training.checkpointing import ResumableCheckpoint
from keras_vcd.training.runs import (
    CHECK_EXAMPLES,
    CHECK_SAMPLES,
    TENSORBOARD_DIR,
    check_output_dir,
    export,
    load_run,
    train,
)

__all__ = [
    "CHECK_EXAMPLES",
    "CHECK_SAMPLES",
    "TENSORBOARD_DIR",
    "ResumableCheckpoint",
    "ValidationLogLikelihood",
    "callbacks",
    "check_output_dir",
    "checkpointing",
    "export",
    "load_run",
    "train",
]
