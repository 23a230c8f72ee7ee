"""keras-tuner integration: VCDHyperModel, ValidationLogLikelihood and run_search.

Searches run on 200 synthetic binary examples of dimension 20 with architectures
fixed tiny (latent 2, 8 hidden units, T=1, L=2) and without XLA, so a trial takes
seconds.
"""

import copy
import os

import keras
import keras_tuner
import numpy as np
import pytest

import keras_vcd as kv
from keras_vcd import optimizers, tuning
from keras_vcd.training.callbacks import ValidationLogLikelihood

from helpers import prototype_data, tiny_model

TINY = {"latent_dim": 2, "hidden_units": 8, "num_hmc_steps": 1, "num_leapfrog_steps": 2}
FAST = {"jit_compile": False}
SEARCH = dict(project_name="tiny", algorithm="random", max_trials=2, epochs=2,
              loglik_samples=10, validation_subset_size=50, fixed=TINY, seed=0, verbose=0,
              compile_kwargs=FAST)


def _data():
    return prototype_data(200, 20, seed=0), prototype_data(80, 20, seed=1)


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    x_train, x_valid = _data()
    tuner, table = tuning.run_search(
        x_train, x_valid, root / "projects", best_preset_dir=root / "best", **SEARCH
    )
    return {"tuner": tuner, "table": table, "root": root, "x_valid": x_valid}


# ---------------------------------------------------------------------- the search


def test_search_completes_and_ranks_trials_by_val_loglik(search):
    tuner = search["tuner"]
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2
    assert all(t.status == "COMPLETED" for t in trials), [t.message for t in trials]
    best = tuner.oracle.get_best_trials(2)
    scores = [t.score for t in best]
    assert scores == sorted(scores, reverse=True)
    assert all(np.isfinite(scores))
    # The score is the best epoch's val_loglik, as recorded in the trial's metrics.
    for trial in best:
        assert trial.score == pytest.approx(trial.metrics.get_best_value("val_loglik"))
    # The table lists the best trial first and only hyperparameters that vary.
    lines = search["table"].splitlines()
    header = lines[0].split()
    assert header[0] == "trial" and header[-1] == "val_loglik"
    assert "latent_dim" not in header and "hidden_units" not in header
    assert lines[2].split()[0] == best[0].trial_id
    assert float(lines[2].split()[-1]) == pytest.approx(best[0].score, abs=1e-3)


def test_best_model_reloads_from_preset(search):
    tuner = search["tuner"]
    preset = search["root"] / "best"
    best_trial = tuner.oracle.get_best_trials(1)[0]
    loaded = kv.zoo.load(str(preset))
    best_model = tuner.get_best_models(1)[0]
    x = search["x_valid"][:16]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(best_model(x)),
        rtol=1e-6, atol=1e-6,
    )
    metadata = kv.zoo.read_json(preset, kv.zoo.METADATA_FILE)
    record = metadata["tuning"]
    assert record["algorithm"] == "random"
    assert record["trial_id"] == best_trial.trial_id
    assert record["val_loglik"] == pytest.approx(best_trial.score)
    assert record["hyperparameters"]["latent_dim"] == 2
    assert record["hyperparameters"] == {
        k: v for k, v in best_trial.hyperparameters.values.items()
    }
    # The preset holds the best epoch's weights: re-estimating val_loglik the same
    # way (same subset, S and seed) gives the trial's score back.
    subset = search["x_valid"][: SEARCH["validation_subset_size"]]
    again = ValidationLogLikelihood(subset, num_samples=SEARCH["loglik_samples"]).estimate(loaded)
    assert again == pytest.approx(best_trial.score, abs=1e-3)


def test_resuming_a_finished_search_trains_nothing(search, monkeypatch):
    calls = []
    original_fit = tuning.VCDHyperModel.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(1)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(tuning.VCDHyperModel, "fit", counting_fit)
    project = search["root"] / "projects" / SEARCH["project_name"]
    before = sorted(os.listdir(project))
    x_train, x_valid = _data()
    tuner, table = tuning.run_search(x_train, x_valid, search["root"] / "projects", **SEARCH)
    assert calls == []
    assert sorted(os.listdir(project)) == before
    assert table == search["table"]
    assert len(tuner.oracle.trials) == 2


