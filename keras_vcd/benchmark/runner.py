"""`run`: every section in turn, on one machine, into one results dict."""

import copy

from keras_vcd.benchmark import (
    flops,
    machine,
    report,
    scaling,
    tfp_baseline,
    throughput,
    training,
)
from keras_vcd.benchmark.memory import MemoryProbes
from keras_vcd.benchmark.settings import model_config, resolve_settings
from keras_vcd.benchmark.timing import Progress


def _start(quick, settings, tfp_version):
    """The results' opening keys: what was run, when, where, and how busy it was."""
    return {
        "benchmark": "keras_vcd",
        "quick": bool(quick),
        "started_at": machine.now(),
        "load_average_start": machine.load_average(),
        "other_load_start": machine.other_load(),
        "machine": machine.describe_machine(tfp_version),
        "settings": copy.deepcopy(settings),
    }


def _ratios(results):
    ours = results["training"]["global"]["seconds_per_iteration"]
    baseline = results["tfp_baseline"]
    return {
        "speedup_vs_tfp_tf_function": baseline["tf_function"]["seconds_per_iteration"] / ours,
        "speedup_vs_tfp_eager": baseline["eager"]["seconds_per_iteration"] / ours,
        "ratio_to_limit": ours / results["machine_limit"]["limit_seconds_per_iteration"],
        "local_over_global": results["training"]["local"]["seconds_per_iteration"] / ours,
    }


def _finish(results, progress):
    """The results' closing keys, taken after the last measurement."""
    results["finished_at"] = machine.now()
    results["load_average_end"] = machine.load_average()
    results["other_load_end"] = machine.other_load()
    results["wall_seconds"] = progress.elapsed()


def run(quick=False, output="benchmark.json", verbose=1, config=None, iterations=None,
        repeats=None):
    """Runs the whole benchmark (sections a to f) and writes the results as JSON.

    Args:
        quick: fewer iterations, repeats and sizes (see `default_settings`).
        output: path of the JSON file to write; None writes nothing.
        verbose: 1 prints a line per measurement, 0 is silent.
        config: dict overriding any of `default_settings(quick)` (e.g. tiny model
            sizes for a test).
        iterations, repeats: shortcuts for those two settings.

    Returns:
        The results dict: `machine`, `settings`, timestamps, the six sections
        (`SECTIONS`) and `ratios`.

    Raises:
        ValueError: `config` has a key that is not a setting.
        ImportError: TensorFlow Probability, the baseline of section b, is not
            installed (`pip install 'keras-vcd[bench]'`).

    Example (the command line runs the same thing: `keras-vcd bench --quick`):

    >>> results = run(quick=True, output="benchmark.json")  # doctest: +SKIP
    >>> results["ratios"]["speedup_vs_tfp_tf_function"]  # doctest: +SKIP
    4.2
    """
    settings = resolve_settings(quick, config, iterations, repeats)
    # Before anything is measured: without TFP, section b would fail minutes in.
    tfp_version = tfp_baseline.require_tfp().__version__
    # The model and data of every section: the paper's, unless `config` changes them.
    setup = model_config(settings)
    results = _start(quick, settings, tfp_version)
    progress = Progress(verbose)
    progress.log(f"machine: {results['machine']['cpu_count']} CPUs, "
                 f"TF {results['machine']['tensorflow']}, other load "
                 f"{report.percent(results['other_load_start'])}")

    probes = MemoryProbes(setup, settings["memory_probes"], settings["memory_probe_workers"])
    if settings["overlap_memory_probes"]:
        probes.start()
    # c's rates first: every other section is compared with them.
    rate, shape_rate = flops.measure_rates(setup, settings, progress)
    results["training"], model = training.measure_training(setup, settings, rate, progress)
    ours = results["training"]["global"]["seconds_per_iteration"]
    results["tfp_baseline"] = tfp_baseline.measure_baseline(setup, settings, rate, ours, progress)
    results["machine_limit"] = flops.machine_limit(setup, ours, rate, shape_rate, progress)
    results["scaling"] = scaling.measure_scaling(setup, settings, results["training"]["global"],
                                                 rate, progress)
    results["evaluation"] = throughput.measure_evaluation(model, setup, settings, rate, progress)
    # Fresh processes, run last so that they never overlap a timing (unless asked).
    results["memory"] = probes.records(progress)
    results["ratios"] = _ratios(results)
    _finish(results, progress)
    if output:
        report.write_json(results, output)
        progress.log(f"wrote {output}")
    return results
