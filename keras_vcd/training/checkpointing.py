"""Crash-safe training checkpoints: written atomically, resumed by the same command."""

import json
import pathlib
import shutil
import time

import keras

from keras_vcd.files import TEMPORARY_PREFIX, atomic_write, write_json

WEIGHTS_FILE = "checkpoint.weights.h5"
STATE_FILE = "checkpoint.json"
class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves weights, optimizer and sampler state at the end of every epoch.

    The weights file holds everything `fit` needs to go on: network weights, the
    three optimizers' slots and iteration counts, the HMC step size, the control
    variates and the random-stream counter. `restore` loads it and returns the epoch
    to resume from, so a process killed at any moment loses at most one epoch.

    Args:
        directory: where `checkpoint.weights.h5` and `checkpoint.json` live.
        snapshot_every: also keep a copy every this many epochs in
            `snapshots/epoch_NNNNN.weights.h5` (0: none), so a long run can be
            compared with shorter ones at equal iteration counts.

    Example:

    >>> import tempfile
    >>> checkpoint = ResumableCheckpoint(tempfile.mkdtemp())
    >>> checkpoint.restore(model=None, steps_per_epoch=500)  # nothing saved: epoch 0
    0
    """

    def __init__(self, directory, snapshot_every=0):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.snapshot_every = snapshot_every
        self._elapsed_before = 0.0
        self._start = time.time()

    @property
    def state_path(self):
        return self.directory / STATE_FILE

    def read_state(self):
        """The saved state dict, or None if there is no checkpoint yet."""
        if not self.state_path.exists():
            return None
        with open(self.state_path) as f:
            return json.load(f)

    def remove_stale_temporaries(self):
        """Deletes half-written files left by a writer that was killed mid-write.

        A run folder belongs to one training process, so any temporary file found
        before training starts is debris; the real checkpoint beside it is intact.
        """
        for folder in (self.directory, self.directory / "snapshots"):
            if folder.is_dir():
                for stale in folder.glob(TEMPORARY_PREFIX + "*"):
                    stale.unlink()

    def restore(self, model, steps_per_epoch, fallback=None, fallback_wall_time_s=0.0):
        """Loads the latest checkpoint into a built, compiled `model`; returns its epoch.

        The epoch is derived from the optimizer's iteration count inside the weights
        file, the one file that is always consistent with itself.

        Args:
            model: the model, built and compiled.
            steps_per_epoch: iterations per epoch.
            fallback: a weights file with the same full state (e.g. a preset's
                `model.weights.h5`) to start from when this folder has no checkpoint.
            fallback_wall_time_s: the training time already spent on `fallback`.
        """
        self.remove_stale_temporaries()
        weights = self.directory / WEIGHTS_FILE
        if weights.exists():
            state = self.read_state() or {}
            self._elapsed_before = state.get("wall_time_s", 0.0)
        elif fallback is not None:
            weights = pathlib.Path(fallback)
            self._elapsed_before = fallback_wall_time_s
        else:
            return 0
        model.load_weights(str(weights))
        return int(model.decoder_optimizer.iterations.numpy()) // steps_per_epoch

    def on_train_begin(self, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.directory / WEIGHTS_FILE, self.model.save_weights)
        if self.snapshot_every and (epoch + 1) % self.snapshot_every == 0:
            snapshots = self.directory / "snapshots"
            snapshots.mkdir(exist_ok=True)
            atomic_write(snapshots / f"epoch_{epoch + 1:05d}.weights.h5",
                         lambda tmp: shutil.copyfile(self.directory / WEIGHTS_FILE, tmp))
        state = {
            "epoch": epoch + 1,
            "iterations": int(self.model.decoder_optimizer.iterations.numpy()),
            "wall_time_s": self._elapsed_before + time.time() - self._start,
            "logs": {k: float(v) for k, v in (logs or {}).items()},
        }
        write_json(self.state_path, state)
