"""The command line, in-process (the kill-and-resume test drives a real subprocess)."""

import json

import pytest

import keras_vcd as kv
from keras_vcd import cli, zoo
from helpers import MNIST_SIZED, tiny_model


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    """A 784-dim model with a tiny network, saved as a preset folder."""
    model = tiny_model(**MNIST_SIZED)
    model.compile()
    model.build()
    folder = tmp_path_factory.mktemp("presets") / "tiny"
    zoo.save_to_preset(model, folder, training={"dataset": "binarized_mnist"})
    return folder


def test_zoo_list_as_json(capsys):
    assert cli.main(["zoo", "list", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {name for line in lines for name in line} == set(kv.zoo.list_presets())


@pytest.mark.network
def test_evaluate_writes_json(tiny_preset, tmp_path, capsys):
    output = tmp_path / "result.json"
    code = cli.main(["evaluate", str(tiny_preset), "--num-examples", "20",
                     "--num-samples", "5", "--output", str(output), "--quiet"])
    assert code == 0
    result = json.loads(output.read_text())
    assert result["num_examples"] == 20 and result["method"] == "iwae"
    assert result["mean"] < 0 and result["stderr"] > 0


@pytest.mark.network
def test_sample_writes_pictures(tiny_preset, tmp_path):
    code = cli.main(["sample", str(tiny_preset), "--output-dir", str(tmp_path), "--quiet"])
    assert code == 0
    for name in ("prior_samples.png", "reconstructions.png", "latent_traversal.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.network
def test_compare_pairs_a_preset_with_a_weights_file(tiny_preset, tmp_path):
    # The same weights through a preset folder and through PRESET@WEIGHTS: identical
    # estimates, so the paired difference and its standard error are exactly zero,
    # while each model's own standard error is not.
    output = tmp_path / "rows.json"
    spec = f"{tiny_preset}@{tiny_preset / zoo.WEIGHTS_FILE}"
    code = cli.main(["compare", str(tiny_preset), spec, "--method", "iwae",
                     "--num-samples", "5", "--num-examples", "20", "--output", str(output),
                     "--quiet"])
    assert code == 0
    reference, other = json.loads(output.read_text())
    assert other["name"] == spec and other["iterations"] == 0
    assert other["mean"] == reference["mean"] and reference["stderr"] > 0
    assert other["difference"] == 0.0 and other["difference_stderr"] == 0.0


def test_unknown_preset_is_a_clean_error(capsys):
    assert cli.main(["evaluate", "no_such_preset", "--quiet"]) == 2
    assert "Available presets" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.network
def test_main_job_runs_with_no_arguments(tmp_path, capsys):
    # What the README's first command runs: the bundled default end to end.
    assert cli.main(["--output-dir", str(tmp_path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any("test_log_likelihood" in r for r in records)
    assert (tmp_path / "reconstructions.png").exists()
    assert json.loads((tmp_path / "short_run" / "summary.json").read_text())["iterations"] >= 100
