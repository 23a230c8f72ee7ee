"""Packaging: what pyproject.toml installs, and the command line's quiet start."""

import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

from keras_vcd import quiet_start

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_installed():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "keras_vcd").rglob("__init__.py")
    }
    assert on_disk | {"keras_vcd.presets"} == listed


def test_dependencies_are_ranges_not_pins():
    for requirement in _pyproject()["project"]["dependencies"]:
        assert "==" not in requirement, requirement


def test_licence_is_apache_and_shipped():
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


@pytest.mark.parametrize("line", [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1796160634.106636    2470 port.cc:153] oneDNN custom operations are on.\n",
    "I0000 00:00:1796160634.109363    2470 cudart_stub.cc:31] Could not find cuda drivers\n",
    "E0000 00:00:1796160639.089936    2470 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n",
    "E0000 00:00:1733.12 1 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting\n",
])
def test_start_up_chatter_is_dropped_without_a_gpu(line):
    assert quiet_start.is_start_up_noise(line, gpu_present=False)


@pytest.mark.parametrize("line", [
    "E0000 00:00:1.2 7 some_kernel.cc:12] Resource exhausted: OOM when allocating\n",
    "W0000 00:00:1.2 7 op_level_cost_estimator.cc:699] Error in PredictCost()\n",
    "Traceback (most recent call last):\n",
    "ImportError: libcudart.so.12: cannot open shared object file\n",
])
def test_real_warnings_and_errors_pass(line):
    assert not quiet_start.is_start_up_noise(line, gpu_present=False)


def test_a_failed_cuda_probe_is_an_error_where_there_is_a_gpu():
    line = "E0000 00:00:1.2 7 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR\n"
    assert not quiet_start.is_start_up_noise(line, gpu_present=True)


def _run_python(*arguments):
    """A fresh Python process with `arguments`, TF_CPP_MIN_LOG_LEVEL unset as a user's is."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, *arguments], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.skipif(quiet_start.has_nvidia_device(), reason="a GPU machine prints its devices")
def test_the_command_starts_without_tensorflow_chatter():
    result = _run_python("-m", "keras_vcd", "zoo", "list")
    assert "vcd_mnist" in result.stdout
    assert result.stderr == ""


@pytest.mark.skipif(quiet_start.has_nvidia_device(), reason="the CUDA probe is real there")
def test_a_library_fit_on_a_cpu_machine_prints_no_cuda_probe_failure():
    # TensorFlow's own import lines stay (a library user's logging is theirs); the
    # CUDA probe of the first fit, which found nothing to report, does not print.
    code = ("import numpy as np, keras_vcd as kv, tensorflow as tf; "
            "tf.config.set_visible_devices([], 'GPU'); "  # devices not yet initialised
            "m = kv.VCDModel(kv.GaussianEncoder(2, (4,)), kv.BernoulliDecoder(3, (4,)), "
            "kv.HMCRefine(1, 1)); m.compile(); "
            "m.fit(np.zeros((8, 3), 'float32'), epochs=1, verbose=0); print('fitted')")
    result = _run_python("-c", code)
    assert result.stdout.strip() == "fitted"
    assert "cuInit" not in result.stderr


def test_importing_the_library_leaves_logging_alone():
    code = ("import os, keras_vcd; "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL', 'unset'))")
    result = _run_python("-c", code)
    assert result.stdout.strip() == "unset"


def test_the_core_works_without_the_optional_extras():
    # None in sys.modules makes `import NAME` raise ImportError, as if not installed.
    code = """
import sys
for name in ("matplotlib", "keras_tuner", "tensorflow_probability", "tf_keras", "sklearn"):
    sys.modules[name] = None
import numpy as np, keras_vcd as kv
model = kv.zoo.load("vcd_mnist")
print(model.objective)
try:
    kv.plotting.plot_prior_samples(model, "unused.png")
except ImportError as error:
    print(error)
try:
    kv.tuning
except ImportError as error:
    print(error)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "vcd"
    assert "pip install 'keras-vcd[plots]'" in lines[1]
    assert "pip install 'keras-vcd[tuner]'" in lines[2]
