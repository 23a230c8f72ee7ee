"""Tests of keras_vcd.plotting: every picture is written as a valid PNG of a sane size.

A tiny untrained model (4 x 4 images, 2 latent dimensions) keeps them fast; the
CSV logs are written by hand into pytest's tmp_path.
"""

import os
import warnings

import numpy as np
import pytest
from matplotlib import image as mpimg

import keras_vcd as kv
from keras_vcd import plotting
from helpers import tiny_model

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

FULL_HEADER = ("epoch,elbo,hmc_accept_rate,hmc_step_size,log_lik_qt,loss,stoch_vcd,"
               "val_elbo,val_hmc_accept_rate,val_hmc_step_size,val_log_lik_qt,val_loss,"
               "val_stoch_vcd")


def _model(input_dim=16, objective="vcd"):
    model = tiny_model(objective, input_dim=input_dim, hidden_units=(8,), num_leapfrog_steps=2)
    model.compile()
    model.build()
    return model


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def x_test():
    return (np.random.default_rng(0).random((12, 16)) < 0.3).astype("float32")


def _read_png(path):
    """Checks `path` is a PNG file and returns its pixels, shape (height, width, channels)."""
    assert os.path.isfile(path), path
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    return pixels


def _write_csv(path, header, rows):
    path.write_text("\n".join([header] + rows) + "\n")
    return path


# ---------------------------------------------------------------------- images


def test_prior_samples(model, tmp_path):
    path = plotting.plot_prior_samples(model, tmp_path / "sub" / "prior.png", seed=3)
    assert path == str(tmp_path / "sub" / "prior.png")
    pixels = _read_png(path)
    # An 8 x 8 grid of square images: roughly square.
    assert 0.7 < pixels.shape[0] / pixels.shape[1] < 1.4
    again = plotting.plot_prior_samples(model, tmp_path / "again.png", seed=3)
    np.testing.assert_array_equal(_read_png(again), pixels)


def test_prior_samples_any_count(model, tmp_path):
    _read_png(plotting.plot_prior_samples(model, tmp_path / "p.png", num_samples=5))
    with pytest.raises(ValueError, match="num_samples"):
        plotting.plot_prior_samples(model, tmp_path / "p.png", num_samples=0)


def test_reconstructions(model, x_test, tmp_path):
    pixels = _read_png(plotting.plot_reconstructions(model, x_test, tmp_path / "r.png"))
    # Three rows of ten images: wider than high.
    assert pixels.shape[1] > 2 * pixels.shape[0]
    # Fewer examples than asked for: draws what there is.
    _read_png(plotting.plot_reconstructions(model, x_test[:3], tmp_path / "r3.png"))


def test_reconstructions_bad_input(model, tmp_path):
    with pytest.raises(ValueError, match="16"):
        plotting.plot_reconstructions(model, np.zeros((4, 15)), tmp_path / "r.png")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plotting.plot_reconstructions(model, np.full((4, 16), 2.0), tmp_path / "r.png")


def test_refined_row_label(model):
    assert plotting._refined_label(model).startswith("HMC-refined")
    vae = kv.VCDModel(encoder=model.encoder, decoder=model.decoder, objective="elbo")
    assert "no HMC" in plotting._refined_label(vae)


def test_latent_traversal(model, tmp_path):
    pixels = _read_png(plotting.plot_latent_traversal(model, tmp_path / "t.png"))
    # Two latent dimensions, nine steps: wider than high.
    assert pixels.shape[1] > pixels.shape[0]
    _read_png(plotting.plot_latent_traversal(model, tmp_path / "t1.png", num_steps=3,
                                             span=1.0, dims=[1]))


