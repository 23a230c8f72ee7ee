"""`python -m keras_vcd.benchmark`: the benchmark's own command line."""

import argparse
import json

from keras_vcd.benchmark.memory import memory_probe
from keras_vcd.benchmark.report import format_table
from keras_vcd.benchmark.runner import run

DESCRIPTION = ("Speed benchmark: keras_vcd training and evaluation against tfp.mcmc and "
               "the machine.")


def main(argv=None):
    """`python -m keras_vcd.benchmark [--quick] [--output FILE] [--quiet]`.

    Also runs one memory probe (`--memory-probe SPEC`): `run_memory_probe` starts
    this command in a fresh process for each.

    Args:
        argv: the arguments; None reads `sys.argv`.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    parser.add_argument("--output", default="benchmark.json", help="JSON results file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--memory-probe", metavar="SPEC",
                        help="internal: run one memory measurement (JSON spec), print JSON")
    args = parser.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(json.loads(args.memory_probe))), flush=True)
        return 0
    results = run(quick=args.quick, output=args.output, verbose=0 if args.quiet else 1)
    print(format_table(results))
    return 0