def test_same_seed_samples_the_same_hyperparameters(tmp_path):
    # keras-tuner reads seed=0 as "no seed"; make_tuner must still be reproducible.
    def first_values(name):
        hypermodel = tuning.VCDHyperModel(input_dim=20, fixed=TINY, compile_kwargs=FAST)
        tuner = tuning.make_tuner(hypermodel, tmp_path, project_name=name, seed=0)
        return tuner.oracle.create_trial("tuner0").hyperparameters.values

    assert first_values("a") == first_values("b")
    with pytest.raises(ValueError, match="algorithm"):
        tuning.make_tuner(None, tmp_path, algorithm="grid")


# ---------------------------------------------------------------------- the hypermodel


def test_hyperparameter_defaults_are_the_papers():
    hp = keras_tuner.HyperParameters()
    model = tuning.VCDHyperModel(input_dim=784).build(hp)
    assert hp.values == {
        "decoder_learning_rate": 5e-4, "encoder_mean_learning_rate": 5e-4,
        "encoder_std_learning_rate": 2.5e-4, "latent_dim": 10, "hidden_units": 200,
        "num_hmc_steps": 8, "num_leapfrog_steps": 5, "objective": "vcd",
        "control_variate": "global", "batch_size": 100, "optimizer": "reference_rmsprop",
    }
    assert isinstance(model, kv.VCDModel) and model.built
    assert model.input_dim == 784 and model.latent_dim == 10
    assert tuple(model.encoder.hidden_units) == (200, 200)
    assert tuple(model.decoder.hidden_units) == (200, 200)
    assert (model.refiner.num_steps, model.refiner.num_leapfrog_steps) == (8, 5)
    assert model.objective == "vcd" and model.control_variate == "global"
    for optimizer, rate in ((model.decoder_optimizer, 5e-4),
                            (model.encoder_mean_optimizer, 5e-4),
                            (model.encoder_std_optimizer, 2.5e-4)):
        assert isinstance(optimizer, optimizers.ReferenceRMSprop)
        schedule = optimizer.get_config()["learning_rate"]["config"]
        assert schedule == {**optimizers.paper_schedule(rate).get_config(),
                            "name": schedule["name"]}


def test_fixed_values_and_none_control_variate():
    hp = keras_tuner.HyperParameters()
    hypermodel = tuning.VCDHyperModel(
        input_dim=20, fixed={**TINY, "control_variate": None, "batch_size": 32},
        compile_kwargs=FAST)
    model = hypermodel.build(hp)
    assert model.control_variate is None and model.latent_dim == 2
    assert hp.values["control_variate"] == "none" and hp.values["batch_size"] == 32
    with pytest.raises(ValueError, match="Unknown hyperparameters.*latent"):
        tuning.VCDHyperModel(fixed={"latentdim": 2})
    with pytest.raises(ValueError, match="local"):
        tuning.VCDHyperModel(fixed={"control_variate": "local"})