@pytest.mark.parametrize("kwargs, message", [
    ({"dims": [2]}, "out of range"),
    ({"dims": [0, 0]}, "twice"),
    ({"dims": []}, "empty"),
    ({"num_steps": 1}, "num_steps"),
    ({"span": 0.0}, "span"),
])
def test_latent_traversal_bad_arguments(model, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_latent_traversal(model, tmp_path / "t.png", **kwargs)


def test_image_shape_override_and_strips(model, tmp_path):
    _read_png(plotting.plot_prior_samples(model, tmp_path / "p.png", num_samples=4,
                                          image_shape=(2, 8)))
    with pytest.raises(ValueError, match="image_shape"):
        plotting.plot_prior_samples(model, tmp_path / "p.png", image_shape=(3, 5))
    # A non-square input_dim is drawn as strips, for every picture.
    strip_model = _model(input_dim=6, objective="elbo")
    x = (np.random.default_rng(1).random((4, 6)) < 0.5).astype("float32")
    paths = plotting.write_all(strip_model, x, tmp_path / "strips")
    for path in paths.values():
        _read_png(path)


# ---------------------------------------------------------------------- curves


def test_training_curves_full_log(tmp_path):
    rows = [f"{e},{-200 + 5 * e},{0.8 + 0.01 * e},{0.1 / (e + 1)},{-190 + 5 * e},1,1,"
            + (f"{-205 + 5 * e},0.9,0.01,-195,1,1" if e % 2 else "NA,NA,NA,NA,NA,NA")
            for e in range(6)]
    csv_path = _write_csv(tmp_path / "log.csv", FULL_HEADER, rows)
    pixels = _read_png(plotting.plot_training_curves(csv_path, tmp_path / "c.png"))
    assert pixels.shape[1] > pixels.shape[0]


def test_training_curves_resumed_and_missing_columns(tmp_path):
    # A plain VAE run (no HMC columns), resumed at epoch 1: epochs 1 and 2 repeat.
    rows = ["0,-200,200", "1,-150,150", "2,-140,140", "1,-149,149", "2,-139,139", "3,-130,130"]
    csv_path = _write_csv(tmp_path / "vae.csv", "epoch,elbo,loss", rows)
    columns = plotting.read_training_log(csv_path)
    assert columns["epoch"].tolist() == [0, 1, 2, 3]
    assert columns["elbo"].tolist() == [-200, -149, -139, -130]
    assert "hmc_accept_rate" not in columns
    _read_png(plotting.plot_training_curves(csv_path, tmp_path / "c.png"))


def test_read_training_log_gaps_and_repeated_header(tmp_path):
    rows = ["0,-200,NA", "epoch,elbo,val_elbo", "1,-150,", "2,nan,-160"]
    csv_path = _write_csv(tmp_path / "log.csv", "epoch,elbo,val_elbo", rows)
    columns = plotting.read_training_log(csv_path)
    assert columns["epoch"].tolist() == [0, 1, 2]
    assert np.isnan(columns["val_elbo"][:2]).all() and columns["val_elbo"][2] == -160
    assert np.isnan(columns["elbo"][2])
    _read_png(plotting.plot_training_curves(csv_path, tmp_path / "c.png"))


def test_training_curves_errors(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        plotting.plot_training_curves(missing, tmp_path / "c.png")
    no_epoch = _write_csv(tmp_path / "a.csv", "elbo,loss", ["-1,1"])
    with pytest.raises(ValueError, match="epoch"):
        plotting.read_training_log(no_epoch)
    empty = _write_csv(tmp_path / "b.csv", "epoch,elbo", [])
    with pytest.raises(ValueError, match="no rows"):
        plotting.read_training_log(empty)
    bad = _write_csv(tmp_path / "c.csv", "epoch,elbo", ["0,-1", "1,oops"])
    with pytest.raises(ValueError, match="line 3.*'elbo'.*oops"):
        plotting.read_training_log(bad)


# ---------------------------------------------------------------------- write_all


def test_write_all(model, x_test, tmp_path):
    csv_path = _write_csv(tmp_path / "log.csv", "epoch,elbo,hmc_accept_rate",
                          ["0,-200,0.5", "1,-150,0.8"])
    paths = plotting.write_all(model, x_test, tmp_path / "out", csv_path=csv_path)
    assert set(paths) == set(plotting.FILE_NAMES)
    for name, path in paths.items():
        assert os.path.basename(path) == plotting.FILE_NAMES[name]
        _read_png(path)


def test_write_all_without_log(model, x_test, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        paths = plotting.write_all(model, x_test, tmp_path / "out")
    assert "training_curves" not in paths
    with pytest.warns(UserWarning, match="missing.csv"):
        paths = plotting.write_all(model, x_test, tmp_path / "out2",
                                   csv_path=tmp_path / "missing.csv")
    assert sorted(paths) == ["latent_traversal", "prior_samples", "reconstructions"]
    assert not (tmp_path / "out2" / "training_curves.png").exists()
