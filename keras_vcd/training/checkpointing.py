"""Crash-safe training checkpoints: verified, the previous one kept, resumed by the same command.

A run folder holds the newest `keep` checkpoints under `checkpoints/`, each a pair:

    checkpoints/epoch_00012.weights.h5   the whole training state
    checkpoints/epoch_00012.json         epoch, iterations, wall time, logs, weights sha256

The weights are written first and the JSON, with their sha256, last, both by
`files.atomic_write`: a checkpoint exists once its JSON does, and a weights file whose
digest does not match its JSON is damaged. Resuming takes the newest intact one and
names every damaged one it passes over; older ones are deleted only after a newer one
is complete.
"""

import errno
import json
import os
import pathlib
import re
import shutil
import sys
import time

import keras

from keras_vcd import validation
from keras_vcd.files import TEMPORARY_PREFIX, atomic_write, sha256_file, write_json

CHECKPOINT_DIR = "checkpoints"
SNAPSHOT_DIR = "snapshots"
# The single checkpoint pair of older releases' run folders, moved into CHECKPOINT_DIR on resume.
_LEGACY_WEIGHTS, _LEGACY_STATE = "checkpoint.weights.h5", "checkpoint.json"
_NAME = re.compile(r"epoch_(\d{5,})\.json")


class CheckpointError(RuntimeError):
    """A run folder's checkpoints cannot be used or written; the message says what to do."""


def _state_path(weights):
    """`epoch_N.json` beside `epoch_N.weights.h5`."""
    return weights.with_name(weights.name.replace(".weights.h5", ".json"))


def _weights_path(state):
    """`epoch_N.weights.h5` beside `epoch_N.json`."""
    return state.with_name(state.name.replace(".json", ".weights.h5"))


def _describe(path):
    return f"{path.parent.name}/{path.name}"


