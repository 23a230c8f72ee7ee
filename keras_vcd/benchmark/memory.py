"""Section f: peak memory of training and of an evaluation, each in a fresh process.

A fresh process per measurement, so that its peak belongs to that measurement alone
and not to whatever the benchmark held before it.
"""

import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from keras_vcd import evaluation
from keras_vcd.benchmark.workload import make_model, synthetic_data, whole_executions


def max_rss_bytes():
    """The peak resident set size of this process image so far, in bytes.

    On Linux this is `VmHWM` of /proc/self/status: `getrusage`'s `ru_maxrss` survives
    `exec`, so in a probe started by a large parent it reports the parent's size at
    the fork instead of the probe's own peak. Elsewhere, `resource.getrusage`.

    Example:

    >>> max_rss_bytes() > 0
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def _probe_training(config):
    num_train = config["num_train_examples"]
    batch = config["batch_size"]
    steps = whole_executions(config["steps"])
    x = synthetic_data(steps * batch, config["input_dim"], config["data_density"])
    local = config["control_variate"] == "local"
    model = make_model(config, config["control_variate"],
                       num_train_examples=num_train if local else None)
    data = x
    if local:
        # Only the touched examples are held: the data of 1,000,000 examples would
        # dwarf what is measured, the model's own state.
        rng = np.random.default_rng(0)
        index = (rng.choice(num_train, len(x), replace=False) if num_train >= len(x)
                 else rng.integers(0, num_train, len(x)))
        data = {"x": x, "index": index.astype("int64")}
    model.fit(data, batch_size=batch, epochs=1, verbose=0)


def _probe_evaluation(config):
    model = make_model(config)
    model.build()
    x = synthetic_data(config["num_examples"], config["input_dim"], config["data_density"])
    evaluation.log_likelihood(model, x, method=config["method"],
                              num_samples=config["num_samples"], verbose=0)


_PROBES = {"train": _probe_training, "evaluate": _probe_evaluation}


def memory_probe(spec):
    """Runs one memory measurement in THIS process; returns its record.

    Meant for a fresh process (`python -m keras_vcd.benchmark --memory-probe SPEC`),
    so that the peak RSS belongs to this measurement alone. The peak is also given
    above the RSS at the start, which is that of TensorFlow and Keras, imported.

    Args:
        spec: dict with `kind` ("train" or "evaluate") and the model config keys.
            "train": `control_variate`, `num_train_examples`, `steps`: fits `steps`
            iterations on batches whose indices are drawn from `num_train_examples`.
            "evaluate": `method`, `num_examples`, `num_samples`: one
            `log_likelihood` call.

    Returns:
        A dict: `max_rss_bytes`, `rss_after_import_bytes`,
        `max_rss_above_import_bytes` and `seconds`.

    Raises:
        ValueError: an unknown `kind`.
    """
    rss_start = max_rss_bytes()
    start = time.perf_counter()
    probe = _PROBES.get(spec["kind"])
    if probe is None:
        raise ValueError(f"Unknown memory probe kind {spec['kind']!r}; "
                         "expected 'train' or 'evaluate'.")
    probe(dict(spec))
    peak = max_rss_bytes()
    return {"max_rss_bytes": peak, "rss_after_import_bytes": rss_start,
            "max_rss_above_import_bytes": peak - rss_start,
            "seconds": time.perf_counter() - start}


def run_memory_probe(spec, timeout=1800):
    """Runs `memory_probe(spec)` in a fresh Python process and returns its record.

    Raises:
        RuntimeError: the process failed; the message ends with its stderr.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "keras_vcd.benchmark", "--memory-probe", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"memory probe {spec} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def probe_label(probe):
    """A probe's row label in the report.

    >>> probe_label({"kind": "evaluate", "method": "iwae", "num_samples": 20000,
    ...              "num_examples": 20})
    'evaluate iwae, S = 20,000, 20 examples'
    """
    if probe["kind"] == "train":
        return (f"train, {probe['control_variate']} control variate, "
                f"N = {probe['num_train_examples']:,}")
    return (f"evaluate {probe['method']}, S = {probe['num_samples']:,}, "
            f"{probe['num_examples']} examples")


class MemoryProbes:
    """Section f: the probes of the settings, run by a pool of fresh processes.

    Args:
        config: the model configuration (`model_config`) that each probe extends.
        probes: the `memory_probes` setting.
        workers: processes at once.
    """

    def __init__(self, config, probes, workers):
        self.probes = [dict(config, **probe) for probe in probes]
        self._pool = concurrent.futures.ThreadPoolExecutor(workers)
        self._pending = None

    def start(self):
        """Starts every probe now; otherwise `records` starts them."""
        self._pending = [self._pool.submit(run_memory_probe, probe) for probe in self.probes]

    def records(self, progress):
        """Waits for every probe; returns the section's list of records.

        Args:
            progress: a `Progress` for the log lines.
        """
        if self._pending is None:
            self.start()
        with self._pool:
            measured = [future.result() for future in self._pending]
        section = []
        for probe, record in zip(self.probes, measured):
            record = dict(probe, **record)
            if probe["kind"] == "train" and probe["control_variate"] == "local":
                record["control_variate_bytes"] = 4 * probe["num_train_examples"]
            section.append(record)
            progress.log(f"memory {probe_label(probe)}: "
                         f"{record['max_rss_bytes'] / 2**20:.0f} MiB "
                         f"({record['max_rss_above_import_bytes'] / 2**20:.0f} MiB above "
                         "the imports)")
        return section
