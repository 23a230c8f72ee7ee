"""The results of a run as JSON, and as Markdown tables (`format_table`)."""

import json

from keras_vcd.benchmark.machine import QUIET_THRESHOLD
from keras_vcd.benchmark.memory import probe_label

# Short names of the six sections, the keys of the results dict, in report order.
SECTIONS = ("training", "tfp_baseline", "machine_limit", "scaling", "evaluation", "memory")
SECTION_TITLES = {
    "training": "a. Training step: VCDModel.fit",
    "tfp_baseline": "b. The same step with tfp.mcmc.HamiltonianMonteCarlo",
    "machine_limit": "c. Machine limit",
    "scaling": "d. Scaling",
    "evaluation": "e. Evaluation throughput",
    "memory": "f. Peak memory",
}


def write_json(results, path):
    """Writes `results` to `path` as indented JSON."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)


def _loads(values):
    return "n/a" if values is None else ", ".join(f"{v:.2f}" for v in values)


def _g(flops):
    """FLOPs or FLOP/s in units of 10^9, 3 significant digits."""
    return f"{flops / 1e9:.3g}"


def percent(fraction):
    """A fraction as a whole percentage, or "unknown" for None.

    >>> percent(0.123), percent(None)
    ('12%', 'unknown')
    """
    return "unknown" if fraction is None else f"{fraction:.0%}"


def _ms(seconds):
    return f"{seconds * 1e3:.2f}"


def _us(seconds):
    return f"{seconds * 1e6:.1f}"


def _mib(num_bytes):
    return f"{num_bytes / 2**20:.0f}"


def markdown_table(header, rows):
    """A Markdown table.

    >>> print(markdown_table(["a", "b"], [[1, 2]]))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _heading(section, *intro):
    return [f"## {SECTION_TITLES[section]}", "", *intro, ""]


def _header(results):
    machine = results["machine"]
    settings = results["settings"]
    out = [
        "# keras_vcd speed benchmark" + (" (quick)" if results["quick"] else ""),
        "",
        f"{machine['cpu_count']} CPUs ({machine.get('cpu_model', machine['processor'])}), "
        f"{machine['platform']}; "
        f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, "
        f"TFP {machine['tensorflow_probability']}. {results['started_at']} to "
        f"{results['finished_at']}; load average (1, 5, 15 min) "
        f"{_loads(results['load_average_start'])} at the start, "
        f"{_loads(results['load_average_end'])} at the end; CPUs busy with other work "
        f"{percent(results.get('other_load_start'))} at the start, "
        f"{percent(results.get('other_load_end'))} at the end (2 s samples).",
        "",
    ]
    if any(load is not None and load > QUIET_THRESHOLD
           for load in (results.get("other_load_start"), results.get("other_load_end"))):
        out += [
            f"**Warning: other work used more than {QUIET_THRESHOLD:.0%} of the CPUs; "
            "the timings below are disturbed.**",
            "",
        ]
    out += [
        f"Paper configuration: batch {settings['batch_size']}, latent {settings['latent_dim']}, "
        f"MLPs {settings['hidden_units']}, {settings['num_steps']} HMC transitions x "
        f"{settings['num_leapfrog_steps']} leapfrog steps, objective vcd, synthetic "
        f"Bernoulli({settings['data_density']}) data of dimension {settings['input_dim']}.",
        "",
    ]
    return out


def _training(results):
    rows = [[kind, _ms(record["seconds_per_iteration"]), _us(record["seconds_per_example"]),
             f"{record['iterations_per_repeat']} x {record['repeats']}",
             f"{record['gflops_per_second']:.3g}"]
            for kind, record in results["training"].items()]
    return _heading("training", "Default `compile()` (XLA, steps_per_execution); median of "
                                "repeats after a warm-up fit.") + [
        markdown_table(["control variate", "ms / iteration", "us / example",
                        "iterations x repeats", "GFLOP/s"], rows), ""]


def _tfp_baseline(results):
    ours = results["training"]["global"]["seconds_per_iteration"]
    rows = [["keras_vcd `VCDModel.fit`", _ms(ours), "1.0x"]]
    names = {"tf_function": "tfp.mcmc in `tf.function`", "eager": "tfp.mcmc, eager"}
    for key, record in results["tfp_baseline"].items():
        rows.append([names.get(key, key), _ms(record["seconds_per_iteration"]),
                     f"{record['speedup_of_ours']:.1f}x"])
    return _heading("tfp_baseline", "Global control variate; same layers, losses and "
                                    "optimizers.") + [
        markdown_table(["implementation", "ms / iteration", "keras_vcd is faster by"], rows),
        ""]


