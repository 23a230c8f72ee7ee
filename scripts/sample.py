#!/usr/bin/env python
"""Thin entry point: `python scripts/sample.py ARGS` is `keras-vcd sample ARGS`.

All logic lives in the library (keras_vcd.cli and the modules it calls); see
`keras-vcd sample --help` for the arguments.
"""

import sys

from keras_vcd.cli import main

if __name__ == "__main__":
    sys.exit(main(["sample", *sys.argv[1:]]))
