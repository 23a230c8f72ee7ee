#!/usr/bin/env python
"""Thin entry point: `python scripts/evaluate.py ARGS` is `keras-vcd evaluate ARGS`.

All logic lives in the library (keras_vcd.cli and the modules it calls); see
`keras-vcd evaluate --help` for the arguments.
"""

import sys

from keras_vcd.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
