"""Training: runs from a recipe, their checkpoints, and the callbacks they use.

- `runs`: `train` a recipe resumably, `load_run` a run's folder, `export` it as a preset.
- `checkpointing`: `ResumableCheckpoint`, the whole training state after every epoch,
  verified on resume, the previous one kept to fall back on.
- `run_lock`: `RunLock`, one trainer per run folder.
- `callbacks`: `ValidationLogLikelihood`, the `val_loglik` metric (keras-tuner's objective).

Recipes themselves are `keras_vcd.recipes`; a run's data order (fixed by the seed and
the epoch) is `keras_vcd.datasets.data_order`.
"""

from keras_vcd.training import callbacks, checkpointing, run_lock  # noqa: F401
from keras_vcd.training.callbacks import ValidationLogLikelihood
from keras_vcd.training.checkpointing import CheckpointError, ResumableCheckpoint
from keras_vcd.training.run_lock import RunFolderInUse, RunLock
from keras_vcd.training.runs import (
    CHECK_EXAMPLES,
    CHECK_SAMPLES,
    TENSORBOARD_DIR,
    check_free_space,
    check_output_dir,
    export,
    load_run,
    train,
)

__all__ = [
    "CHECK_EXAMPLES",
    "CHECK_SAMPLES",
    "TENSORBOARD_DIR",
    "CheckpointError",
    "ResumableCheckpoint",
    "RunFolderInUse",
    "RunLock",
    "ValidationLogLikelihood",
    "callbacks",
    "check_free_space",
    "check_output_dir",
    "checkpointing",
    "export",
    "load_run",
    "run_lock",
    "train",
]
