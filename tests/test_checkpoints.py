"""Training state survives kills, damaged files, a second trainer and a full disk, exactly."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest

from keras_vcd import training
from keras_vcd.training import CheckpointError, ResumableCheckpoint, RunLock
from helpers import tiny_model

INPUT_DIM = 20
# 20 steps an epoch: long enough that a kill can land mid-epoch, short enough to be quick.
EPOCHS, STEPS_PER_EPOCH, BATCH_SIZE = 6, 20, 10
NUM_EXAMPLES = STEPS_PER_EPOCH * BATCH_SIZE


def _recipe(iterations=EPOCHS * STEPS_PER_EPOCH):
    return {
        "model": keras.saving.serialize_keras_object(tiny_model(input_dim=INPUT_DIM)),
        "training": {"dataset": "your data", "batch_size": BATCH_SIZE,
                     "iterations": iterations, "validation_freq": 1,
                     "compile": {"steps_per_execution": 1, "jit_compile": False}},
    }


def _data():
    rng = np.random.default_rng(0)
    x = (rng.random((NUM_EXAMPLES, INPUT_DIM)) < 0.3).astype("float32")
    valid = (rng.random((30, INPUT_DIM)) < 0.3).astype("float32")
    return {"train": x, "valid": valid, "test": None}, {"source": "random"}


def _state(run_dir):
    """Every array of the run's newest intact checkpoint, by its path in the file."""
    weights, _ = ResumableCheckpoint(run_dir).latest()
    arrays = {}
    with h5py.File(weights) as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return arrays


def _assert_same_state(run_dir, reference_dir):
    state, reference = _state(run_dir), _state(reference_dir)
    assert sorted(state) == sorted(reference)
    # Weights, optimizer slots and counts, HMC step size, control variates, rng counter.
    different = [name for name in reference if not np.array_equal(state[name], reference[name])]
    assert not different, f"differs from the uninterrupted run: {different}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the recipe, validating after every epoch."""
    run_dir = tmp_path_factory.mktemp("reference")
    training.train(_recipe(), run_dir, data=_data(), verbose=0)
    return run_dir


def test_executions_that_do_not_divide_the_epoch_resume_to_the_same_state(reference, tmp_path):
    # 8 steps per execution do not divide the 20-step epoch: the run takes 5, the most
    # that do (their gcd is 4). Stopped after two epochs and resumed, it ends where the
    # uninterrupted run of one step per execution does: an execution's length changes
    # no step.
    recipe = _recipe()
    recipe["training"]["compile"]["steps_per_execution"] = 8
    model, _ = training.train(recipe, tmp_path, iterations=2 * STEPS_PER_EPOCH, data=_data(),
                              verbose=0)
    assert model.steps_per_execution == 5
    training.train(recipe, tmp_path, data=_data(), verbose=0)
    _assert_same_state(tmp_path, reference)


def test_validation_does_not_move_the_training_stream(reference, tmp_path):
    splits, info = _data()
    training.train(_recipe(), tmp_path, data=(dict(splits, valid=None), info), verbose=0)
    _assert_same_state(tmp_path, reference)


