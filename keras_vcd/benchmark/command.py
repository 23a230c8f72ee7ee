"""`python -m keras_vcd.benchmark`: the benchmark's own command line."""

import argparse
import json

from keras_vcd.benchmark import distributed, small_data
from keras_vcd.benchmark.memory import memory_probe
from keras_vcd.benchmark.report import format_table, write_json
from keras_vcd.benchmark.runner import run

DESCRIPTION = ("Speed benchmark: keras_vcd training and evaluation against tfp.mcmc and "
               "the machine.")


def main(argv=None):
    """`python -m keras_vcd.benchmark [--quick] [--distributed] [--output FILE] [--quiet]`.

    `--distributed` runs `distributed.run_distributed` instead of the speed benchmark.
    Also runs one memory probe (`--memory-probe SPEC`) or one distributed process
    (`--distributed-probe SPEC`): the benchmarks start this command in fresh processes
    for those.

    Args:
        argv: the arguments; None reads `sys.argv`.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    parser.add_argument("--distributed", action="store_true",
                        help="one core against two MultiWorkerMirroredStrategy workers")
    parser.add_argument("--small-data", action="store_true",
                        help="fit per iteration on 150 against 15,000 examples")
    parser.add_argument("--output", help="JSON results file (default: benchmark.json, "
                        "benchmark_distributed.json with --distributed, "
                        "benchmark_small_data.json with --small-data)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--memory-probe", metavar="SPEC",
                        help="internal: run one memory measurement (JSON spec), print JSON")
    parser.add_argument("--distributed-probe", metavar="SPEC",
                        help="internal: run one process of the distributed benchmark")
    args = parser.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(json.loads(args.memory_probe))), flush=True)
        return 0
    if args.distributed_probe:
        print(json.dumps(distributed.distributed_probe(json.loads(args.distributed_probe))),
              flush=True)
        return 0
    _, report = run_benchmark(args.quick, args.distributed, args.output,
                              0 if args.quiet else 1, args.small_data)
    print(report)
    return 0


def run_benchmark(quick, distributed_setups, output, verbose, small_data_sets=False):
    """Runs the speed benchmark, or the distributed or the small-data one.

    Args:
        quick: fewer repeats and sizes.
        distributed_setups: run `distributed.run_distributed` instead.
        small_data_sets: run `small_data.run_small_data` instead.
        output: the JSON results file; None for the default of the benchmark run.
        verbose: 1 prints a line per measurement.

    Returns:
        `(results dict, report text)`.
    """
    if small_data_sets:
        results = small_data.run_small_data(iterations=600 if quick else 3000,
                                            repeats=2 if quick else 3, verbose=verbose)
        write_json(results, output or "benchmark_small_data.json")
        return results, small_data.format_small_data(results)
    if distributed_setups:
        results = distributed.run_distributed(
            iterations=60 if quick else 200, repeats=2 if quick else 3,
            output=output or "benchmark_distributed.json", verbose=verbose)
        return results, distributed.format_distributed(results)
    results = run(quick=quick, output=output or "benchmark.json", verbose=verbose)
    return results, format_table(results)
