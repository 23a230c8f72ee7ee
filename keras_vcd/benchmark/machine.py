"""The machine a run measures: hardware, versions, and how busy it was with other work."""

import datetime
import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf

import keras_vcd
from keras_vcd.environment import cpu_count

# Above this fraction of the CPUs busy with other work, the table carries a warning.
QUIET_THRESHOLD = 0.1


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine(tfp_version):
    """The hardware and the versions of everything measured, for the results.

    Args:
        tfp_version: TensorFlow Probability's version, passed in so that only
            `tfp_baseline` imports TFP.

    Returns:
        A JSON-able dict.

    Example:

    >>> describe_machine("0.25.0")["tensorflow_probability"]
    '0.25.0'
    """
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_probability": tfp_version,
        "numpy": np.__version__,
        "keras_vcd": keras_vcd.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def _cpu_times():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def other_load(seconds=2.0):
    """Fraction of all CPUs busy during `seconds` of sleep (None off Linux).

    Measured directly rather than read from the load average, which lags by minutes:
    a benchmark started right after stopping other work reads a high load average on a
    quiet machine, and one started beside work that began a minute ago reads a low one.

    Example:

    >>> load = other_load(0.1)
    >>> load is None or 0.0 <= load <= 1.0
    True
    """
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total1 - total0
    return 1.0 - (idle1 - idle0) / elapsed if elapsed > 0 else None


def load_average():
    """The 1, 5 and 15 minute load averages as a list, or None where unknown."""
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):
        return None


def now():
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
