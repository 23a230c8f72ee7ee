"""`keras-vcd evaluate --method ais | bdmc`, in-process, on a tiny 784-pixel preset."""

import json

import numpy as np
import pytest

from keras_vcd import cli, zoo
from helpers import MNIST_SIZED, tiny_model


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    model = tiny_model(**MNIST_SIZED)
    model.build()
    folder = tmp_path_factory.mktemp("presets") / "tiny"
    zoo.save_to_preset(model, folder, training={"dataset": "binarized_mnist"})
    return folder


def test_evaluate_ais_on_own_data_records_its_settings(tiny_preset, tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, (np.random.default_rng(0).random((6, 784)) < 0.2).astype("float32"))
    code = cli.main(["evaluate", str(tiny_preset), "--data", str(data), "--method", "ais",
                     "--num-chains", "2", "--num-annealing-steps", "5", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["method"] == "ais" and result["num_samples"] == 2
    assert result["settings"] == {"num_annealing_steps": 5, "schedule": "sigmoid"}


def test_evaluate_bdmc_prints_the_sandwich_and_each_estimator(tiny_preset, capsys):
    code = cli.main(["evaluate", str(tiny_preset), "--method", "bdmc", "--num-examples", "4",
                     "--num-chains", "2", "--num-annealing-steps", "5", "--num-samples", "5",
                     "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "width" in out
    for name in ("iwae", "hmc_is", "ais"):
        assert f"  {name}: " in out and "position" in out
