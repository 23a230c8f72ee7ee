"""Studies: grids of ordinary training runs that resume, skip finished cells, report.

Tiny models (latent 2, 4 hidden units, T = 1, L = 1, no XLA) on 64 synthetic binary
examples, so a cell trains in seconds.
"""

import json
import pathlib

import numpy as np
import pytest

from keras_vcd import cli, recipes, studies
from keras_vcd.studies import grid, runner
from keras_vcd.studies.timing import time_steps_per_execution

from helpers import prototype_data

TINY = {"name": "tiny",
        "model": {"encoder": {"latent_dim": 2, "hidden_units": [4]},
                  "decoder": {"output_dim": 6, "hidden_units": [4]},
                  "refiner": {"num_steps": 1, "num_leapfrog_steps": 1}},
        "training": {"batch_size": 32, "iterations": 4, "steps_per_execution": 1,
                     "jit_compile": False}}
# iwae only: hmc_is compiles its long chains for seconds, which says nothing here.
ESTIMATORS = studies.Estimators(test=[("iwae", 2)], sweep=("iwae", 2))


def _data():
    x = prototype_data(64, 6, seed=0)
    return {"train": x, "valid": x[:16], "test": prototype_data(16, 6, seed=1)}, {
        "source": "synthetic"}


def test_a_study_resumes_without_retraining_and_reports_from_its_folders(tmp_path,
                                                                         monkeypatch):
    options = studies.StudyOptions(seeds=2)
    trained = []
    real_train = runner.training.train

    def interrupted_on_the_second_cell(recipe, output_dir, **kwargs):
        trained.append(recipe["model"]["seed"])
        if len(trained) == 1:
            raise KeyboardInterrupt  # as Ctrl-C in the second cell
        return real_train(recipe, output_dir, **kwargs)

    # A part of the grid first (as on another machine), then the rest, interrupted.
    assert studies.run_study("spread", tmp_path, TINY, options, ESTIMATORS, cells=["seed0"],
                             data=_data(), verbose=0) == {"seed0": "trained"}
    monkeypatch.setattr(runner.training, "train", interrupted_on_the_second_cell)
    with pytest.raises(KeyboardInterrupt):
        studies.run_study("spread", tmp_path, TINY, options, ESTIMATORS, data=_data(),
                          verbose=0)
    first_log = (tmp_path / "seed0" / "run" / "log.csv").read_text()
    assert runner.read_measurement(tmp_path, "seed1") is None
    monkeypatch.setattr(runner.training, "train", real_train)
    trained.clear()
    outcome = studies.run_study("spread", tmp_path, TINY, options, ESTIMATORS, data=_data(),
                                verbose=0)
    assert outcome == {"seed0": "finished before", "seed1": "trained"}
    assert (tmp_path / "seed0" / "run" / "log.csv").read_text() == first_log
    # A third call has nothing left to do.
    assert set(studies.run_study("spread", tmp_path, TINY, options, ESTIMATORS,
                                 data=_data(), verbose=0).values()) == {"finished before"}

    summary, text, pictures = studies.write_report(tmp_path)
    measurement = runner.read_measurement(tmp_path, "seed1")
    assert measurement["iterations"] == 4 and measurement["batch_size"] == 32
    assert [e["method"] for e in measurement["estimates"]] == ["iwae"]
    assert all(e["num_examples"] == 16 for e in measurement["estimates"])
    assert summary["arms"]["paper"]["runs"] == 2
    values = [c["estimates"][0]["mean"] for c in summary["cells"]]
    assert summary["arms"]["paper"]["iwae"]["mean"] == pytest.approx(np.mean(values))
    assert summary["arms"]["paper"]["iwae"]["std"] == pytest.approx(np.std(values, ddof=1))
    assert "| paper | 2 | 32 |" in text
    assert [pathlib.Path(p).name for p in pictures] == ["training_curves.png"]
    assert all(pathlib.Path(p).stat().st_size > 0 for p in pictures)
    # Rebuilt from the folders alone, the report is the same.
    (tmp_path / "report" / "summary.json").unlink()
    assert studies.write_report(tmp_path, with_pictures=False)[0] == json.loads(
        json.dumps(summary))


def test_a_resume_with_other_settings_is_refused(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.training, "train", interrupted)
    options = studies.StudyOptions(seeds=1)
    with pytest.raises(KeyboardInterrupt):
        studies.run_study("spread", tmp_path, TINY, options, ESTIMATORS, data=_data(),
                          verbose=0)
    with pytest.raises(ValueError, match="other settings"):
        studies.run_study("spread", tmp_path, TINY, studies.StudyOptions(seeds=1, budget=2),
                          ESTIMATORS, data=_data(), verbose=0)


def test_cells_that_match_nothing_are_refused_with_the_grid(tmp_path):
    cells = studies.plan("spread", TINY, studies.StudyOptions(seeds=3), tmp_path)
    assert [cell.name for cell in runner.select(cells, ["seed[12]"])] == ["seed1", "seed2"]
    with pytest.raises(ValueError, match="No cell matches.*seed0"):
        runner.select(cells, ["b16-*"])


