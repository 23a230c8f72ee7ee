"""The command line, in-process (the kill-and-resume test drives a real subprocess)."""

import argparse
import json

import numpy as np
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
    assert {"output_dir": str(tmp_path.resolve())}.items() <= records[0].items()
    assert (tmp_path / "reconstructions.png").exists()
    assert json.loads((tmp_path / "short_run" / "summary.json").read_text())["iterations"] >= 100


# ---------------------------------------------------------------- user errors

def _usage_error(argv, capsys):
    """Runs argv expecting argparse's usage error: exit status 2, one message."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_a_preset_is_evaluated_on_its_own_data_set_only(capsys):
    assert cli.main(["evaluate", "vcd_fashion_mnist", "--dataset", "binarized_mnist"]) == 2
    err = capsys.readouterr().err
    assert "trained on fashion_mnist, not binarized_mnist" in err and "Traceback" not in err
    assert cli.main(["compare", "vcd_mnist", "vcd_fashion_mnist"]) == 2
    assert "different data sets" in capsys.readouterr().err


def test_the_default_data_set_is_the_presets(monkeypatch):
    args = cli.build_parser().parse_args(["evaluate", "vcd_fashion_mnist"])
    assert cli._dataset_name(args, ["vcd_fashion_mnist"]) == "fashion_mnist"
    assert cli._dataset_name(args, ["vcd_mnist"]) == "binarized_mnist"


def test_a_model_of_other_data_without_data_is_told_that_data_is_missing(
        tmp_path, monkeypatch, capsys):
    # A user's 13-feature model meets the default test set (binarized_mnist, replaced
    # here by zeros of its shape so that nothing is downloaded).
    model = tiny_model(input_dim=13)
    model.build()
    model.save(tmp_path / "mine.keras")
    splits = {"train": None, "valid": None, "test": np.zeros((5, 784), "float32")}
    monkeypatch.setattr(cli.datasets, "load", lambda name, verbose=1: (splits, {"source": name}))
    assert cli.main(["evaluate", str(tmp_path / "mine.keras"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "takes examples of shape (13,)" in err and "binarized_mnist holds shape (784,)" in err
    assert "--data FILE" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["zoo", "show"], "zoo show needs name"),
    (["zoo", "export", "vcd_mnist", "--run-dir", "runs/x"], "zoo export needs --to"),
    (["evaluate", "--num-examples", "0"], "expected a whole number >= 1, received 0"),
    (["evaluate", "--num-examples", "-5"], "received -5"),
    (["evaluate", "--num-samples", "many"], "received 'many'"),
    (["train", "vcd_mnist", "--iterations", "0"], "received 0"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, message, capsys):
    err = _usage_error(argv, capsys)
    assert message in err and "Traceback" not in err


def test_own_data_the_result_is_printed_even_if_the_output_cannot_be_written(
        tiny_preset, tmp_path, capsys):
    data = tmp_path / "mine.npz"
    np.savez(data, x=(np.random.default_rng(0).random((12, 784)) < 0.2).astype("float32"))
    code = cli.main(["evaluate", str(tiny_preset), "--data", str(data), "--num-samples", "5",
                     "--quiet", "--output", "/proc/keras_vcd_result.json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "test log p(x) [iwae, S=5, 12 examples]" in out   # --quiet still prints it
    assert "/proc is not writable" in err and "No such file" not in err


def test_unusable_tuning_directory_is_a_clean_error(capsys):
    assert cli.main(["tune", "--directory", "/proc/keras_vcd_tuning"]) == 2
    err = capsys.readouterr().err
    assert "Cannot write" in err and "Traceback" not in err


def test_ctrl_c_in_train_says_where_it_stopped_and_exits_130(tmp_path, monkeypatch, capsys):
    from keras_vcd import training

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", interrupted)
    code = cli.main(["train", "vcd_mnist", "--output-dir", str(tmp_path), "--quiet"])
    assert code == 130
    err = capsys.readouterr().err
    assert "iteration 0" in err and "same command resumes" in err


def test_every_flag_has_help_and_defaults_shown():
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"keras-vcd {name} {action.option_strings or action.dest}"
        assert "(default:" in sub.format_help() or name == "zoo"


def test_a_user_error_in_a_real_process_has_no_traceback():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "keras_vcd", "zoo", "show"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "zoo show needs name" in result.stderr


def test_train_on_own_data(tmp_path, capsys):
    from helpers import prototype_data

    model = tiny_model(input_dim=20)
    model.compile(jit_compile=False)
    model.build()
    zoo.save_to_preset(model, tmp_path / "recipe", training={
        "dataset": "binarized_mnist", "batch_size": 64, "iterations": 16})
    np.save(tmp_path / "mine.npy", prototype_data(128))
    code = cli.main(["train", str(tmp_path / "recipe" / "config.json"), "--data",
                     str(tmp_path / "mine.npy"), "--output-dir", str(tmp_path / "run"),
                     "--json"])
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["iterations"] == 16


@pytest.mark.network
def test_zoo_export_writes_a_preset_from_a_run_folder(tiny_preset, tmp_path, capsys):
    recipe = str(tiny_preset / "config.json")
    run_dir, preset = tmp_path / "run", tmp_path / "preset"
    # The recipe's own data set (MNIST), so export can measure its test split.
    assert cli.main(["train", recipe, "--output-dir", str(run_dir), "--iterations", "10",
                     "--quiet"]) == 2  # the tiny preset records no batch size
    assert 'has no "batch_size" (an int >= 1); add it' in capsys.readouterr().err
    assert not run_dir.exists()  # refused before anything was written
    config = json.loads((tiny_preset / "config.json").read_text())
    config["training"].update(batch_size=50, iterations=10, subset={"train": 500})
    (tmp_path / "recipe.json").write_text(json.dumps(config))
    recipe = str(tmp_path / "recipe.json")
    assert cli.main(["train", recipe, "--output-dir", str(run_dir), "--quiet"]) == 0
    code = cli.main(["zoo", "export", recipe, "--run-dir", str(run_dir), "--to", str(preset),
                     "--num-examples", "20", "--hmc-is-samples", "4", "--iwae-samples", "4",
                     "--description", "a tiny test model", "--note", "ten steps", "--quiet"])
    assert code == 0, capsys.readouterr().err
    metadata = zoo.read_json(preset, zoo.METADATA_FILE)
    assert (metadata["description"], metadata["note"]) == ("a tiny test model", "ten steps")
    assert metadata["iterations"] == 10
    assert [r["method"] for r in metadata["test_log_likelihood"]] == ["hmc_is", "iwae"]
    assert zoo.load_model(str(preset)).decoder_optimizer.iterations.numpy() == 10


def test_a_broken_recipe_file_is_named(tmp_path, capsys):
    recipe = tmp_path / "recipe.json"
    recipe.write_text("{not json")
    assert cli.main(["train", str(recipe), "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "recipe.json is not valid JSON" in err and "Traceback" not in err


def test_train_set_changes_a_short_recipe_and_checks_keys_and_types(tmp_path, capsys):
    from helpers import prototype_data

    recipe = tmp_path / "tiny.json"
    recipe.write_text(json.dumps({
        "model": {"encoder": {"latent_dim": 2, "hidden_units": [4]},
                  "decoder": {"output_dim": 20, "hidden_units": [4]},
                  "refiner": {"num_steps": 1, "num_leapfrog_steps": 1}},
        "training": {"batch_size": 64, "iterations": 16, "jit_compile": False}}))
    np.save(tmp_path / "mine.npy", prototype_data(128))
    train = ["train", str(recipe), "--data", str(tmp_path / "mine.npy"), "--output-dir",
             str(tmp_path / "run"), "--json"]
    assert cli.main(train + ["--set", "training.batch_sizes=32"]) == 2
    assert "Unknown recipe key 'training.batch_sizes'" in capsys.readouterr().err
    assert cli.main(train + ["--set", "training.batch_size=big"]) == 2
    assert "training.batch_size must be int, received 'big'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was written
    assert cli.main(train + ["--set", "training.batch_size=32"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["batch_size"], summary["iterations"]) == (32, 16)


def test_train_set_on_a_preset_changes_its_training_keys_only(capsys):
    assert cli.main(["train", "vcd_mnist", "--set", "model.seed=3"]) == 2
    assert "only its training keys can be set" in capsys.readouterr().err
