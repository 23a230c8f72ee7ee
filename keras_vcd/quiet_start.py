"""TensorFlow's start-up chatter, kept off stderr where it says nothing to act on.

On a machine without a GPU, TensorFlow prints lines such as "Could not find cuda
drivers" and "failed call to cuInit", and `TF_CPP_MIN_LOG_LEVEL` cannot hide them:
they are written before TensorFlow's logging is initialised. The import prints the
first kind; the first device query (a library user's first `fit`) the second.

- The command line imports TensorFlow and probes its devices with stderr captured
  (`import_tensorflow_quietly`), then writes back every captured line except the
  known start-up notices.
- A library user's `import keras_vcd` leaves TensorFlow's import and logging alone
  (its lines are the same as `import tensorflow` prints), but probes the devices
  with stderr captured (`probe_devices_quietly`) and drops only the CUDA probe's
  failure, so that a `fit` on a CPU machine prints no "failed call to cuInit".

Warnings and errors that are not on these lists pass through, and the CUDA probe's
failure passes through on a machine that has an NVIDIA device, where it is a real
error.
"""

import contextlib
import glob
import os
import pathlib
import re
import sys
import tempfile

# Informational lines of TensorFlow's C++ start-up ("I" severity), and the notice
# that precedes them.
_INFO_LINE = re.compile(r"^I\d{4} ")
_ALWAYS_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "rebuild TensorFlow with the appropriate compiler flags",  # 2nd line of a CPU-feature info
    "TF-TRT Warning: Could not find TensorRT",
)
# CUDA's probes, noise only where there is no GPU to find.
_NO_GPU_NOISE = (
    "failed call to cuInit",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "Could not find cuda drivers",
)


def has_nvidia_device():
    """True where the NVIDIA driver exposes a device (`/dev/nvidia0`, ...)."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def is_start_up_noise(line, gpu_present):
    """True for a line of TensorFlow's start-up chatter that says nothing to act on."""
    if _INFO_LINE.match(line) or any(text in line for text in _ALWAYS_NOISE):
        return True
    return is_cuda_probe_noise(line, gpu_present)


def is_cuda_probe_noise(line, gpu_present):
    """True for a CUDA probe's failure on a machine without a GPU (nothing to find there)."""
    return not gpu_present and any(text in line for text in _NO_GPU_NOISE)


def started_as_command():
    """True when this process is `keras-vcd`, `python -m keras_vcd` or a `scripts/` entry."""
    argv = getattr(sys, "orig_argv", sys.argv)
    if "-m" in argv:
        following = argv[argv.index("-m") + 1: argv.index("-m") + 2]
        return following in (["keras_vcd"], ["keras_vcd.cli"])
    if len(argv) < 2:
        return False
    program = pathlib.Path(argv[1])
    scripts = pathlib.Path(__file__).resolve().parents[1] / "scripts"
    return program.name == "keras-vcd" or program.resolve().parent == scripts


@contextlib.contextmanager
def _stderr_without(is_noise):
    """Captures file descriptor 2 (C++ writes too), then writes back the lines that are not noise.

    Whatever is written meanwhile, a traceback included, comes back in order.
    """
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            gpu_present = has_nvidia_device()
            sys.stderr.write("".join(line for line in text.splitlines(keepends=True)
                                     if not is_noise(line, gpu_present)))
            sys.stderr.flush()


def import_tensorflow_quietly():
    """Imports TensorFlow and probes its devices, dropping the start-up chatter.

    Does nothing if TensorFlow is imported already.
    """
    if "tensorflow" in sys.modules:
        return
    with _stderr_without(is_start_up_noise):
        import tensorflow as tf

        # The CUDA probe runs on the first device query, not at import.
        tf.config.list_physical_devices()


def probe_devices_quietly():
    """Runs TensorFlow's device probe now, dropping only a CUDA failure on a CPU machine.

    Listing the physical devices does not initialise them, so a user can still call
    `tf.config.set_visible_devices` or `set_memory_growth` afterwards; a probe that
    already ran prints nothing again.
    """
    import tensorflow as tf

    with _stderr_without(is_cuda_probe_noise):
        tf.config.list_physical_devices()
