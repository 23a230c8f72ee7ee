"""`python -m keras_vcd.benchmark`: the benchmark's own command line."""

import argparse
import json

from keras_vcd.benchmark import distributed
from keras_vcd.benchmark.memory import memory_probe
from keras_vcd.benchmark.report import format_table
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
    parser.add_argument("--output", help="JSON results file (default: benchmark.json, "
                        "benchmark_distributed.json with --distributed)")
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
                              0 if args.quiet else 1)
    print(report)
    return 0


def run_benchmark(quick, distributed_setups, output, verbose):
    """Runs the speed benchmark or, if `distributed_setups`, the distributed one.

    Args:
        quick: fewer repeats and sizes.
        distributed_setups: run `distributed.run_distributed` instead.
        output: the JSON results file; None for the default of the benchmark run.
        verbose: 1 prints a line per measurement.

    Returns:
        `(results dict, report text)`.
    """
    if distributed_setups:
        results = distributed.run_distributed(
            iterations=60 if quick else 200, repeats=2 if quick else 3,
            output=output or "benchmark_distributed.json", verbose=verbose)
        return results, distributed.format_distributed(results)
    results = run(quick=quick, output=output or "benchmark.json", verbose=verbose)
    return results, format_table(results)
