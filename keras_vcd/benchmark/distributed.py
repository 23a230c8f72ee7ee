"""`keras-vcd bench --distributed`: does a second worker pay for itself?

Three setups of the paper's training step (`PAPER_CONFIG`, local control variates,
the default `compile()`), each in fresh processes pinned to one core with one
TensorFlow thread, so that one core's worth of work is compared with two:

a. one process, no strategy, batch 100;
b. one process under a one-worker `MultiWorkerMirroredStrategy`, batch 100: what the
   strategy itself costs;
c. two `MultiWorkerMirroredStrategy` workers on 127.0.0.1, one core each, the global
   batch doubled to 200 (100 per worker): what a second worker buys.

Each process fits once to compile, then times `repeats` one-epoch fits of
`iterations` steps; the figure is the median. The workers of (c) also write their
final weights (model and optimizers), which must be identical.

Example (the command line runs the same thing):

>>> from keras_vcd.benchmark import distributed
>>> results = distributed.run_distributed(iterations=200)  # doctest: +SKIP
>>> print(distributed.format_distributed(results))  # doctest: +SKIP
"""

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from keras_vcd import distribute
from keras_vcd.benchmark import machine
from keras_vcd.benchmark.report import percent
from keras_vcd.benchmark.settings import PAPER_CONFIG
from keras_vcd.benchmark.timing import Progress, median

SETUPS = {
    "a": "1 process, 1 core, no strategy, batch 100",
    "b": "1 process, 1 core, 1-worker MultiWorkerMirroredStrategy, batch 100",
    "c": "2 MultiWorkerMirroredStrategy workers on 127.0.0.1, 1 core each, global batch 200",
}
TARGETS = {"b_over_a": 0.9, "c_over_a": 1.6}


def distributed_probe(spec):
    """One process of one setup (run by `_launch` in a fresh interpreter).

    `spec`: `config` (like `PAPER_CONFIG`), `core` (the CPU `_launch` pinned the
    process to), `strategy` (bool), `num_workers`, `iterations`, `repeats`, `seed`,
    `weights_file` (or None).
    """
    import tensorflow as tf

    # Before TensorFlow initialises, which the multi-worker strategy does.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras_vcd import datasets
    from keras_vcd.benchmark.timing import time_calls
    from keras_vcd.benchmark.workload import make_model, synthetic_data

    strategy = distribute.get_strategy("multi_worker") if spec["strategy"] else None
    config = spec["config"]
    global_batch = config["batch_size"] * spec["num_workers"]
    iterations = spec["iterations"]
    # The same data on every worker: the strategy shards it.
    x = synthetic_data(iterations * global_batch, config["input_dim"], seed=spec["seed"])
    data = datasets.with_indices(x)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = make_model(dict(config, local_warmup_steps=0), "local",
                           num_train_examples=len(x), seed=spec["seed"])
    warmup = {key: value[:10 * global_batch] for key, value in data.items()}
    warmup_seconds, seconds = time_calls(
        lambda: model.fit(data, batch_size=global_batch, epochs=1, shuffle=False, verbose=0),
        spec["repeats"],
        warmup=lambda: model.fit(warmup, batch_size=global_batch, epochs=1, shuffle=False,
                                 verbose=0))
    if spec["weights_file"]:
        optimizer_variables = [v for optimizer, _ in model.parameter_groups().values()
                               for v in optimizer.variables]
        np.savez(spec["weights_file"],
                 *[np.asarray(v) for v in model.weights + optimizer_variables])
    return {"seconds": seconds, "warmup_seconds": warmup_seconds, "iterations": iterations,
            "global_batch": global_batch, "cores": sorted(os.sched_getaffinity(0)),
            "num_replicas": strategy.num_replicas_in_sync if strategy else 1}