class _RecordingModel:
    def fit(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        return "history"


def test_fit_uses_tuned_batch_size_and_puts_val_loglik_first():
    x_train, x_valid = _data()
    hp = keras_tuner.HyperParameters()
    hypermodel = tuning.VCDHyperModel(input_dim=20, max_validation_examples=30)
    tuner_callbacks = [keras.callbacks.Callback(), keras.callbacks.Callback()]
    model = _RecordingModel()
    assert hypermodel.fit(hp, model, x_train, validation_data=x_valid, epochs=1,
                          callbacks=list(tuner_callbacks)) == "history"
    assert model.kwargs["batch_size"] == 100 and model.args[0] is x_train
    first, *rest = model.kwargs["callbacks"]
    assert isinstance(first, ValidationLogLikelihood) and first.num_samples == 100
    assert rest == tuner_callbacks
    np.testing.assert_array_equal(first.x, x_valid[:30])
    with pytest.raises(ValueError, match="validation_subset"):
        hypermodel.fit(hp, model, x_train, epochs=1)


# ---------------------------------------------------------------------- the callback


def test_validation_loglik_is_in_logs_and_deterministic():
    x_train, x_valid = _data()
    model = tiny_model(input_dim=20)
    model.compile(jit_compile=False)
    callback = ValidationLogLikelihood(x_valid[:40], num_samples=20, seed=3)
    history = model.fit(x_train, batch_size=50, epochs=1, verbose=0, callbacks=[callback])
    value = history.history["val_loglik"][0]
    assert np.isfinite(value) and value < 0
    logs_a, logs_b = {}, {}
    callback.on_epoch_end(1, logs_a)
    callback.on_epoch_end(1, logs_b)
    assert logs_a["val_loglik"] == logs_b["val_loglik"] == value
    assert keras_tuner.Objective("val_loglik", "max").get_value(logs_a) == value
    assert tuning.VAL_LOGLIK_OBJECTIVE.has_value(logs_a)


def test_callback_deepcopy_leaves_the_model_behind():
    model = tiny_model(input_dim=20)
    callback = ValidationLogLikelihood(prototype_data(8, 20), num_samples=5)
    callback.set_model(model)
    clone = copy.deepcopy(callback)
    assert clone._model is None and clone.num_samples == 5
    np.testing.assert_array_equal(clone.x, callback.x)
    with pytest.raises(ValueError, match="method"):
        ValidationLogLikelihood(prototype_data(8, 20), method="exact")


def test_trials_are_built_from_a_recipe_with_the_sampled_values_as_overrides():
    gaussian = {"model": {"decoder": {"kind": "gaussian", "output_dim": 20, "scale": 0.1,
                                      "hidden_units": []},
                          "encoder": {"latent_dim": 3, "hidden_units": [8, 8]}},
                "optimization": {"decoder_learning_rate": 1e-3}}
    hypermodel = tuning.VCDHyperModel(recipe=gaussian, compile_kwargs=FAST,
                                      fixed={"optimizer": "adam", "hidden_units": 16})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    # The defaults are the recipe's, the fixed values are applied through its keys.
    assert hp.values["latent_dim"] == 3 and hp.values["decoder_learning_rate"] == 1e-3
    assert isinstance(model.decoder, kv.GaussianDecoder) and model.decoder.scale == 0.1
    assert tuple(model.encoder.hidden_units) == (16, 16)  # the recipe's two layers
    assert tuple(model.decoder.hidden_units) == ()  # a linear decoder stays linear
    assert type(model.decoder_optimizer).__name__ == "Adam"
    learning_rate = hp.get("decoder_learning_rate")
    space = {h.name: h for h in hp.space}["decoder_learning_rate"]
    assert (space.min_value, space.max_value) == pytest.approx((learning_rate / 5,
                                                                learning_rate * 5))


def test_a_model_function_receives_the_trials_recipe():
    seen = []

    def model_fn(recipe):
        seen.append(recipe)
        model = tiny_model(input_dim=20, latent_dim=recipe["model"]["encoder"]["latent_dim"])
        model.compile(jit_compile=False)
        return model

    hp = keras_tuner.HyperParameters()
    hp.Fixed("latent_dim", 5)
    model = tuning.VCDHyperModel(input_dim=20, model_fn=model_fn).build(hp)
    assert model.latent_dim == 5 and seen[0]["model"]["encoder"]["latent_dim"] == 5
    assert seen[0]["model"]["seed"] == 0


def test_the_search_space_is_declared_once():
    hp = keras_tuner.HyperParameters()
    tuning.VCDHyperModel().declare_hyperparameters(hp)
    assert [h.name for h in hp.space] == list(tuning.SEARCH_SPACE)
    with pytest.raises(ValueError, match="local"):
        tuning.VCDHyperModel(recipe={"model": {"control_variate": "local",
                                               "num_train_examples": 10}})
