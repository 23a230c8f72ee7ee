"""Training survives SIGKILL, bad output folders, non-finite steps and bad files."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vcd as kv
from keras_vcd import plotting, training, zoo
from helpers import MNIST_SIZED, tiny_model


def tiny_recipe(iterations):
    """A 784-dim model small enough to train hundreds of steps in seconds on MNIST."""
    model = tiny_model(**MNIST_SIZED)
    return {
        "model": keras.saving.serialize_keras_object(model),
        "training": {"dataset": "binarized_mnist", "batch_size": 20, "iterations": iterations,
                     "subset": {"train": 2000, "valid": 200}, "validation_freq": 100,
                     "compile": {"steps_per_execution": 1, "jit_compile": False}},
    }


def test_unwritable_output_dir_is_reported_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="Cannot write checkpoints"):
        training.check_output_dir(blocker / "run")


def test_a_disk_too_full_for_a_checkpoint_is_reported_before_training(tmp_path, monkeypatch):
    model = tiny_model()
    model.compile()
    model.build()
    monkeypatch.setattr(training.runs.shutil, "disk_usage",
                        lambda path: type("Usage", (), {"free": 2**19})())
    with pytest.raises(OSError, match=r"Only 0.5 MiB free under .*checkpoints need 1.\d MiB"):
        training.check_free_space(tmp_path, model)
    assert not list(tmp_path.iterdir())  # the size probe is gone


def test_cli_reports_unwritable_output_dir(tmp_path, capsys):
    from keras_vcd import cli

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_recipe(iterations=10)))
    code = cli.main(["train", str(config), "--output-dir", str(blocker / "run"), "--quiet"])
    assert code == 2
    assert "Cannot write checkpoints" in capsys.readouterr().err


def test_step_size_stays_within_bounds_under_constant_rejection():
    # Without bounds 12 halvings would take 0.25 down to 6e-5.
    hmc = kv.HMCRefine(num_steps=12, num_leapfrog_steps=1, adaptation_rate=0.5,
                       step_size_bounds=(1e-3, 1.0))

    def never_finite(z):  # every proposal is rejected: the step size only shrinks
        return tf.where(tf.reduce_all(z == 0.0, -1), 0.0, np.nan) + 0.0 * z[:, 0]

    hmc(tf.zeros([4, 2]), target_log_prob_fn=never_finite, training=True)
    assert float(hmc.step_size.numpy()) == pytest.approx(1e-3)


def test_corrupted_and_foreign_weights_name_the_file(tmp_path):
    model = tiny_model()
    model.compile()
    model.build()
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(os.urandom(2048))
    with pytest.raises(ValueError, match="garbage.weights.h5"):
        zoo.load_weights_file(model, garbage)
    foreign = tiny_model(input_dim=30)
    foreign.compile()
    foreign.build()
    foreign.save_weights(tmp_path / "foreign.weights.h5")
    with pytest.raises(ValueError, match="foreign.weights.h5"):
        zoo.load_weights_file(model, tmp_path / "foreign.weights.h5")


def test_corrupted_keras_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.keras"):
        zoo.load_model(str(bad))


@pytest.mark.network
def test_a_run_continues_from_an_unfinished_preset(tmp_path):
    # The zoo ships unfinished runs: their weights file carries the whole training
    # state, so `train --init-from PRESET` goes on at the preset's iteration count.
    recipe = tiny_recipe(iterations=100)
    recipe["training"]["compile"] = {"steps_per_execution": 10, "jit_compile": False}
    model, summary = training.train(recipe, tmp_path / "first", verbose=0)
    zoo.save_to_preset(model, tmp_path / "preset", metadata={"wall_time_s": 1.0},
                       training=recipe["training"])
    recipe["training"]["iterations"] = 200
    model, summary = training.train(recipe, tmp_path / "second", verbose=0,
                                    init_from=tmp_path / "preset")
    assert summary["iterations"] == 200
    epochs = (tmp_path / "second" / "log.csv").read_text().splitlines()[1:]
    assert [int(line.split(",")[0]) for line in epochs] == [1]  # only the second epoch ran


def _tensorboard_scalars(log_dir, tag):
    """{step: value} of one scalar across every event file under `log_dir`."""
    values = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


@pytest.mark.network
def test_tensorboard_logs_every_epoch_and_a_resumed_run_continues_the_steps(tmp_path):
    recipe = tiny_recipe(iterations=100)  # one epoch of 100 steps per call
    recipe["training"]["compile"] = {"steps_per_execution": 10, "jit_compile": False}
    training.train(recipe, tmp_path, verbose=0)
    training.train(recipe, tmp_path, iterations=200, verbose=0)  # resumes at epoch 1

    logged = _tensorboard_scalars(tmp_path / training.TENSORBOARD_DIR / "train", "epoch_loss")
    columns = plotting.read_training_log(tmp_path / "log.csv")
    from_csv = dict(zip(columns["epoch"].astype(int), columns["loss"]))
    assert sorted(logged) == [0, 1]  # step = epoch, not restarted at 0 by the resume
    # Both loggers receive the same float32 epoch logs.
    assert logged == pytest.approx(from_csv, rel=1e-6)