def _machine_limit(results):
    limit = results["machine_limit"]
    flops = limit["flops_per_iteration"]
    out = _heading(
        "machine_limit",
        f"FLOPs per iteration {_g(flops['total'])} G (HMC {_g(flops['hmc'])}, encoder "
        f"{_g(flops['encoder'])}, decoder at z0 {_g(flops['decoder_z0'])}, decoder at "
        f"z_T {_g(flops['decoder_zt'])}); matrix product "
        f"{limit['matmul']['size']}^2 in tf.function.")
    out += [markdown_table(
        ["matmul GFLOP/s", "limit ms / iteration", "our ms / iteration", "ours / limit",
         "our GFLOP/s"],
        [[f"{limit['matmul_gflops_per_second']:.1f}", _ms(limit["limit_seconds_per_iteration"]),
          _ms(limit["our_seconds_per_iteration"]), f"{limit['ratio_to_limit']:.1f}",
          f"{limit['our_gflops_per_second']:.3g}"]]), ""]
    if "gradient_matmuls" in limit:
        shape = limit["gradient_matmuls"]
        out += [
            "The same FLOPs at the rate of the matrix products alone of a decoder gradient "
            f"at batch {shape['batch_size']} (forward and backward products chained in an "
            "XLA loop, nothing else), the limit at the shapes this model has:", "",
            markdown_table(["products GFLOP/s", "limit ms / iteration", "ours / that limit"],
                           [[f"{shape['flops_per_second'] / 1e9:.1f}",
                             _ms(limit["shape_limit_seconds_per_iteration"]),
                             f"{limit['ratio_to_shape_limit']:.2f}"]]), ""]
    return out


def _scaling(results):
    out = _heading("scaling", "One parameter varied from the paper's configuration; "
                              "global control variate.")
    for key, rows_in in results["scaling"].items():
        rows = [[row["value"], _ms(row["seconds_per_iteration"]),
                 _us(row["seconds_per_example"]), f"{row['ratio_to_limit']:.1f}",
                 f"{row['gflops_per_second']:.3g}"] for row in rows_in]
        out += [f"### {key}", "", markdown_table(
            [key, "ms / iteration", "us / example", "ours / limit", "GFLOP/s"], rows), ""]
    return out


def _evaluation(results):
    rows = []
    for method, record in results["evaluation"].items():
        share = (f"{record['proposal_flop_share']:.0%} / "
                 f"{record.get('proposal_time_share', 0.0):.0%}" if method == "hmc_is" else "-")
        rows.append([method, record["num_examples"], f"{record['num_samples']:,}",
                     f"{record['seconds']:.2f}", f"{record['samples_per_second']:.3g}",
                     f"{record['gflops_per_second']:.3g}",
                     f"{record['fraction_of_matmul_rate']:.1%}", share])
    return _heading("evaluation", "`keras_vcd.evaluation.log_likelihood`, after a warm-up "
                                  "call; one importance sample costs one decoder forward "
                                  "pass.") + [
        markdown_table(["method", "examples", "S", "seconds", "samples / s", "GFLOP/s",
                        "of matmul rate", "HMC proposal share (FLOPs / time)"], rows), ""]


def _memory(results):
    rows = []
    for record in results["memory"]:
        table_bytes = record.get("control_variate_bytes")
        rows.append([probe_label(record), _mib(record["max_rss_bytes"]),
                     _mib(record["max_rss_above_import_bytes"]),
                     f"{table_bytes / 2**20:.1f}" if table_bytes else "-"])
    return _heading("memory", "Max RSS of a fresh process per row (TensorFlow itself "
                              "included). Evaluation memory is bounded per chunk of "
                              "samples, independent of the number of examples.") + [
        markdown_table(["measurement", "max RSS (MiB)", "above TF import (MiB)",
                        "control variate table (MiB)"], rows), ""]


def _ratios(results):
    ratios = results["ratios"]
    return ["## Ratios", "", markdown_table(
        ["vs tfp.mcmc in tf.function", "vs tfp.mcmc eager", "ours / limit",
         "local / global"],
        [[f"{ratios['speedup_vs_tfp_tf_function']:.1f}x",
          f"{ratios['speedup_vs_tfp_eager']:.1f}x", f"{ratios['ratio_to_limit']:.1f}",
          f"{ratios['local_over_global']:.2f}"]]), ""]


_SECTION_FORMATTERS = {
    "training": _training,
    "tfp_baseline": _tfp_baseline,
    "machine_limit": _machine_limit,
    "scaling": _scaling,
    "evaluation": _evaluation,
    "memory": _memory,
}


def format_table(results):
    """The results of `run` as Markdown: a header, one table per section a-f, the ratios.

    Args:
        results: the dict `run` returns (or its JSON file, loaded).

    Returns:
        The Markdown text.

    Example (docs/benchmark.md is a full run's table):

    >>> import json
    >>> with open("docs/benchmark.json") as file:  # doctest: +SKIP
    ...     print(format_table(json.load(file)))
    # keras_vcd speed benchmark
    ...
    """
    out = _header(results)
    for section in SECTIONS:
        out += _SECTION_FORMATTERS[section](results)
    out += _ratios(results)
    return "\n".join(out)