def test_control_variate_arms_differ_only_in_the_control_variate():
    cells = studies.plan("control-variates", TINY, studies.StudyOptions(seeds=2), "/none")
    names = [cell.name for cell in cells]
    assert names == ["local-seed0", "local-seed1", "global-seed0", "global-seed1",
                     "none-seed0", "none-seed1", "timing"]
    local, global_ = cells[0].recipe, cells[2].recipe
    assert local["model"].pop("control_variate") == "local"
    assert global_["model"].pop("control_variate") == "global"
    assert local == global_


def test_batch_size_seeds_wait_for_their_sweep_and_take_its_best_rate(tmp_path):
    options = studies.StudyOptions(seeds=2, batch_sizes=(16, 512), budget=0.5,
                                   scale_adaptation=True)
    base = recipes.complete(TINY)
    cells = {cell.name: cell for cell in studies.plan("batch-size", base, options, tmp_path)}
    sweep = [name for name in cells if name.startswith("b512") and name.endswith("sweep")]
    assert len(sweep) == 3 and all(cells[n].split == "valid" for n in sweep)
    assert cells["b512-seed0"].pending
    # Equal epochs: iterations and the decay scale with 100 / batch, and the budget.
    b512 = cells["b512-seed0"].recipe
    assert b512["training"]["iterations"] == max(1, round(4 * 0.5 * 100 / 512))
    assert b512["optimization"]["decay_steps"] == round(15000 * 0.5 * 100 / 512)
    assert b512["model"]["refiner"]["adaptation_rate"] == pytest.approx(0.01 * 5.12)
    # The sweep's scores decide the seeds' rate: the highest validation log p(x).
    for name, score in zip(sorted(sweep), (-3.0, -1.0, -2.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / runner.MEASUREMENT_FILE).write_text(
            json.dumps({"estimates": [{"method": "iwae", "mean": score}]}))
    cells = {cell.name: cell for cell in studies.plan("batch-size", base, options, tmp_path)}
    best = cells[sorted(sweep)[1]].recipe["optimization"]["decoder_learning_rate"]
    chosen = cells["b512-seed1"].recipe["optimization"]
    assert not cells["b512-seed1"].pending and cells["b16-seed0"].pending
    assert chosen["decoder_learning_rate"] == chosen["encoder_mean_learning_rate"] == best
    assert chosen["encoder_std_learning_rate"] == pytest.approx(best / 2)


def test_timing_covers_every_control_variate_and_steps_per_execution():
    x = prototype_data(64, 6, seed=0)
    records = time_steps_per_execution(recipes.complete(TINY), x, (2,), iterations=2,
                                       repeats=1)
    assert [(r["control_variate"], r["steps_per_execution"]) for r in records] == [
        (arm, 2) for arm in grid.CONTROL_VARIATES]
    assert all(r["seconds_per_iteration"] > 0 for r in records)
    with pytest.raises(ValueError, match="multiple"):
        time_steps_per_execution(TINY, x, (3,), iterations=2)


def test_welch_and_paired_comparisons():
    from keras_vcd.studies.report import paired, welch

    result = paired({0: 1.0, 1: 2.0, 2: 4.0}, {0: 2.0, 1: 3.5, 2: 5.5})
    assert result["difference"] == pytest.approx(4 / 3)
    assert result["stderr"] == pytest.approx(np.std([1, 1.5, 1.5], ddof=1) / np.sqrt(3))
    assert welch([1.0], [2.0, 3.0]) is None  # one run has no spread


# ---------------------------------------------------------------------- the command line


def test_study_command_reports_and_refuses_unknown_keys(tmp_path, capsys):
    recipe = tmp_path / "tiny.json"
    recipe.write_text(json.dumps(TINY))
    code = cli.main(["study", "spread", "--recipe", str(recipe), "--output-dir",
                     str(tmp_path / "s"), "--set", "training.batchsize=8", "--quiet"])
    assert code == 2
    assert "Unknown recipe key 'training.batchsize'" in capsys.readouterr().err


def test_dry_run_estimates_every_cell_from_a_probe(tmp_path):
    rows, total = studies.estimate("spread", TINY, studies.StudyOptions(seeds=2), tmp_path,
                                   ESTIMATORS, data=_data(), probe_iterations=2)
    assert [row["cell"] for row in rows] == ["seed0", "seed1"]
    assert all(row["status"] == "to run" and row["estimated_s"] >= 0 for row in rows)
    assert total > 0
    assert not (tmp_path / "seed0").exists()  # a dry run trains no cell


def test_study_report_command_rebuilds_from_the_folders(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.training, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        studies.run_study("spread", tmp_path, TINY, studies.StudyOptions(seeds=1), ESTIMATORS,
                          data=_data(), verbose=0)
    assert cli.main(["study", "spread", "--output-dir", str(tmp_path), "--report"]) == 0
    out = capsys.readouterr().out
    assert "## Study: spread" in out and "Not finished yet: seed0." in out
    assert (tmp_path / "report" / "summary.json").exists()
    assert cli.main(["study", "spread", "--output-dir", str(tmp_path / "none"),
                     "--report"]) == 2
    assert "holds no study" in capsys.readouterr().err