class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves weights, optimizer and sampler state at the end of every epoch.

    Each weights file holds everything `fit` needs to go on: network weights, the
    three optimizers' slots and iteration counts, the HMC step size, the control
    variates and the random-stream counter. `restore` loads the newest intact one and
    returns the epoch to resume from, so a process killed at any moment loses at most
    one epoch, and a damaged newest checkpoint costs one more.

    Args:
        directory: the run folder; checkpoints go to `directory/checkpoints/`.
        snapshot_every: also keep a copy every this many epochs in
            `snapshots/epoch_NNNNN.weights.h5` (0: none), so a long run can be
            compared with shorter ones at equal iteration counts.
        keep: how many checkpoints to keep (at least 2: the newest and one to fall
            back on).
        report: called with a line of text for every damaged checkpoint skipped and
            every legacy checkpoint moved (default: print to stderr).

    Example:

    >>> import tempfile
    >>> checkpoint = ResumableCheckpoint(tempfile.mkdtemp())
    >>> checkpoint.restore(model=None, steps_per_epoch=500)  # nothing saved: epoch 0
    0
    """

    def __init__(self, directory, snapshot_every=0, keep=2, report=None):
        super().__init__()
        # Two at least: the newest checkpoint and one to fall back on.
        self.keep = validation.check_int(keep, "keep", minimum=2)
        self.directory = pathlib.Path(directory)
        self.snapshot_every = snapshot_every
        self.report = report or (lambda line: print(line, file=sys.stderr))
        self._elapsed_before = 0.0
        self._start = time.time()

    @property
    def checkpoint_dir(self):
        return self.directory / CHECKPOINT_DIR

    # ------------------------------------------------------------------ reading

    def _state_files(self):
        """Every checkpoint's JSON, newest first."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.checkpoint_dir.iterdir()
                 if (m := _NAME.fullmatch(p.name))]
        return [path for _, path in sorted(found, reverse=True)]

    def _problem(self, state_path):
        """Why this checkpoint cannot be used, or None if it is intact."""
        try:
            state = json.loads(state_path.read_text())
            weights = state_path.with_name(state["weights_file"])
            expected = state["weights_sha256"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            return None, f"its {state_path.name} is unreadable ({error})"
        if not weights.exists():
            return None, f"{weights.name} is missing"
        if sha256_file(weights) != expected:
            return None, f"{weights.name} does not match the sha256 recorded when it was written"
        return state, None

    def latest(self):
        """`(weights_path, state)` of the newest intact checkpoint, or None if there is none.

        Damaged ones are reported and passed over.

        Raises:
            CheckpointError: checkpoints exist but none is intact.
        """
        self._adopt_legacy_checkpoint()
        damaged = []
        for state_path in self._state_files():
            state, problem = self._problem(state_path)
            if state is None:
                damaged.append(f"{_describe(state_path)}: {problem}")
                continue
            for line in damaged:
                self.report(f"Skipping the damaged checkpoint {line}; resuming from "
                            f"{_describe(state_path)} (epoch {state['epoch']}).")
            return state_path.with_name(state["weights_file"]), state
        if damaged:
            raise CheckpointError(
                f"No intact checkpoint in {self.checkpoint_dir}: " + "; ".join(damaged)
                + ". Nothing was loaded. To start this run over, move the folder away "
                "(or train in another output folder)."
            )
        return None

    def read_state(self):
        """The newest intact checkpoint's state dict, or None if there is none."""
        found = self.latest()
        return found[1] if found else None

    def _adopt_legacy_checkpoint(self):
        """Moves an older release's single `checkpoint.weights.h5` into `checkpoints/`."""
        weights = self.directory / _LEGACY_WEIGHTS
        if not weights.exists():
            return
        try:
            state = json.loads((self.directory / _LEGACY_STATE).read_text())
            epoch = int(state["epoch"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(
                f"{weights} was written by an older keras_vcd, and its {_LEGACY_STATE} is "
                f"unreadable ({error}), so its epoch is unknown. Move both files away to "
                "start over."
            ) from error
        self.checkpoint_dir.mkdir(exist_ok=True)
        target = self.checkpoint_dir / f"epoch_{epoch:05d}.weights.h5"
        weights.replace(target)
        self._write_state(target, state)
        (self.directory / _LEGACY_STATE).unlink()
        self.report(f"Moved the older release's checkpoint (epoch {epoch}) to "
                    f"{_describe(target)}.")

    # ------------------------------------------------------------------ resuming

    def remove_stale_files(self):
        """Deletes what a writer killed mid-write left: temporaries and weights with no JSON.

        A run folder belongs to one training process (`training.RunLock`), so these
        are debris; the intact checkpoints beside them stay.
        """
        for folder in (self.directory, self.checkpoint_dir, self.directory / SNAPSHOT_DIR):
            if folder.is_dir():
                for stale in folder.glob(TEMPORARY_PREFIX + "*"):
                    stale.unlink()
        if self.checkpoint_dir.is_dir():
            for weights in self.checkpoint_dir.glob("epoch_*.weights.h5"):
                if not _state_path(weights).exists():
                    weights.unlink()

    def restore(self, model, steps_per_epoch, fallback=None, fallback_wall_time_s=0.0):
        """Loads the newest intact checkpoint into a built, compiled `model`; returns its epoch.

        The epoch is derived from the optimizer's iteration count inside the weights
        file, the one file that is always consistent with itself.

        Args:
            model: the model, built and compiled.
            steps_per_epoch: iterations per epoch.
            fallback: a weights file with the same full state (e.g. a preset's
                `model.weights.h5`) to start from when this folder has no checkpoint.
            fallback_wall_time_s: the training time already spent on `fallback`.

        Raises:
            CheckpointError: the folder has checkpoints but none is intact.
        """
        self.remove_stale_files()
        found = self.latest()
        if found is not None:
            weights, state = found
            self._elapsed_before = state.get("wall_time_s", 0.0)
        elif fallback is not None:
            weights = pathlib.Path(fallback)
            self._elapsed_before = fallback_wall_time_s
        else:
            return 0
        model.load_weights(str(weights))
        return int(model.decoder_optimizer.iterations.numpy()) // steps_per_epoch

    # ------------------------------------------------------------------ writing

    def _write_state(self, weights, state):
        state = dict(state, weights_file=weights.name, weights_sha256=sha256_file(weights))
        write_json(_state_path(weights), state)

    def on_train_begin(self, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        weights = self.checkpoint_dir / f"epoch_{epoch + 1:05d}.weights.h5"
        try:
            self._save(weights, epoch + 1, logs)
        except OSError as error:
            if not _state_path(weights).exists():
                weights.unlink(missing_ok=True)  # no JSON: not a checkpoint, only used space
            raise CheckpointError(self._write_failure(epoch + 1, error)) from error
        for old in self._state_files()[self.keep:]:
            old.unlink()  # the JSON first: a kill in between leaves debris, not a checkpoint
            _weights_path(old).unlink(missing_ok=True)

    def _check_room(self, snapshot):
        """Raises ENOSPC unless the next checkpoint (and snapshot) fit, by the last one's size.

        HDF5 crashes the process (a segmentation fault) when
        the disk fills during its own write, so a full disk must be found before it
        writes. Only a disk filled by another process within the write's milliseconds
        gets past this; the last good checkpoint survives that too, since the rename
        never happens.
        """
        newest = self._state_files()
        if not newest:
            return  # the first one: `check_free_space` measured the room before training
        size = _weights_path(newest[0]).stat().st_size
        needed = int(size * (2.5 if snapshot else 1.25)) + 2**16
        free = shutil.disk_usage(self.checkpoint_dir).free
        if free < needed:
            raise OSError(errno.ENOSPC, f"{needed / 2**20:.1f} MiB needed, "
                                        f"{free / 2**20:.1f} MiB free")

    def _save(self, weights, epoch, logs):
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        snapshot = bool(self.snapshot_every) and epoch % self.snapshot_every == 0
        self._check_room(snapshot)
        atomic_write(weights, self.model.save_weights)
        self._write_state(weights, {
            "epoch": epoch,
            "iterations": int(self.model.decoder_optimizer.iterations.numpy()),
            "wall_time_s": self._elapsed_before + time.time() - self._start,
            "logs": {k: float(v) for k, v in (logs or {}).items()},
        })
        if snapshot:
            snapshots = self.directory / SNAPSHOT_DIR
            snapshots.mkdir(exist_ok=True)
            atomic_write(snapshots / f"epoch_{epoch:05d}.weights.h5",
                         lambda tmp: shutil.copyfile(weights, tmp))

    def _write_failure(self, epoch, error):
        """What went wrong writing epoch `epoch`'s checkpoint, and what is still safe."""
        # HDF5's own messages run to several lines; the errno says it.
        reason = os.strerror(error.errno) if error.errno else str(error)
        try:
            free = f"{shutil.disk_usage(self.directory).free / 2**20:.1f} MiB free there now"
        except OSError:
            free = "its free space unknown"
        intact = self._state_files()
        kept = (f"The last good checkpoint, {_describe(intact[0])} (epoch "
                f"{int(_NAME.fullmatch(intact[0].name).group(1))}), is intact: free some space "
                "and run the same command to resume from it."
                if intact else "There is no earlier checkpoint; the run starts over when rerun.")
        return (f"Could not write the checkpoint of epoch {epoch} to {self.checkpoint_dir}: "
                f"{reason}; {free}. Training stopped. {kept}")