def test_evaluate_between_epochs_leaves_later_steps_unchanged(tmp_path):
    x = _data()[0]["train"]
    models = []
    for evaluate_between in (False, True):
        keras.utils.set_random_seed(0)
        model = tiny_model(input_dim=INPUT_DIM, seed=0)
        model.compile(jit_compile=False)
        for _ in range(2):
            model.fit(x, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
            if evaluate_between:
                model.evaluate(x[:50], batch_size=BATCH_SIZE, verbose=0)
        models.append(model)
    for plain, evaluated in zip(models[0].weights, models[1].weights):
        if plain.name != "validation_counter":
            np.testing.assert_array_equal(plain.numpy(), evaluated.numpy(), err_msg=plain.name)


def test_a_validation_pass_repeats_at_the_same_point_of_training():
    model = tiny_model(input_dim=INPUT_DIM, seed=0)
    model.compile()
    x = _data()[0]["valid"]
    first = model.evaluate(x, batch_size=BATCH_SIZE, verbose=0, return_dict=True)
    again = model.evaluate(x, batch_size=BATCH_SIZE, verbose=0, return_dict=True)
    assert first == again


def test_weights_files_leave_out_the_validation_counter(tmp_path):
    model = tiny_model(input_dim=INPUT_DIM)
    model.compile()
    model.build()
    model.save_weights(tmp_path / "model.weights.h5")
    with h5py.File(tmp_path / "model.weights.h5") as f:
        own = f["vars"]
        assert len(own) == 1  # rng_counter only: files from before it existed load
    model.load_weights(tmp_path / "model.weights.h5")


def _train_command(tmp_path, run_dir):
    config, data = tmp_path / "recipe.json", tmp_path / "x.npy"
    if not config.exists():
        config.write_text(json.dumps(_recipe()))
        np.save(data, _data()[0]["train"])
    return [sys.executable, "-m", "keras_vcd", "train", str(config), "--data", str(data),
            "--output-dir", str(run_dir), "--quiet"]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _newest_epoch(checkpoints):
    return max((int(p.name[len("epoch_"):-len(".json")])
                for p in checkpoints.glob("epoch_*.json")), default=0)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_is_bitwise_exact(tmp_path):
    # `--data` runs have no validation set, so neither has this uninterrupted reference.
    reference_dir = tmp_path / "reference"
    splits, info = _data()
    training.train(_recipe(), reference_dir, data=(dict(splits, valid=None), info), verbose=0)
    run_dir = tmp_path / "run"
    command = _train_command(tmp_path, run_dir)
    moments = random.Random(0)
    checkpoints = run_dir / "checkpoints"
    killed_at = []
    for kill_after_epochs in (1, 2, 4):
        process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and process.poll() is None and (
                    _newest_epoch(checkpoints) < kill_after_epochs):
                time.sleep(0.01)
            time.sleep(moments.uniform(0.0, 0.1))  # mid-epoch, mid-write or in between
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == -signal.SIGKILL, "it ended before the kill"
        killed_at.append(_newest_epoch(checkpoints))
    assert killed_at == sorted(killed_at) and killed_at[-1] < EPOCHS, killed_at
    finished = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert not list(run_dir.rglob(".tmp-*"))
    assert json.loads((run_dir / "summary.json").read_text())["iterations"] == (
        EPOCHS * STEPS_PER_EPOCH)
    _assert_same_state(run_dir, reference_dir)
    # Data order included: the loss of every epoch, in log.csv, is the same too.
    assert (run_dir / "log.csv").read_text() == (reference_dir / "log.csv").read_text()


def _damage(path, how):
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_text('{"epoch": 3, "weights_fi')


@pytest.mark.parametrize("how", ["truncated", "garbled json"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(
        reference, tmp_path, capsys, how):
    training.train(_recipe(iterations=3 * STEPS_PER_EPOCH), tmp_path, data=_data(), verbose=0)
    newest = tmp_path / "checkpoints" / (
        "epoch_00003.weights.h5" if how == "truncated" else "epoch_00003.json")
    _damage(newest, how)
    training.train(_recipe(), tmp_path, data=_data(), verbose=0)
    reported = capsys.readouterr().err
    assert "Skipping the damaged checkpoint checkpoints/epoch_00003.json" in reported
    assert "resuming from checkpoints/epoch_00002.json (epoch 2)" in reported
    _assert_same_state(tmp_path, reference)
    epochs = [line.split(",")[0] for line in
              (tmp_path / "log.csv").read_text().splitlines()[1:]]
    assert epochs == [str(e) for e in range(EPOCHS)]  # epoch 2 once, not twice


def test_no_intact_checkpoint_is_an_error_not_a_restart(tmp_path):
    training.train(_recipe(iterations=2 * STEPS_PER_EPOCH), tmp_path, data=_data(), verbose=0)
    for weights in (tmp_path / "checkpoints").glob("*.weights.h5"):
        _damage(weights, "truncated")
    before = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    with pytest.raises(CheckpointError, match="No intact checkpoint.*epoch_00002.json.*"
                                              "does not match the sha256"):
        training.train(_recipe(), tmp_path, data=_data(), verbose=0)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == before


def test_only_the_newest_two_checkpoints_are_kept(reference):
    assert sorted(p.name for p in (reference / "checkpoints").iterdir()) == [
        "epoch_00005.json", "epoch_00005.weights.h5", "epoch_00006.json",
        "epoch_00006.weights.h5"]


def test_a_run_folder_of_an_older_release_is_taken_over(reference, tmp_path):
    # Older releases kept one checkpoint.weights.h5 and checkpoint.json in the folder.
    weights, state = ResumableCheckpoint(reference).latest()
    (tmp_path / "checkpoint.weights.h5").write_bytes(weights.read_bytes())
    legacy = {k: v for k, v in state.items() if not k.startswith("weights_")}
    (tmp_path / "checkpoint.json").write_text(json.dumps(legacy))
    lines = []
    found, _ = ResumableCheckpoint(tmp_path, report=lines.append).latest()
    assert found.name == f"epoch_{EPOCHS:05d}.weights.h5"
    assert lines == [f"Moved the older release's checkpoint (epoch {EPOCHS}) to "
                     f"checkpoints/epoch_{EPOCHS:05d}.weights.h5."]
    assert not (tmp_path / "checkpoint.weights.h5").exists()


def test_restore_removes_what_a_killed_writer_left(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "snapshots").mkdir()
    debris = [tmp_path / "checkpoints" / ".tmp-123-epoch_00002.weights.h5",
              tmp_path / "checkpoints" / "epoch_00002.weights.h5",  # its JSON never came
              tmp_path / "snapshots" / ".tmp-123-epoch_00002.weights.h5"]
    for path in debris:
        path.write_bytes(b"half an HDF5 file")
    kept = tmp_path / "notes.txt"
    kept.write_text("not ours to delete")
    assert ResumableCheckpoint(tmp_path).restore(model=None, steps_per_epoch=100) == 0
    assert not any(path.exists() for path in debris)
    assert kept.exists()


@pytest.mark.slow
def test_a_second_trainer_on_a_folder_in_use_stops_at_once(tmp_path):
    run_dir = tmp_path / "run"
    command = _train_command(tmp_path, run_dir)
    first = subprocess.Popen(command + ["--iterations", "10000000"], env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = run_dir / "train.lock"
        deadline = time.time() + 120
        while time.time() < deadline and not (lock.exists() and lock.read_text()):
            time.sleep(0.1)
        second = subprocess.run(command, env=_env(), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert f"in use by process {first.pid} on " in second.stderr
        assert first.poll() is None  # the first goes on undisturbed
    finally:
        first.kill()
        first.wait(timeout=30)
    # The dead trainer's lock file remains; the next one takes it over and says so.
    lines = []
    with RunLock(run_dir, report=lines.append):
        pass
    assert lines == [f"Took over {lock}, left by process {first.pid} which is no longer running."]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 4 MiB tmpfs, which root can mount; skipped where mounting is not allowed."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'})")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


class _FillTheDisk(keras.callbacks.Callback):
    """Leaves `spare` bytes free at the start of the first epoch, so the next write fails."""

    def __init__(self, folder, spare):
        super().__init__()
        self.filler, self.spare = folder / "filler", spare

    def on_epoch_begin(self, epoch, logs=None):
        if not self.filler.exists():
            free = os.statvfs(self.filler.parent)
            with open(self.filler, "wb") as f:
                f.write(b"\0" * max(free.f_bavail * free.f_frsize - self.spare, 0))


def test_a_full_disk_stops_training_and_keeps_the_last_good_checkpoint(
        reference, small_tmpfs):
    run_dir = small_tmpfs / "run"
    training.train(_recipe(iterations=2 * STEPS_PER_EPOCH), run_dir, data=_data(), verbose=0)
    # 8 KiB free: less than a checkpoint, so the writer stops before HDF5 runs out of
    # room (HDF5 crashes the process when the disk fills under it).
    with pytest.raises(CheckpointError) as raised:
        training.train(_recipe(), run_dir, data=_data(), verbose=0,
                       callbacks=[_FillTheDisk(small_tmpfs, spare=8192)])
    message = str(raised.value)
    assert "Could not write the checkpoint of epoch 3" in message
    assert "No space left on device" in message
    assert "checkpoints/epoch_00002.json (epoch 2), is intact" in message
    assert not list(run_dir.rglob(".tmp-*"))
    assert ResumableCheckpoint(run_dir).latest()[1]["epoch"] == 2  # verified by its sha256
    (small_tmpfs / "filler").unlink()
    training.train(_recipe(), run_dir, data=_data(), verbose=0)  # the same call resumes
    _assert_same_state(run_dir, reference)