def _launch(specs, timeout):
    """Runs one probe per spec at once (a cluster if several); returns their records."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="-1")
    env.pop("TF_CONFIG", None)
    cluster = distribute.loopback_cluster(len(specs))
    processes = []
    try:
        for index, spec in enumerate(specs):
            worker_env = dict(env)
            if spec["strategy"]:
                worker_env["TF_CONFIG"] = json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}})
            command = [sys.executable, "-m", "keras_vcd.benchmark", "--distributed-probe",
                       json.dumps(spec)]
            # Pinned before it starts (as `taskset -c CORE` would), so that every thread
            # of the process, TensorFlow's included, runs on that one core.
            processes.append(subprocess.Popen(
                command, env=worker_env, text=True, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=lambda core=spec["core"]: os.sched_setaffinity(0, {core})))
        records = []
        for spec, process in zip(specs, processes):
            stdout, stderr = process.communicate(timeout=timeout)
            if process.returncode != 0:
                raise RuntimeError(f"distributed probe {spec} failed (exit "
                                   f"{process.returncode}):\n{stderr[-3000:]}")
            records.append(json.loads(stdout.strip().splitlines()[-1]))
        return records
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _setup_record(record):
    seconds = median(record["seconds"])
    return {
        "seconds_per_iteration": seconds / record["iterations"],
        "examples_per_second": record["iterations"] * record["global_batch"] / seconds,
        "global_batch": record["global_batch"],
        "num_replicas": record["num_replicas"],
        "cores": record["cores"],
        "repeat_seconds": record["seconds"],
        "warmup_seconds": record["warmup_seconds"],
    }


def _weights_difference(files):
    first, second = (np.load(f) for f in files)
    if first.files != second.files:
        raise RuntimeError(f"the workers saved different variables: {files}")
    return max(float(np.max(np.abs(first[name] - second[name]))) if first[name].size else 0.0
               for name in first.files)


def run_distributed(iterations=200, repeats=3, seed=0, output=None, verbose=1, timeout=1800,
                    config=None):
    """Measures setups a, b and c (see the module docstring) and their ratios.

    Args:
        iterations: steps per timed fit.
        repeats: timed fits per setup (the median is reported).
        seed: of the data and the models.
        output: a JSON file to write, or None.
        verbose: 1 prints a line per setup.
        timeout: seconds allowed to each setup's processes.
        config: overrides of `PAPER_CONFIG` (e.g. a tiny model for a test).

    Returns:
        A dict: `machine`, `setups` (a, b, c), `ratios` (`b_over_a`, `c_over_a`, the
        throughput ratios), `targets`, `workers_weights_max_difference`.

    Raises:
        RuntimeError: fewer than two cores are available, or a process failed.
    """
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise RuntimeError(f"the distributed benchmark pins two workers to two cores; this "
                           f"process may use {len(cores)} ({cores}).")
    config = dict(PAPER_CONFIG, **(config or {}))
    progress = Progress(verbose)
    results = {"benchmark": "keras_vcd distributed", "started_at": machine.now(),
               "other_load_start": machine.other_load(),
               "machine": machine.describe_machine(None),
               "settings": {"iterations": iterations, "repeats": repeats, "seed": seed,
                            **config}, "setups": {}}
    base = {"config": config, "iterations": iterations, "repeats": repeats, "seed": seed,
            "weights_file": None}
    with tempfile.TemporaryDirectory() as folder:
        weights = [str(pathlib.Path(folder) / f"worker{i}.npz") for i in range(2)]
        plans = {
            "a": [dict(base, core=cores[0], strategy=False, num_workers=1)],
            "b": [dict(base, core=cores[0], strategy=True, num_workers=1)],
            "c": [dict(base, core=cores[i], strategy=True, num_workers=2,
                       weights_file=weights[i]) for i in range(2)],
        }
        for name, specs in plans.items():
            records = _launch(specs, timeout)
            results["setups"][name] = dict(_setup_record(records[0]), description=SETUPS[name])
            progress.log(f"{name}. {SETUPS[name]}: "
                         f"{results['setups'][name]['examples_per_second']:.0f} examples/s")
        results["workers_weights_max_difference"] = _weights_difference(weights)
    rate = {name: setup["examples_per_second"] for name, setup in results["setups"].items()}
    results["ratios"] = {"b_over_a": rate["b"] / rate["a"], "c_over_a": rate["c"] / rate["a"]}
    results["targets"] = dict(TARGETS)
    results["other_load_end"] = machine.other_load()
    results["finished_at"] = machine.now()
    if output:
        pathlib.Path(output).write_text(json.dumps(results, indent=1))
        progress.log(f"wrote {output}")
    return results


def format_distributed(results):
    """The results as a Markdown table, the ratios and the workers' agreement."""
    lines = ["| setup | examples/s | ms/iteration | vs a |", "| --- | --- | --- | --- |"]
    rate_a = results["setups"]["a"]["examples_per_second"]
    for name, setup in results["setups"].items():
        lines.append(f"| {name}. {setup['description']} | {setup['examples_per_second']:.0f} | "
                     f"{setup['seconds_per_iteration'] * 1e3:.1f} | "
                     f"{setup['examples_per_second'] / rate_a:.2f}x |")
    ratios, targets = results["ratios"], results["targets"]
    lines += [
        "",
        f"b / a = {ratios['b_over_a']:.2f} (target >= {targets['b_over_a']}), "
        f"c / a = {ratios['c_over_a']:.2f} (target >= {targets['c_over_a']})",
        "the two workers' final weights and optimizer slots: "
        + ("identical" if results["workers_weights_max_difference"] == 0.0 else
           f"differ by up to {results['workers_weights_max_difference']:.3g}"),
        f"other load on the machine before / after: {percent(results['other_load_start'])}"
        f" / {percent(results['other_load_end'])}",
    ]
    return "\n".join(lines)
